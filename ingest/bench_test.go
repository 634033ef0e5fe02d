package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/internal/auth"
)

// BenchmarkIngestHTTP is ingest end to end on this machine: concurrent
// clients POST 1000-event NDJSON batches of ~580-byte file.transfer
// events over loopback HTTP; the server authenticates, normalizes,
// dedups and appends them to a real filelog (fsynced) before answering
// 202. It reports events/s and events/s per core of the process's CPU.
func BenchmarkIngestHTTP(b *testing.B) {
	dir := b.TempDir()
	store, err := auth.Open(filepath.Join(dir, "auth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	_, token, err := store.AddDevice(context.Background(), auth.LocalCaller, "bench@example.com", "bench")
	if err != nil {
		b.Fatal(err)
	}
	log, err := filelog.Open(filepath.Join(dir, "log"), filelog.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	q, err := OpenQuarantine(filepath.Join(dir, "q.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	in := New(log, q, Config{}, store, nil, nil)
	r := chi.NewRouter()
	mount(r, NewHandler(in, store), store)
	srv := httptest.NewServer(r)
	defer srv.Close()

	const batch = 1000
	var seq atomic.Int64
	body := func() []byte {
		var buf bytes.Buffer
		for range batch {
			n := seq.Add(1)
			fmt.Fprintf(&buf, `{"topic":"FILE","event":"file.transfer","timestamp":%d,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"%032x"},"event_time":"2016-03-30T21:18:19.044Z","operations":["META_REQUEST","CONTENT_REQUEST","CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"Engineering/Roadmaps/2016/Q2 planning/overview-final.pdf"},"destination_device":"b88a707bd70586f7a9f2dfc8fee2def5","destination_user":"bob.jones@example.com","seq":%d}`+"\n",
				1459372699123+n, n, n)
		}
		return buf.Bytes()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var cpu0 time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	cpu0 = processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			data := body()
			req, _ := http.NewRequest("POST", srv.URL+"/audit/v1/events", bytes.NewReader(data))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	events := float64(b.N * batch)
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(runtime.NumCPU()), "cores")
}
