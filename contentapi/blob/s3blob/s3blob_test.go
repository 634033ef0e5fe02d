package s3blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/blob/blobtest"
	"github.com/vigilaudit/vigil/contentapi/blob/s3blob"
	"github.com/vigilaudit/vigil/contentapi/blob/s3blob/s3test"
)

// storeConfig is a store of a new bucket on srv.
func storeConfig(srv *s3test.Server, bucket string) s3blob.Config {
	c := s3blob.Config{
		Endpoint:  srv.Endpoint,
		Bucket:    bucket,
		Region:    s3test.Region,
		Prefix:    "vigil/",
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		PathStyle: true,
	}
	c.SetDefaults()
	return c
}

func open(t *testing.T, c s3blob.Config) *s3blob.Store {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := s3blob.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_Conformance(t *testing.T) {
	srv := s3test.Start(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return open(t, storeConfig(srv, srv.Bucket()))
	})
}

// objects lists every object and incomplete upload in bucket.
func objects(t *testing.T, srv *s3test.Server, bucket string) (names, uploads []string) {
	t.Helper()
	ctx := context.Background()
	c := srv.Client()
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list objects: %v", o.Err)
		}
		names = append(names, o.Key)
	}
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list uploads: %v", u.Err)
		}
		uploads = append(uploads, u.Key)
	}
	return names, uploads
}

// TestPut_Layout: a blob is one object at PREFIX/blobs/ab/KEY and its
// temporary object is gone.
func TestPut_Layout(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket()
	s := open(t, storeConfig(srv, bucket))
	for _, size := range []int{10, 6 << 20} { // one request; multipart
		info, err := s.Put(context.Background(), bytes.NewReader(bytes.Repeat([]byte{byte(size)}, size)))
		if err != nil {
			t.Fatal(err)
		}
		names, uploads := objects(t, srv, bucket)
		want := "vigil/blobs/" + info.Key[:2] + "/" + info.Key
		found := false
		for _, n := range names {
			if strings.HasPrefix(n, "vigil/tmp/") {
				t.Errorf("temporary object %s left after a put", n)
			}
			found = found || n == want
		}
		if !found || len(uploads) != 0 {
			t.Errorf("after a put of %d bytes: objects %q, uploads %q; want %s among them and no uploads", size, names, uploads, want)
		}
	}
}

// failAfter returns n bytes, then err.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

// TestPut_FailureLeavesNoObject: a reader that fails in the first part,
// after it, or a context canceled mid-upload leave neither an object
// nor an incomplete multipart upload.
func TestPut_FailureLeavesNoObject(t *testing.T) {
	srv := s3test.Start(t)
	cut := errors.New("client went away")
	tests := []struct {
		name string
		n    int
	}{
		{"Small", 1000},
		{"FirstPart", 3 << 20},
		{"SecondPart", 5<<20 + 1<<20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket()
			c := storeConfig(srv, bucket)
			c.PartSize = s3blob.MinPartSize
			s := open(t, c)
			_, err := s.Put(context.Background(), &failAfter{n: tt.n, err: cut})
			if !errors.Is(err, cut) {
				t.Fatalf("put: %v; want the reader's error", err)
			}
			if names, uploads := objects(t, srv, bucket); len(names)+len(uploads) != 0 {
				t.Fatalf("after a failed put: objects %q, uploads %q", names, uploads)
			}
		})
	}
	t.Run("Canceled", func(t *testing.T) {
		bucket := srv.Bucket()
		c := storeConfig(srv, bucket)
		c.PartSize = s3blob.MinPartSize
		s := open(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		// The context ends once two parts went up.
		r := &cancelAfter{n: 2*s3blob.MinPartSize + 1000, cancel: cancel}
		_, err := s.Put(ctx, r)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("put: %v; want context.Canceled", err)
		}
		if names, uploads := objects(t, srv, bucket); len(names)+len(uploads) != 0 {
			t.Fatalf("after a canceled put: objects %q, uploads %q", names, uploads)
		}
	})
}

// cancelAfter returns zeros and cancels after n bytes.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	k := len(p)
	if c.n > 0 {
		k = min(k, c.n)
	}
	clear(p[:k])
	c.n -= k
	return k, nil
}

// pattern is an endless reproducible byte stream that costs no memory.
type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x*2654435761>>13) ^ byte(x)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// peakHeap samples the heap in use until stop is closed and returns the
// highest value seen above base.
func peakHeap(stop <-chan struct{}, base uint64) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base && m.HeapInuse-base > peak {
				peak = m.HeapInuse - base
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestPut_LargeBlobBoundedMemory: a 112 MiB blob goes up and comes back
// with the heap staying far below its size: one part (16 MiB) and the
// client's buffers, not the blob. The bytes come from and go to
// streams, so the test holds none of them either.
func TestPut_LargeBlobBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 224 MiB")
	}
	srv := s3test.Start(t)
	s := open(t, storeConfig(srv, srv.Bucket()))
	const size = 112 << 20
	const limit = 48 << 20 // a 16 MiB part, its copies in the client, slack

	want := sha256.New()
	if _, err := io.Copy(want, io.LimitReader(&pattern{}, size)); err != nil {
		t.Fatal(err)
	}
	wantKey := hex.EncodeToString(want.Sum(nil))

	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	stop := make(chan struct{})
	peak := peakHeap(stop, m.HeapInuse)
	info, err := s.Put(context.Background(), io.LimitReader(&pattern{}, size))
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	r, err := s.Open(context.Background(), info.Key)
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, r)
	r.Close()
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != wantKey || info.Size != size || n != size || hex.EncodeToString(got.Sum(nil)) != wantKey {
		t.Fatalf("put %+v, read %d bytes; want key %s, %d bytes", info, n, wantKey, size)
	}
	if p := <-peak; p > limit {
		t.Fatalf("heap grew by %d MiB during a %d MiB put and read; want at most %d MiB", p>>20, size>>20, limit>>20)
	} else {
		t.Logf("heap grew by at most %d MiB", p>>20)
	}
}

