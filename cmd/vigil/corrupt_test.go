package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// storedEvents pages through the query API and returns the stored events'
// ids by event name.
func storedEvents(t *testing.T, server, token string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	cursor := ""
	for {
		q := url.Values{"limit": {"1000"}, "order": {"asc"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, _ := http.NewRequest("GET", server+"/audit/v1/events?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				Event   string `json:"event"`
				EventID string `json:"event_id"`
				Segment string `json:"segment"`
			} `json:"events"`
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("query: %d %v", resp.StatusCode, err)
		}
		for _, e := range page.Events {
			id := e.EventID
			if e.Event == "alert.log.corrupt" {
				id = e.Segment
			}
			out[e.Event] = append(out[e.Event], id)
		}
		if page.NextCursor == "" || len(page.Events) == 0 {
			return out
		}
		cursor = page.NextCursor
	}
}

// TestLogCorrupt_EndToEnd: events are acknowledged by vigil serve while
// its sink's receiver is down; the server stops, a bit flips in the middle
// of a sealed segment of its log, and the store is dropped so that it is
// rebuilt from the log. Started again, the server delivers every
// acknowledged event but the damaged frame's to the store and the sink,
// stores alert.log.corrupt naming the segment, and /readyz says the log
// is degraded there while it stays ready for ingest.
func TestLogCorrupt_EndToEnd(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	recv := newLineReceiver(t, nil)
	recv.down()
	config := filepath.Join(dir, "vigil.yaml")
	yaml := fmt.Sprintf("log:\n  file: {max_bytes: 64MiB, segment_bytes: 64KiB}\nsinks:\n  - {name: siem, tcp: {address: %q}}\n", recv.addr)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	devToken := addDevice(t, dataDir, "alice@example.com", "a")
	apiToken := addToken(t, dataDir, "admin", "ops")

	addr, _, stop := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	var acked []string
	for b := range 10 {
		var body strings.Builder
		var ids []string
		for i := range 100 {
			id := fmt.Sprintf("c-%02d-%03d", b, i)
			body.WriteString(crashEvent(id, b*100+i) + "\n")
			ids = append(ids, id)
		}
		res, status, err := post(http.DefaultClient, addr, devToken, []byte(body.String()))
		if err != nil || status != http.StatusAccepted || res.Accepted != len(ids) {
			t.Fatalf("post: %d %+v %v", status, res, err)
		}
		acked = append(acked, ids...)
	}
	stop()

	// Flip a bit in the middle of a sealed segment and find the record
	// whose frame holds it (doc.go of filelog has the format).
	logFiles, err := filepath.Glob(filepath.Join(logDir(dataDir), "*.seg"))
	if err != nil || len(logFiles) < 3 {
		t.Fatalf("%d segments (%v), want 3 or more", len(logFiles), err)
	}
	slices.Sort(logFiles)
	seg := logFiles[1]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	flip := int64(len(data) / 2)
	lost := ""
	for pos := int64(32); pos < int64(len(data)); {
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		if pos <= flip && flip < pos+8+n {
			body := data[pos+8 : pos+8+n]
			kl, k := binary.Uvarint(body[16:])
			rest := body[16+k+int(kl):]
			il, k := binary.Uvarint(rest)
			lost = string(rest[k : k+int(il)])
		}
		pos += 8 + n
	}
	if !slices.Contains(acked, lost) {
		t.Fatalf("the damaged frame holds %q, not one of the events posted", lost)
	}
	data[flip] ^= 0x04
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The store is rebuilt from the log.
	for _, p := range []string{filepath.Join(dataDir, duckDBName), filepath.Join(dataDir, duckDBName+".wal"), filepath.Join(logDir(dataDir), "offsets", "store.offset")} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}

	recv.up()
	addr, _, _ = startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	server := "http://" + addr
	want := slices.DeleteFunc(slices.Clone(acked), func(id string) bool { return id == lost })
	waitFor(t, "the sink to get every event kept", func() bool {
		ids, _ := recv.received()
		return len(ids) >= len(want)+1 // the events and the alert
	})
	var stored map[string][]string
	waitFor(t, "the store to have every event kept and the alert", func() bool {
		stored = storedEvents(t, server, apiToken)
		return len(stored["user.signin"]) >= len(want) && len(stored["alert.log.corrupt"]) > 0
	})
	signins := slices.Sorted(slices.Values(stored["user.signin"]))
	if !slices.Equal(signins, want) {
		t.Errorf("store: %d signins, want the %d acknowledged but %s", len(signins), len(want), lost)
	}
	if got := stored["alert.log.corrupt"]; len(got) != 1 || got[0] != filepath.Base(seg) {
		t.Errorf("alert.log.corrupt stored for %v, want once for %s", got, filepath.Base(seg))
	}
	ids, bad := recv.received()
	got := map[string]bool{}
	for _, id := range ids {
		got[id] = true
	}
	for _, id := range want {
		if !got[id] {
			t.Errorf("the sink did not get %s", id)
		}
	}
	if got[lost] || len(bad) > 0 {
		t.Errorf("the sink got the damaged frame's %s (%v) or bad lines %q", lost, got[lost], bad)
	}
	if _, err := os.Stat(seg + ".corrupt-" + fmt.Sprint(0)); err == nil {
		t.Errorf("the bytes were copied under the wrong position")
	}
	aside, _ := filepath.Glob(seg + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("copies of the damaged bytes: %v, want one", aside)
	}

	status, body := get(t, http.DefaultClient, server+"/readyz")
	var ready readyBody
	if err := json.Unmarshal([]byte(body), &ready); err != nil || status != http.StatusOK || ready.Status != stateDegraded {
		t.Fatalf("/readyz %d %s; want 200 and degraded", status, body)
	}
	i := slices.IndexFunc(ready.Components, func(c component) bool { return c.Name == "log" })
	if i < 0 || ready.Components[i].State != stateDegraded || !strings.Contains(ready.Components[i].Detail, filepath.Base(seg)) {
		t.Errorf("/readyz log component: %s; want degraded, naming %s", body, filepath.Base(seg))
	}
}
