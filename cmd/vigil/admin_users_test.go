package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

// testHasher hashes passwords at a cost that keeps the tests fast.
func testHasher() *password.Hasher {
	return password.New(password.Config{Memory: 64 << 10, Iterations: 1, Parallelism: 1})
}

// runWithStdin runs the command line with stdin and returns its exit
// code and output.
func runWithStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut}
	root := newRootCmd(a)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(&errOut, "vigil: %v\n", err)
		return 1, out.String(), errOut.String()
	}
	return 0, out.String(), errOut.String()
}

// TestAdminUser walks through the user commands in both modes, checking
// each command's event.
func TestAdminUser(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	events := func() []string {
		t.Helper()
		var out []string
		if _, err := f.store.DrainOutbox(ctx, func(e *schema.Event) error {
			var m map[string]any
			if err := json.Unmarshal(e.Wire(), &m); err != nil {
				return err
			}
			delete(m, "timestamp")
			delete(m, "event_id")
			b, _ := json.Marshal(m)
			out = append(out, string(b))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const pw = "cli-Pw-39xQ"
	for _, m := range f.modes() {
		t.Run(m.name, func(t *testing.T) {
			email := strings.ToLower(m.name) + "@example.com"
			args := append(append([]string(nil), m.args...), "user", "add", "--email", strings.ToUpper(email[:1])+email[1:],
				"--first-name", "Dee", "--last-name", "Ell", "--admin", "--password-stdin")
			code, out, stderr := runWithStdin(t, pw+"\n", args...)
			if code != 0 {
				t.Fatalf("user add: %d %s", code, stderr)
			}
			var u auth.User
			if err := json.Unmarshal([]byte(out), &u); err != nil || u.Email != email || u.Level != auth.LevelAdmin || !u.HasPassword || u.FirstName != "Dee" {
				t.Errorf("user add printed %s", out)
			}
			if strings.Contains(out+stderr, pw) {
				t.Error("user add printed the password")
			}
			want := []string{
				`{"caller":` + m.caller + `,"email":"` + email + `","event":"user.create","topic":"USER"}`,
				`{"admin_user":"` + callerEmail(m.caller) + `","event":"user.org.authorization","new_level":"ADMIN","target_user":"` + email + `","topic":"USER"}`,
			}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("user add events (-want +got):\n%s", diff)
			}
			// The password signs in.
			_, hash, err := f.store.PasswordHash(ctx, email)
			if ok, err2 := password.Verify(pw, hash); err != nil || err2 != nil || !ok {
				t.Errorf("the stored hash does not check the password: %v %v %v", ok, err, err2)
			}
			// Again: 409.
			if code, _, stderr := runWithStdin(t, pw, args...); code == 0 || !strings.Contains(stderr, "exists") {
				t.Errorf("user add twice: %d %s", code, stderr)
			}
			// Without --password-stdin, or without a password.
			if code, _, _ := runWithStdin(t, pw, append(append([]string(nil), m.args...), "user", "add", "--email", "x@example.com")...); code == 0 {
				t.Error("user add without --password-stdin succeeded")
			}
			if code, _, _ := runWithStdin(t, "", append(append([]string(nil), m.args...), "user", "add", "--email", "x@example.com", "--password-stdin")...); code == 0 {
				t.Error("user add with an empty stdin succeeded")
			}

			out, _ = m.run(t, "user", "list")
			if row := findLine(strings.Split(out, "\n"), email); !strings.HasPrefix(out, "EMAIL") || !strings.Contains(row, "ADMIN") || !strings.Contains(row, "yes") {
				t.Errorf("user list:\n%s", out)
			}
			out, _ = m.run(t, "user", "list", "--format", "json")
			var listed struct{ Users []auth.User }
			if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Users) == 0 {
				t.Errorf("user list --format json: %v %s", err, out)
			}

			_, msg := m.run(t, "user", "set-level", email, "user")
			if !strings.Contains(msg, "is now USER") {
				t.Errorf("set-level said %q", msg)
			}
			want = []string{`{"admin_user":"` + callerEmail(m.caller) + `","event":"user.org.authorization","new_level":"USER","target_user":"` + email + `","topic":"USER"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("set-level events (-want +got):\n%s", diff)
			}

			_, msg = m.run(t, "user", "set-role", email, "Auditor")
			if !strings.Contains(msg, "now has auditor") {
				t.Errorf("set-role said %q", msg)
			}
			want = []string{`{"caller":` + m.caller + `,"event":"audit.user.role","old_role":"none","role":"auditor","topic":"AUDIT","user":"` + email + `"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("set-role events (-want +got):\n%s", diff)
			}
			out, _ = m.run(t, "user", "list")
			if row := findLine(strings.Split(out, "\n"), email); !strings.Contains(out, "ROLE") || !strings.Contains(row, "auditor") {
				t.Errorf("user list after set-role:\n%s", out)
			}
			if code, _, stderr := runCmd(t, append(append([]string(nil), m.args...), "user", "set-role", email, "admin")...); code == 0 || !strings.Contains(stderr, "set-level") {
				t.Errorf("set-role admin: %d %s", code, stderr)
			}
			_, msg = m.run(t, "user", "set-role", email, "none")
			if !strings.Contains(msg, "now has no audit role") {
				t.Errorf("set-role none said %q", msg)
			}
			want = []string{`{"caller":` + m.caller + `,"event":"audit.user.role","old_role":"auditor","role":"none","topic":"AUDIT","user":"` + email + `"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("set-role none events (-want +got):\n%s", diff)
			}

			_, msg = m.run(t, "user", "remove", email)
			if !strings.Contains(msg, "Removed user "+email) {
				t.Errorf("remove said %q", msg)
			}
			want = []string{`{"delete":` + m.caller + `,"email":"` + email + `","event":"user.delete","topic":"USER"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("remove events (-want +got):\n%s", diff)
			}
			if code, _, stderr := runCmd(t, append(append([]string(nil), m.args...), "user", "remove", email)...); code == 0 || !strings.Contains(stderr, "not found") {
				t.Errorf("remove twice: %d %s", code, stderr)
			}
		})
	}
}

// callerEmail is the email of a caller object's JSON.
func callerEmail(caller string) string {
	var c struct{ Email string }
	_ = json.Unmarshal([]byte(caller), &c)
	return c.Email
}
