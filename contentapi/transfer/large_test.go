package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// gen streams the bytes [off, end) of a deterministic content without
// holding it.
type gen struct{ off, end int64 }

func (g *gen) Read(p []byte) (int, error) {
	if g.off >= g.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.end-g.off)]
	for i := range p {
		x := g.off + int64(i)
		p[i] = byte(x) ^ byte(x>>12)
	}
	g.off += int64(len(p))
	return len(p), nil
}

// heapPeak samples the live heap until stopped and returns its peak
// above the heap when it started.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		if peak < base {
			return 0
		}
		return peak - base
	}
}

// A 1 GiB content goes up (plain and resumable) and down through bounded
// buffers: the heap never grows by more than a small bound, whatever the
// size.
func TestTransfer_OneGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB through the disk")
	}
	const size = 1 << 30
	const bound = 48 << 20
	ts := newTestServer(t)
	h := sha256.New()
	if _, err := io.Copy(h, &gen{0, size}); err != nil {
		t.Fatal(err)
	}
	wantKey := hex.EncodeToString(h.Sum(nil))

	t.Run("plain up, down", func(t *testing.T) {
		stop := heapPeak()
		req, err := http.NewRequest("PUT", ts.URL+"/upload?owner=u&limit=-1", &gen{0, size})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		<-ts.puts
		if resp.StatusCode != 204 || resp.Header.Get("ETag") != `"`+wantKey+`"` {
			t.Fatalf("upload: %d %s", resp.StatusCode, resp.Header.Get("ETag"))
		}
		got, err := http.Get(ts.URL + "/blob/" + wantKey)
		if err != nil {
			t.Fatal(err)
		}
		dh := sha256.New()
		n, err := io.Copy(dh, got.Body)
		got.Body.Close()
		if err != nil || n != size || hex.EncodeToString(dh.Sum(nil)) != wantKey {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		if s := <-ts.served; !s.Complete {
			t.Errorf("served %+v", s)
		}
		if peak := stop(); peak > bound {
			t.Errorf("heap grew by %d MiB, bound %d MiB", peak>>20, bound>>20)
		}
	})

	t.Run("resumable up", func(t *testing.T) {
		stop := heapPeak()
		const chunk = size / 4
		id := ""
		for off := int64(0); off < size; off += chunk {
			req, err := http.NewRequest("PUT", ts.URL+"/upload?owner=u&limit=-1", &gen{off, off + chunk})
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = chunk
			req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+chunk-1, size))
			if id != "" {
				req.Header.Set("Upload-ID", id)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			<-ts.puts
			id = resp.Header.Get("Upload-ID")
			last := off+chunk == size
			if (last && (resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("ETag"), wantKey))) || (!last && resp.StatusCode != 200) {
				t.Fatalf("chunk at %d: %d", off, resp.StatusCode)
			}
		}
		if peak := stop(); peak > bound {
			t.Errorf("heap grew by %d MiB, bound %d MiB", peak>>20, bound>>20)
		}
	})
}