// TestStore_ServerGone: once the server is gone, every operation fails
// with ErrUnavailable (the content API's 503), promptly.
func TestStore_ServerGone(t *testing.T) {
	srv := s3test.Start(t)
	s := open(t, storeConfig(srv, srv.Bucket()))
	info, err := s.Put(context.Background(), strings.NewReader("before"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ops := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"Put":  func() error { _, err := s.Put(ctx, strings.NewReader("after")); return err },
		"Open": func() error {
			r, err := s.Open(ctx, info.Key)
			if err == nil {
				r.Close()
			}
			return err
		},
		"Delete": func() error { return s.Delete(ctx, info.Key) },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, blob.ErrUnavailable) {
			t.Errorf("%s with the server gone: %v; want ErrUnavailable", name, err)
		}
	}
}

// TestStore_WrongCredentials: a wrong secret key gives ErrUnavailable
// with a message that names the access key and the bucket, not the
// secret.
func TestStore_WrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket()
	tests := []struct {
		name   string
		change func(c *s3blob.Config)
		secret string
	}{
		{"WrongSecret", func(c *s3blob.Config) { c.SecretKey = "not-the-secret-0123456789" }, "not-the-secret-0123456789"},
		{"UnknownAccessKey", func(c *s3blob.Config) { c.AccessKey = "nobody" }, srv.SecretKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := storeConfig(srv, bucket)
			tt.change(&c)
			s := open(t, c)
			_, err := s.Put(context.Background(), strings.NewReader("x"))
			for _, err := range []error{err, s.Ping(context.Background())} {
				if !errors.Is(err, blob.ErrUnavailable) {
					t.Fatalf("with wrong credentials: %v; want ErrUnavailable", err)
				}
				msg := err.Error()
				if strings.Contains(msg, tt.secret) {
					t.Fatalf("error shows the secret key: %s", msg)
				}
				if !strings.Contains(msg, "refused access key") || !strings.Contains(msg, c.AccessKey) || !strings.Contains(msg, bucket) {
					t.Fatalf("error does not say the store refused the access key for the bucket: %s", msg)
				}
			}
		})
	}
}

// TestStore_NoBucket: Vigil does not create the bucket; a missing one
// is ErrUnavailable naming it.
func TestStore_NoBucket(t *testing.T) {
	srv := s3test.Start(t)
	s := open(t, storeConfig(srv, "vigil-missing"))
	_, err := s.Put(context.Background(), strings.NewReader("x"))
	for _, err := range []error{err, s.Ping(context.Background())} {
		if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), `bucket "vigil-missing" does not exist`) {
			t.Fatalf("missing bucket: %v; want ErrUnavailable saying it does not exist", err)
		}
	}
}

// TestNew_SecretKeyFile: the secret can come from a file, and New
// makes no network call: a store of a server that is not there is made
// without error.
func TestNew_SecretKeyFile(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket()
	c := storeConfig(srv, bucket)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(c.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.SecretKey, c.SecretKeyFile = "", file
	s := open(t, c)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}

	c.Endpoint = "http://127.0.0.1:1"
	if _, err := s3blob.New(c); err != nil {
		t.Fatalf("New with no server: %v", err)
	}
}

// TestRemoveStale: temporary objects and uploads a crashed Put left
// behind are removed once old enough, and blobs stay.
func TestRemoveStale(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket()
	s := open(t, storeConfig(srv, bucket))
	ctx := context.Background()
	info, err := s.Put(ctx, strings.NewReader("kept"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().PutObject(ctx, bucket, "vigil/tmp/crashed", strings.NewReader("half"), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RemoveStale(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveStale of nothing old enough: %d, %v", n, err)
	}
	if n, err := s.RemoveStale(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("RemoveStale: %d, %v; want 1", n, err)
	}
	names, _ := objects(t, srv, bucket)
	if want := "vigil/blobs/" + info.Key[:2] + "/" + info.Key; len(names) != 1 || names[0] != want {
		t.Fatalf("after RemoveStale: %q; want only %s", names, want)
	}
}

// TestStore_ConcurrentDistinct: puts of different blobs at once each
// land under their own key.
func TestStore_ConcurrentDistinct(t *testing.T) {
	srv := s3test.Start(t)
	s := open(t, storeConfig(srv, srv.Bucket()))
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			b := bytes.Repeat([]byte{byte(i)}, 1000*(i+1))
			info, err := s.Put(context.Background(), bytes.NewReader(b))
			if err != nil {
				t.Error(err)
				return
			}
			r, err := s.Open(context.Background(), info.Key)
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("blob %d read back %d bytes, %v", i, len(got), err)
			}
		})
	}
	wg.Wait()
}
