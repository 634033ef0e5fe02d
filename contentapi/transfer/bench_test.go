package transfer

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// procKiB reads a kB line (VmRSS, VmHWM) of /proc/self/status; 0 where
// there is none.
func procKiB(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// rssMark resets the peak RSS and returns a function reporting the peak
// above the RSS at the mark, in MiB.
func rssMark(b *testing.B) func() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	idle := procKiB("VmRSS")
	return func() {
		if hwm := procKiB("VmHWM"); hwm > 0 {
			b.ReportMetric(float64(hwm-idle)/1024, "peak-rss-MiB-above-idle")
		}
	}
}

// BenchmarkTransfer moves a 256 MiB content over loopback: up through
// Receive, down through Serve, and down through a plain http.FileServer
// of the same bytes for comparison. MB/s is the throughput.
func BenchmarkTransfer(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	srv := newTestServerIn(b, dir)

	var key string
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(size)
		report := rssMark(b)
		for b.Loop() {
			req, _ := http.NewRequest("PUT", srv.URL+"/upload?owner=u&limit=-1", &gen{0, size})
			req.ContentLength = size
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			<-srv.puts
			if resp.StatusCode != 204 {
				b.Fatalf("upload: %d", resp.StatusCode)
			}
			key = strings.Trim(resp.Header.Get("ETag"), `"`)
		}
		report()
	})
	if key == "" {
		return
	}
	download := func(b *testing.B, url string, served bool) {
		b.SetBytes(size)
		report := rssMark(b)
		for b.Loop() {
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				b.Fatalf("download: %d bytes, %v", n, err)
			}
			if served {
				<-srv.served
			}
		}
		report()
	}
	b.Run("download", func(b *testing.B) { download(b, srv.URL+"/blob/"+key, true) })

	blobDir := filepath.Join(dir, "blobs", key[:2])
	fs := httptest.NewServer(http.FileServer(http.Dir(blobDir)))
	defer fs.Close()
	b.Run("fileserver-download", func(b *testing.B) { download(b, fs.URL+"/"+key, false) })
}
