package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/httpapi/httpapitest"
)

// TestRoutes_OpenAPI serves the route table, loads the OpenAPI document
// it serves at /openapi.json (without a credential), and checks real
// requests and answers of every API against it.
func TestRoutes_OpenAPI(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	recv := newLineReceiver(t, nil)
	config := filepath.Join(dir, "vigil.yaml")
	yaml := fmt.Sprintf("ingest: {max_body_bytes: 4KiB, max_event_bytes: 1KiB}\nsinks:\n  - {name: siem, tcp: {address: %q}}\n", recv.addr)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{}
	for _, c := range []struct{ name, args string }{
		{"device", "device add --user a@example.com --name laptop"},
		{"admin", "token add --role admin --name ops"},
		{"auditor", "token add --role auditor --name soc"},
	} {
		out, stderr, code := runVigil(t, append([]string{"admin", "--data-dir", dataDir}, strings.Fields(c.args)...)...)
		var v struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Token == "" {
			t.Fatalf("%s: %s %s", c.args, out, stderr)
		}
		creds[c.name] = v.Token
	}
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	base := "http://" + addr

	// do sends one request and returns it, its answer and both bodies.
	do := func(method, path, who, contentType, body string) (*http.Request, *http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if tok := creds[who]; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return req, resp, b
	}

	_, resp, data := do("GET", "/openapi.json", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, data)
	}
	doc := httpapitest.Load(t, data)
	for _, path := range []string{"/audit/v1/events", "/event", "/audit/event", "/audit/v1/quarantine", "/audit/v1/quarantine/replay",
		"/audit/v1/stats", "/audit/v1/events/stream", "/audit/v1/sinks", "/audit/v1/sinks/{name}", "/audit/v1/sinks/{name}/replay",
		"/audit/v1/sinks/{name}/deadletter", "/audit/v1/sinks/{name}/deadletter/replay", "/audit/v1/admin/devices",
		"/audit/v1/admin/devices/{id}", "/audit/v1/admin/tokens", "/audit/v1/admin/tokens/{name}", "/openapi.json",
		"/audit/v1/alerts", "/audit/v1/alerts/{id}", "/audit/v1/alerts/{id}/ack", "/audit/v1/alerts/{id}/resolve", "/audit/v1/alerts/{id}/dismiss",
		"/api/{version}/version"} {
		if doc.Doc.Paths.Find(path) == nil {
			t.Errorf("the OpenAPI document lacks %s", path)
		}
	}

	var deviceID string
	tests := []struct {
		name                        string
		method, path, who, ct, body string
		status                      int
		// malformed says the request is made not to match the document.
		malformed bool
		after     func(body []byte)
	}{
		{name: "BatchAccepted", method: "POST", path: "/audit/v1/events", who: "device", ct: "application/json",
			body: "[" + crashEvent("oa-1", 1) + "," + crashEvent("oa-2", 2) + "]", status: 202},
		{name: "BatchPartlyRejected", method: "POST", path: "/audit/v1/events", who: "device", ct: "application/json",
			body: "[" + crashEvent("oa-3", 3) + `,{"topic":"USER"}]`, status: 202},
		{name: "BatchMalformed", method: "POST", path: "/audit/v1/events", who: "device", ct: "application/json", body: `[{"topic":`, status: 400, malformed: true},
		{name: "BatchTooLarge", method: "POST", path: "/audit/v1/events", who: "device", ct: "application/json",
			body: "[" + strings.Repeat(crashEvent("oa-4", 4)+",", 40) + crashEvent("oa-5", 5) + "]", status: 413},
		{name: "BatchUnauthorized", method: "POST", path: "/audit/v1/events", ct: "application/json", body: "[]", status: 401},
		{name: "SingleEvent", method: "POST", path: "/event", who: "device", ct: "application/json", body: crashEvent("oa-6", 6), status: 200},
		{name: "SingleEventInvalid", method: "POST", path: "/audit/event", who: "device", ct: "application/json", body: `{"topic":"USER"}`, status: 400},
		{name: "Events", method: "GET", path: "/audit/v1/events?limit=10&order=asc", who: "admin", status: 200},
		{name: "EventsBadLimit", method: "GET", path: "/audit/v1/events?limit=0", who: "admin", status: 400},
		{name: "EventsUnauthorized", method: "GET", path: "/audit/v1/events", status: 401},
		{name: "EventsAsDevice", method: "GET", path: "/audit/v1/events", who: "device", status: 403},
		{name: "Stats", method: "GET", path: "/audit/v1/stats?bucket=1h&by=user&since=3650d", who: "admin", status: 200},
		{name: "Quarantine", method: "GET", path: "/audit/v1/quarantine?limit=10", who: "admin", status: 200},
		{name: "Sinks", method: "GET", path: "/audit/v1/sinks", who: "admin", status: 200},
		{name: "Sink", method: "GET", path: "/audit/v1/sinks/siem", who: "admin", status: 200},
		{name: "SinkUnknown", method: "GET", path: "/audit/v1/sinks/nope", who: "admin", status: 404},
		{name: "DeadLetter", method: "GET", path: "/audit/v1/sinks/siem/deadletter?limit=5", who: "admin", status: 200},
		{name: "DeviceAdd", method: "POST", path: "/audit/v1/admin/devices", who: "admin", ct: "application/json",
			body: `{"user":"b@example.com","name":"phone"}`, status: 201, after: func(b []byte) {
				var d struct {
					ID string `json:"device_id"`
				}
				_ = json.Unmarshal(b, &d)
				deviceID = d.ID
			}},
		{name: "DeviceAddInvalid", method: "POST", path: "/audit/v1/admin/devices", who: "admin", ct: "application/json",
			body: `{"user":"b","name":"phone"}`, status: 400},
		{name: "Devices", method: "GET", path: "/audit/v1/admin/devices", who: "admin", status: 200},
		{name: "Tokens", method: "GET", path: "/audit/v1/admin/tokens", who: "admin", status: 200},
		{name: "AdminUnauthorized", method: "GET", path: "/audit/v1/admin/devices", status: 401},
		{name: "Alerts", method: "GET", path: "/audit/v1/alerts?state=open&limit=10", who: "admin", status: 200},
		{name: "AlertsAsAuditor", method: "GET", path: "/audit/v1/alerts?since=24h", who: "auditor", status: 200},
		{name: "AlertsBadState", method: "GET", path: "/audit/v1/alerts?state=closed", who: "auditor", status: 400},
		{name: "AlertsAsDevice", method: "GET", path: "/audit/v1/alerts", who: "device", status: 403},
		{name: "AlertsUnauthorized", method: "GET", path: "/audit/v1/alerts", status: 401},
		{name: "AlertUnknown", method: "GET", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0", who: "auditor", status: 404},
		{name: "AlertAckUnknown", method: "POST", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0/ack", who: "admin", ct: "application/json",
			body: `{"assignee":"b@example.com"}`, status: 404},
		{name: "AlertAckAsAuditor", method: "POST", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0/ack", who: "auditor", ct: "application/json", body: `{}`, status: 403},
		{name: "AlertResolveAsDevice", method: "POST", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0/resolve", who: "device", ct: "application/json", body: `{}`, status: 403},
		{name: "AlertDismissUnauthorized", method: "POST", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0/dismiss", ct: "application/json", body: `{}`, status: 401},
		{name: "AlertResolveBadBody", method: "POST", path: "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0/resolve", who: "admin", ct: "application/json", body: `{"note":1}`, status: 400, malformed: true},
		{name: "ContentVersion", method: "GET", path: "/api/v1.4/version", status: 200},
		{name: "ContentVersionOld", method: "GET", path: "/api/v0.8/version?_=1", status: 200},
		{name: "ContentVersionUnknown", method: "GET", path: "/api/v1.5/version", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, resp, body := do(tt.method, tt.path, tt.who, tt.ct, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.malformed {
				doc.CheckAnswer(t, req, resp, body)
			} else {
				doc.Check(t, req, []byte(tt.body), resp, body)
			}
			if tt.after != nil {
				tt.after(body)
			}
		})
	}
	t.Run("DeviceRevoke", func(t *testing.T) {
		req, resp, body := do("DELETE", "/audit/v1/admin/devices/"+deviceID, "admin", "", "")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		doc.Check(t, req, nil, resp, body)
	})
	t.Run("ContentNoSuchRoute", func(t *testing.T) {
		for _, path := range []string{"/api/v1.4/nosuch", "/api/v9.9/version", "/api"} {
			_, resp, body := do("GET", path, "admin", "", "")
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(string(body), `{"type":"NOT_FOUND","message":`) {
				t.Errorf("GET %s: %d %s, want 404 NOT_FOUND in the content shape", path, resp.StatusCode, body)
			}
		}
	})
	t.Run("QuarantineReplay", func(t *testing.T) {
		in := []byte(`{"ids":[]}`)
		req, _ := http.NewRequest("POST", base+"/audit/v1/quarantine/replay", bytes.NewReader(in))
		req.Header.Set("Authorization", "Bearer "+creds["admin"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		doc.Check(t, req, in, resp, body)
	})
}
