package tree

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// gatedBlobs is a disk store whose Delete waits for the test: it says
// when a delete began on entered and goes on once release is closed.
type gatedBlobs struct {
	*diskblob.Store
	entered chan string
	release chan struct{}
}

func (g *gatedBlobs) Delete(ctx context.Context, key string) error {
	g.entered <- key
	<-g.release
	return g.Store.Delete(ctx, key)
}

// verify is the upload's Content.Verify: the blob is still stored.
func verify(store *diskblob.Store, key string) func(context.Context) error {
	return func(ctx context.Context) error {
		r, err := store.Open(ctx, key)
		if err != nil {
			return err
		}
		return r.Close()
	}
}

// TestBlobs_SweepRacesReference is the race of a blob's last reference
// going while an upload of the same bytes commits: the upload stored its
// blob (a no-op, the bytes being there) and takes its reference while
// the sweep deletes the blob. Whatever the order, no file may end up
// pointing at a blob the store lost.
func TestBlobs_SweepRacesReference(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		disk, err := diskblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		g := &gatedBlobs{Store: disk, entered: make(chan string, 1), release: make(chan struct{})}
		s, _ := newTree(t, b, g)
		me := Actor{User: alice, Device: app}
		put := func() Content {
			info, err := disk.Put(ctx, strings.NewReader("the same bytes"))
			if err != nil {
				t.Fatal(err)
			}
			return Content{Key: info.Key, Size: info.Size, ETag: info.Key, Verify: verify(disk, info.Key)}
		}
		f1, err := s.Create(ctx, me, File, Ref{Alias: AliasRoot}, "one", nil)
		if err != nil {
			t.Fatal(err)
		}
		f2, err := s.Create(ctx, me, File, Ref{Alias: AliasRoot}, "two", nil)
		if err != nil {
			t.Fatal(err)
		}
		c := put()
		if _, err := s.SetContent(ctx, me, Ref{ID: f1.ID}, c, nil); err != nil {
			t.Fatal(err)
		}

		// Deleting the one file that refers to the blob sweeps it; the
		// sweep stops inside the blob's delete.
		deleted := make(chan error, 1)
		go func() { deleted <- s.Delete(ctx, me, File, Ref{ID: f1.ID}, nil) }()
		if key := <-g.entered; key != c.Key {
			t.Fatalf("sweeping %s, want %s", key, c.Key)
		}
		// Meanwhile the same bytes are uploaded to the other file.
		c2 := put()
		set := make(chan error, 1)
		go func() {
			_, err := s.SetContent(ctx, me, Ref{ID: f2.ID}, c2, nil)
			set <- err
		}()
		// Without the sweep's lock the upload would commit now; give it
		// the chance, then let the delete go on.
		var setErr error
		done := false
		select {
		case setErr = <-set:
			done = true
		case <-time.After(200 * time.Millisecond):
		}
		close(g.release)
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if !done {
			setErr = <-set
		}
		if setErr != nil && !errors.Is(setErr, ErrBlobGone) {
			t.Fatalf("upload: %v", setErr)
		}
		v, err := s.Stat(ctx, me, Ref{ID: f2.ID}, File, PermRead, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case setErr == nil && v.ContentKey != c.Key:
			t.Errorf("upload committed but the file has key %q", v.ContentKey)
		case setErr != nil && v.ContentKey != "":
			t.Errorf("refused upload left key %q", v.ContentKey)
		}
		if v.ContentKey != "" {
			if err := verify(disk, v.ContentKey)(ctx); err != nil {
				t.Errorf("the file refers to a blob the store lost: %v", err)
			}
		}
	})
}

// TestBlobs_SweepLeftovers: a blob whose sweep failed stays counted at
// zero, and SweepBlobs deletes it later; Forget deletes an uploaded blob
// no file took, and leaves one a file refers to.
func TestBlobs_SweepLeftovers(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		disk, err := diskblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fail := &failingDelete{Store: disk, fail: true}
		s, _ := newTree(t, b, fail)
		me := Actor{User: alice, Device: app}
		f, err := s.Create(ctx, me, File, Ref{Alias: AliasRoot}, "a", nil)
		if err != nil {
			t.Fatal(err)
		}
		info, err := disk.Put(ctx, strings.NewReader("old"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetContent(ctx, me, Ref{ID: f.ID}, Content{Key: info.Key, Size: info.Size, ETag: info.Key}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetContent(ctx, me, Ref{ID: f.ID}, Content{}, nil); err != nil {
			t.Fatal(err)
		}
		if err := verify(disk, info.Key)(ctx); err != nil {
			t.Fatalf("the failed sweep lost the blob: %v", err)
		}
		fail.fail = false
		if n, err := s.SweepBlobs(ctx); n != 1 || err != nil {
			t.Errorf("SweepBlobs: %d, %v", n, err)
		}
		if err := verify(disk, info.Key)(ctx); err == nil {
			t.Error("SweepBlobs left the blob")
		}
		if n, err := s.SweepBlobs(ctx); n != 0 || err != nil {
			t.Errorf("second SweepBlobs: %d, %v", n, err)
		}

		kept, err := disk.Put(ctx, strings.NewReader("kept"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetContent(ctx, me, Ref{ID: f.ID}, Content{Key: kept.Key, Size: kept.Size, ETag: kept.Key}, nil); err != nil {
			t.Fatal(err)
		}
		stray, err := disk.Put(ctx, strings.NewReader("stray"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{kept.Key, stray.Key} {
			if err := s.Forget(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := verify(disk, kept.Key)(ctx); err != nil {
			t.Errorf("Forget deleted a referenced blob: %v", err)
		}
		if err := verify(disk, stray.Key)(ctx); err == nil {
			t.Error("Forget left the stray blob")
		}
	})
}

type failingDelete struct {
	*diskblob.Store
	fail bool
}

func (f *failingDelete) Delete(ctx context.Context, key string) error {
	if f.fail {
		return errors.New("store down")
	}
	return f.Store.Delete(ctx, key)
}
