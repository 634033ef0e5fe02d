// Package blobtest is the conformance suite that every blob.Store runs.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/blob"
)

// Run runs the suite; open returns a new, empty store for each case.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", roundTrip},
		{"Empty", empty},
		{"Large", large},
		{"SameBytesSameKey", sameBytes},
		{"ReadAtAndSeek", readAtAndSeek},
		{"NotFound", notFound},
		{"Delete", deleteBlob},
		{"BadKey", badKey},
		{"FailedReaderKeepsNothing", failedReader},
		{"CanceledKeepsNothing", canceled},
		{"ConcurrentSameBytes", concurrentSame},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// key is the key of b.
func key(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// random returns n reproducible pseudo-random bytes.
func random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s blob.Store, b []byte) blob.Info {
	t.Helper()
	info, err := s.Put(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatalf("put %d bytes: %v", len(b), err)
	}
	if info.Key != key(b) || info.Size != int64(len(b)) {
		t.Fatalf("put %d bytes: got %+v; want key %s", len(b), info, key(b))
	}
	return info
}

// content reads the whole blob key.
func content(t *testing.T, s blob.Store, k string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatalf("open %s: %v", k, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", k, err)
	}
	if r.Size() != int64(len(b)) {
		t.Fatalf("blob %s: Size %d, read %d bytes", k, r.Size(), len(b))
	}
	return b
}

func roundTrip(t *testing.T, s blob.Store) {
	b := random(100_000, 1)
	info := put(t, s, b)
	if got := content(t, s, info.Key); !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes, differ from the %d put", len(got), len(b))
	}
}

func empty(t *testing.T, s blob.Store) {
	info := put(t, s, nil)
	if got := content(t, s, info.Key); len(got) != 0 {
		t.Fatalf("empty blob read back %d bytes", len(got))
	}
}

// large puts a blob bigger than any buffer an implementation would use,
// through a reader that hands out small pieces.
func large(t *testing.T, s blob.Store) {
	b := random(9<<20+123, 2)
	info, err := s.Put(context.Background(), io.LimitReader(&trickle{r: bytes.NewReader(b)}, int64(len(b))))
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != key(b) || info.Size != int64(len(b)) {
		t.Fatalf("got %+v; want %s, %d", info, key(b), len(b))
	}
	if got := content(t, s, info.Key); !bytes.Equal(got, b) {
		t.Fatal("large blob read back differs")
	}
}

// trickle reads at most 1000 bytes at a time.
type trickle struct{ r io.Reader }

func (t *trickle) Read(p []byte) (int, error) {
	if len(p) > 1000 {
		p = p[:1000]
	}
	return t.r.Read(p)
}

func sameBytes(t *testing.T, s blob.Store) {
	b := random(5000, 3)
	first, second := put(t, s, b), put(t, s, b)
	if first != second {
		t.Fatalf("two puts of the same bytes: %+v and %+v", first, second)
	}
	if got := content(t, s, first.Key); !bytes.Equal(got, b) {
		t.Fatal("read back differs")
	}
}

func readAtAndSeek(t *testing.T, s blob.Store) {
	b := random(70_000, 4)
	info := put(t, s, b)
	r, err := s.Open(context.Background(), info.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := make([]byte, 1000)
	if n, err := r.ReadAt(p, 65_000); n != len(p) || err != nil && err != io.EOF {
		t.Fatalf("ReadAt 65000: %d, %v", n, err)
	}
	if !bytes.Equal(p, b[65_000:66_000]) {
		t.Fatal("ReadAt 65000 read other bytes")
	}
	if n, err := r.ReadAt(p, 69_500); n != 500 || err != io.EOF {
		t.Fatalf("ReadAt over the end: %d, %v; want 500, EOF", n, err)
	}
	if off, err := r.Seek(-100, io.SeekEnd); off != 69_900 || err != nil {
		t.Fatalf("Seek -100 from the end: %d, %v", off, err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, b[69_900:]) {
		t.Fatalf("read after Seek: %d bytes, %v", len(rest), err)
	}
	if off, err := r.Seek(10, io.SeekStart); off != 10 || err != nil {
		t.Fatalf("Seek 10: %d, %v", off, err)
	}
	if _, err := io.ReadFull(r, p[:10]); err != nil || !bytes.Equal(p[:10], b[10:20]) {
		t.Fatalf("read after Seek 10: %v", err)
	}
}

func notFound(t *testing.T, s blob.Store) {
	_, err := s.Open(context.Background(), key([]byte("never stored")))
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open of an unknown key: %v; want ErrNotFound", err)
	}
}

func deleteBlob(t *testing.T, s blob.Store) {
	ctx := context.Background()
	info := put(t, s, random(3000, 5))
	other := put(t, s, random(3000, 6))
	if err := s.Delete(ctx, info.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, info.Key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open after delete: %v; want ErrNotFound", err)
	}
	if err := s.Delete(ctx, info.Key); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	content(t, s, other.Key)
}

func badKey(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, k := range []string{"", "../../etc/passwd", key(nil)[:63], "ABCDEF" + key(nil)[6:], key(nil) + "0"} {
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("open %q: %v; want ErrBadKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("delete %q: %v; want ErrBadKey", k, err)
		}
	}
}

// failing returns its bytes, then an error.
type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func failedReader(t *testing.T, s blob.Store) {
	b := random(200_000, 7)
	cut := errors.New("client went away")
	if _, err := s.Put(context.Background(), &failing{r: bytes.NewReader(b[:150_000]), err: cut}); !errors.Is(err, cut) {
		t.Fatalf("put from a failing reader: %v; want its error", err)
	}
	for _, k := range []string{key(b[:150_000]), key(b)} {
		if _, err := s.Open(context.Background(), k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("open after a failed put: %v; want ErrNotFound", err)
		}
	}
	// The store still works.
	put(t, s, b)
}

// blocking returns n bytes, then blocks until its context ends.
type blocking struct {
	ctx  context.Context
	left int
}

func (b *blocking) Read(p []byte) (int, error) {
	if b.left == 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	n := min(len(p), b.left)
	clear(p[:n])
	b.left -= n
	return n, nil
}

func canceled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, &blocking{ctx: ctx, left: 64 << 10})
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("put with a canceled context returned no error")
	}
	if _, err := s.Open(context.Background(), key(make([]byte, 64<<10))); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open after a canceled put: %v; want ErrNotFound", err)
	}
}

func concurrentSame(t *testing.T, s blob.Store) {
	b := random(300_000, 8)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			info, err := s.Put(context.Background(), bytes.NewReader(b))
			if err == nil && info.Key != key(b) {
				err = errors.New("wrong key " + info.Key)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := content(t, s, key(b)); !bytes.Equal(got, b) {
		t.Fatal("read back differs after concurrent puts")
	}
}
