package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/dashboards/alerts"
)

// massDownload returns the ndjson of n completed downloads by
// bob@example.com of distinct files, from the first-th on, at t.
func massDownload(first, n int, at time.Time) []byte {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		ts := at.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		fmt.Fprintf(&b, `{"topic":"FILE","event":"file.transfer","timestamp":%q,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"%032x"},`+
			`"event_time":%q,"operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e",`+
			`"path":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","relative_path":"f%d.pdf"},"destination_device":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","destination_user":"bob@example.com"}`+"\n",
			ts, i+1, ts, i)
	}
	return []byte(b.String())
}

// addCreds adds a device and an admin token to dataDir.
func addCreds(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	creds := map[string]string{}
	for name, args := range map[string]string{
		"device": "device add --user a@example.com --name laptop",
		"admin":  "token add --role admin --name ops",
	} {
		out, stderr, code := runVigil(t, append([]string{"admin", "--data-dir", dataDir}, strings.Fields(args)...)...)
		var v struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Token == "" {
			t.Fatalf("%s: %s %s", args, out, stderr)
		}
		creds[name] = v.Token
	}
	return creds
}

// cliAlerts lists the server's alerts with vigil admin alerts list.
func cliAlerts(t *testing.T, addr, token string, args ...string) []alerts.Alert {
	t.Helper()
	out, stderr, code := runVigil(t, append([]string{"admin", "alerts", "list", "--server", "http://" + addr, "--token", token, "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("alerts list: %s", stderr)
	}
	var page alerts.Page
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("alerts list: %v: %s", err, out)
	}
	return page.Alerts
}

// waitAlerts waits until the server lists want alerts of rule and
// returns them.
func waitAlerts(t *testing.T, addr, token, rule string, want int) []alerts.Alert {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := cliAlerts(t, addr, token, "--rule", rule)
		if len(got) > want {
			t.Fatalf("%d alerts of %s, want %d: %+v", len(got), rule, want, got)
		}
		if len(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts of %s after 30s, want %d", len(got), rule, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queryALERT returns the ALERT events of vigil query, by name.
func queryALERT(t *testing.T, addr, token string) map[string][]map[string]any {
	t.Helper()
	out, stderr, code := runVigil(t, "query", "--server", "http://"+addr, "--token", token, "--topic", "ALERT", "--since", "3650d", "--format", "ndjson")
	if code != 0 {
		t.Fatalf("query: %s", stderr)
	}
	byName := map[string][]map[string]any{}
	for line := range strings.Lines(out) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("query line %q: %v", line, err)
		}
		name, _ := e["event"].(string)
		byName[name] = append(byName[name], e)
	}
	return byName
}

func apiJSON(t *testing.T, method, url, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestAlerts_EndToEnd: the events of a mass download posted to ingest
// raise one alert, listed by vigil admin alerts list and GET
// /audit/v1/alerts, stored (vigil query --topic ALERT) and forwarded to a
// TCP sink; acknowledging it through the API and resolving it with the
// CLI are alert.state events in the store.
func TestAlerts_EndToEnd(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	recv := newLineReceiver(t, nil)
	config := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "sinks:\n  - {name: siem, tcp: {address: %q, settle: 100ms}}\n", recv.addr), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := addCreds(t, dataDir)
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")

	at := time.Now().UTC().Add(-10 * time.Minute)
	if res, code, err := post(http.DefaultClient, addr, creds["device"], massDownload(0, 101, at)); err != nil || code != http.StatusAccepted || res.Accepted != 101 {
		t.Fatalf("upload: %d %+v %v", code, res, err)
	}
	a := waitAlerts(t, addr, creds["admin"], "mass-download", 1)[0]
	if a.State != alerts.Open || a.User != "bob@example.com" || a.Count != 101 || a.Severity != "high" {
		t.Errorf("alert %+v", a)
	}

	var page alerts.Page
	if code := apiJSON(t, "GET", "http://"+addr+"/audit/v1/alerts?state=open&user=bob@example.com", creds["admin"], "", &page); code != 200 ||
		len(page.Alerts) != 1 || page.Alerts[0].ID != a.ID {
		t.Errorf("GET /audit/v1/alerts: %d %+v, want %s", code, page, a.ID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		raised := queryALERT(t, addr, creds["admin"])["alert.raised"]
		ids, _ := recv.received()
		stored := slices.ContainsFunc(raised, func(e map[string]any) bool { return e["event_id"] == a.ID })
		if stored && slices.Contains(ids, a.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s: in the store %v, at the sink %v", a.ID, stored, slices.Contains(ids, a.ID))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Acknowledge through the API, resolve with the CLI.
	var acked alerts.Alert
	if code := apiJSON(t, "POST", "http://"+addr+"/audit/v1/alerts/"+a.ID+"/ack", creds["admin"], `{"assignee":"carol@example.com","note":"on it"}`, &acked); code != 200 ||
		acked.State != alerts.Acknowledged || acked.Assignee != "carol@example.com" || acked.ChangedBy != ":token:ops" {
		t.Fatalf("ack: %d %+v", code, acked)
	}
	if _, stderr, code := runVigil(t, "admin", "alerts", "resolve", a.ID, "--server", "http://"+addr, "--token", creds["admin"],
		"--reason", "handover", "--assignee", "carol@example.com"); code != 0 {
		t.Fatalf("resolve: %s", stderr)
	}
	if code := apiJSON(t, "POST", "http://"+addr+"/audit/v1/alerts/"+a.ID+"/ack", creds["admin"], `{}`, nil); code != http.StatusConflict {
		t.Errorf("ack of a resolved alert: %d, want 409", code)
	}
	if got := cliAlerts(t, addr, creds["admin"], "--state", "resolved"); len(got) != 1 || got[0].ID != a.ID || got[0].Reason != "handover" {
		t.Errorf("resolved alerts %+v", got)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		var states []string
		for _, e := range queryALERT(t, addr, creds["admin"])["alert.state"] {
			if e["alert_id"] == a.ID {
				states = append(states, fmt.Sprint(e["state"]))
			}
		}
		slices.Sort(states)
		if slices.Equal(states, []string{alerts.Acknowledged, alerts.Resolved}) {
			break
		}
		if len(states) > 2 || time.Now().After(deadline) {
			t.Fatalf("alert.state events of %s: %v, want acknowledged and resolved", a.ID, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAlerts_Kill9MidWindow kills vigil serve after part of a mass
// download, restarts it and posts the rest: exactly one alert.
func TestAlerts_Kill9MidWindow(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	creds := addCreds(t, dataDir)
	at := time.Now().UTC().Add(-10 * time.Minute)

	p := startServer(t, bin, dataDir)
	if _, code, err := post(http.DefaultClient, p.addr, creds["device"], massDownload(0, 60, at)); err != nil || code != http.StatusAccepted {
		p.kill()
		t.Fatalf("upload: %d %v", code, err)
	}
	// Let the detector see part of the batch (or all of it) before the kill.
	time.Sleep(300 * time.Millisecond)
	p.kill()

	p = startServer(t, bin, dataDir)
	defer p.stop()
	if _, code, err := post(http.DefaultClient, p.addr, creds["device"], massDownload(60, 41, at)); err != nil || code != http.StatusAccepted {
		t.Fatalf("upload: %d %v", code, err)
	}
	a := waitAlerts(t, p.addr, creds["admin"], "mass-download", 1)[0]
	if a.Count != 101 {
		t.Errorf("alert count %d, want 101: %+v", a.Count, a)
	}
	// A second copy would come from a replay of the log after the
	// restart: give the store time to hold everything, then count.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		for _, e := range queryALERT(t, p.addr, creds["admin"])["alert.raised"] {
			if e["rule"] == "mass-download" {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d mass-download alerts in the store, want 1", n)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no mass-download alert in the store")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := cliAlerts(t, p.addr, creds["admin"], "--rule", "mass-download"); len(got) != 1 {
		t.Errorf("%d alerts listed after the restart, want 1", len(got))
	}
}
