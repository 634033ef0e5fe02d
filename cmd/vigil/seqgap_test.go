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
		if len(page.Events) > 0 {
			if len(page.Events) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(page.Events), page.Events)
			}
			e := page.Events[0]
			if e["event"] != "alert.device.seq_gap" || e["expected"] != float64(3) || e["got"] != float64(5) || e["user"] != "a@example.com" {
				t.Errorf("alert %v", e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert.device.seq_gap in the store")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
