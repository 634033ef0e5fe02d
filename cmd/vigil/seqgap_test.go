package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_SeqGapAlert uploads a device's events with a gap in their
// sequence numbers, then the same batch again while the gap's alert is
// already recorded: the one alert.device.seq_gap reaches the store (it
// travels through the auth store's outbox, committed with the numbers,
// so a failed append of the batch cannot lose it).
func TestServe_SeqGapAlert(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	creds := map[string]string{}
	for name, args := range map[string]string{
		"device":  "device add --user a@example.com --name laptop",
		"auditor": "token add --role auditor --name reader",
	} {
		out, stderr, code := runVigil(t, append([]string{"admin", "--data-dir", dataDir}, strings.Fields(args)...)...)
		var v struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Token == "" {
			t.Fatalf("%s: %s %s", args, out, stderr)
		}
		creds[name] = v.Token
	}
	addr, _, _ := startServe(t, "--data-dir", dataDir, "--listen", "127.0.0.1:0")

	now := time.Now().UTC()
	var body strings.Builder
	for i, seq := range []int{1, 2, 5} {
		fmt.Fprintf(&body, `{"topic":"USER","event":"user.signin","timestamp":%q,"user":"u%d@example.com","authority":"LDAP","seq":%d}`+"\n",
			now.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i, seq)
	}
	for range 2 {
		if _, code, err := post(http.DefaultClient, addr, creds["device"], []byte(body.String())); err != nil || code != http.StatusAccepted {
			t.Fatalf("upload: %d %v", code, err)
		}
	}

	// The alert is in the store once the outbox is relayed and the store
	// group caught up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/audit/v1/events?topic=ALERT&since=1h", nil)
		req.Header.Set("Authorization", "Bearer "+creds["auditor"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []map[string]any `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("query: %d %v", resp.StatusCode, err)
		}
		// The gap itself, and the detection that turns it into an
		// alert (rule pipeline-seq-gap), each once.
		byName := map[string][]map[string]any{}
		for _, e := range page.Events {
			name, _ := e["event"].(string)
			byName[name] = append(byName[name], e)
		}
		gaps, raised := byName["alert.device.seq_gap"], byName["alert.raised"]
		if len(gaps) > 1 || len(raised) > 1 {
			t.Fatalf("%d gaps and %d raised alerts, want 1 each: %v", len(gaps), len(raised), page.Events)
		}
		if len(gaps) == 1 && len(raised) == 1 {
			e := gaps[0]
			if e["expected"] != float64(3) || e["got"] != float64(5) || e["user"] != "a@example.com" {
				t.Errorf("alert %v", e)
			}
			if r := raised[0]; r["rule"] != "pipeline-seq-gap" || r["evidence"] != e["event_id"] || r["user"] != "a@example.com" {
				t.Errorf("raised alert %v for gap %v", r, e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert.device.seq_gap and its raised alert in the store: %v", page.Events)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
