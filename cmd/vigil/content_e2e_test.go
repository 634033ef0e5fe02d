package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_ContentEventsInQuery walks the content API through the real
// vigil serve: a user added by the CLI signs in with POST /auth, changes
// their name and certifies a device, and vigil query finds each event
// with the user as its actor once the outbox relay and the store's
// consumer caught up.
func TestServe_ContentEventsInQuery(t *testing.T) {
	t.Setenv(tokenEnv, "")
	dataDir := filepath.Join(t.TempDir(), "data")
	const email, pw = "carol@example.com", "carol-pw-9fK2mQ"
	if code, out, stderr := runWithStdin(t, pw, "admin", "--data-dir", dataDir, "user", "add", "--email", email,
		"--first-name", "Carol", "--last-name", "Jones", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s %s", out, stderr)
	}
	out, stderr, code := runVigil(t, "admin", "--data-dir", dataDir, "token", "add", "--role", "auditor", "--name", "reader")
	var auditor struct{ Token string }
	if code != 0 || json.Unmarshal([]byte(out), &auditor) != nil || auditor.Token == "" {
		t.Fatalf("token add: %s %s", out, stderr)
	}
	addr, logs, _ := startServe(t, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	base := "http://" + addr

	call := func(method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	status, m := call("POST", "/auth", "", `{"username":"`+email+`","password":"`+pw+`"}`)
	tok, _ := m["token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("POST /auth: %d %v", status, m)
	}
	if status, m := call("PUT", "/api/v1.4/users/"+email, tok, `{"first_name":"Caroline"}`); status != 200 || m["first_name"] != "Caroline" {
		t.Fatalf("PUT user: %d %v", status, m)
	}
	status, m = call("POST", "/api/v1.4/devices", tok, `{"name":"carol-laptop","os_family":"Linux","os_name":"Debian 12"}`)
	certified, _ := m["id"].(string)
	if status != 201 || certified == "" {
		t.Fatalf("certify: %d %v", status, m)
	}

	// vigil query, as the auditor, until the three events are in the
	// store.
	want := []string{"user.signin", "user.update", "device.certify"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, stderr, code := runVigil(t, "query", "--server", base, "--token", auditor.Token, "--user", email,
			"--since", "1h", "--order", "asc", "--format", "ndjson")
		if code != 0 {
			t.Fatalf("query: %s", stderr)
		}
		got := map[string]map[string]any{}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("query line %q: %v", sc.Text(), err)
			}
			got[e["event"].(string)] = e
		}
		// Other events of the user (user.create by vigil admin) come
		// too: wait for each wanted one, not for a count.
		all := true
		for _, name := range want {
			all = all && got[name] != nil
		}
		if all {
			if e := got["user.signin"]; e == nil || e["user"] != email || e["authority"] != "Credential" || e["ip"] != "127.0.0.1" {
				t.Errorf("user.signin %v", e)
			}
			if e := got["user.update"]; e == nil || callerEmail2(e) != email || e["email"] != email {
				t.Errorf("user.update %v", e)
			}
			if e := got["device.certify"]; e == nil || callerEmail2(e) != email || e["user"] != email || e["device_name"] != "carol-laptop" || e["device_id"] != certified {
				t.Errorf("device.certify %v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vigil query found %d of %v: %s", len(got), want, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(logs.String(), pw) || strings.Contains(logs.String(), tok) {
		t.Errorf("the server's log holds a secret")
	}
}

// callerEmail2 is the email of an event's caller object.
func callerEmail2(e map[string]any) string {
	c, _ := e["caller"].(map[string]any)
	s, _ := c["email"].(string)
	return s
}
