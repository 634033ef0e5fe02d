package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/sinks"
)

// addDevice registers a device of user on the data directory with vigil
// admin device add and returns its token.
func addDevice(t *testing.T, dataDir, user, name string) string {
	t.Helper()
	out, stderr, code := runVigil(t, "admin", "device", "add", "--data-dir", dataDir, "--user", user, "--name", name)
	var dev struct{ Token string }
	if code != 0 || json.Unmarshal([]byte(out), &dev) != nil {
		t.Fatalf("device add: %s %s", out, stderr)
	}
	return dev.Token
}

// addToken creates an API token with role on the data directory with
// vigil admin token add and returns it.
func addToken(t *testing.T, dataDir, role, name string) string {
	t.Helper()
	out, stderr, code := runVigil(t, "admin", "token", "add", "--data-dir", dataDir, "--role", role, "--name", name)
	var tok struct{ Token string }
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil {
		t.Fatalf("token add: %s %s", out, stderr)
	}
	return tok.Token
}

// adminMode is one way of running the admin commands: on the data
// directory, or through a server.
type adminMode struct {
	name string
	// args come before the admin subcommand.
	args []string
	// caller is what the audit events record.
	caller string
}

// adminFixture is a data directory with its store open, as a running
// server has it, and an httptest server serving its admin API behind the
// middleware, as serve mounts it.
type adminFixture struct {
	dataDir string
	store   *auth.Store
	url     string
	token   string // an admin token named ops
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	t.Setenv(tokenEnv, "") // only what a test sets
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := auth.Open(authDBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_, token, err := s.AddToken(context.Background(), auth.LocalCaller, auth.RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DrainOutbox(context.Background(), func(*schema.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	mountRoutes(r, auth.AdminRoutes(s, testHasher().Hash), nil, s)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &adminFixture{dataDir: dir, store: s, url: srv.URL, token: token}
}

func (f *adminFixture) modes() []adminMode {
	return []adminMode{
		{name: "DataDir", args: []string{"admin", "--data-dir", f.dataDir}, caller: `{"email":":local"}`},
		{name: "Server", args: []string{"admin", "--server", f.url, "--token", f.token}, caller: `{"email":":token:ops"}`},
	}
}

// admin runs an admin command in mode and fails the test unless it
// succeeds.
func (m adminMode) run(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, append(append([]string(nil), m.args...), args...)...)
	if code != 0 {
		t.Fatalf("%s: exit code %d, stderr:\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// TestAdmin walks through the commands in both modes: the same commands
// on the data directory and through a running server.
func TestAdmin(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	for _, m := range f.modes() {
		t.Run(m.name, func(t *testing.T) {
			// device add prints the device and its token as JSON, and a
			// message on stderr.
			out, msg := m.run(t, "device", "add", "--user", "Alice@Example.com", "--name", "laptop-"+m.name)
			var added struct {
				DeviceID string `json:"device_id"`
				User     string `json:"user"`
				Name     string `json:"name"`
				Token    string `json:"token"`
			}
			if err := json.Unmarshal([]byte(out), &added); err != nil {
				t.Fatalf("device add output is not JSON: %v\n%s", err, out)
			}
			if added.User != "alice@example.com" || added.Name != "laptop-"+m.name || len(added.DeviceID) != 32 || len(added.Token) != 64 {
				t.Errorf("device add printed %+v", added)
			}
			if !strings.Contains(msg, "only this once") || strings.Contains(msg, added.Token) {
				t.Errorf("device add message %q", msg)
			}
			p, err := f.store.Authenticate(ctx, added.Token)
			if err != nil || p.DeviceID != added.DeviceID {
				t.Fatalf("the printed device token does not authenticate: %+v, %v", p, err)
			}
			if _, err := f.store.ObserveSeq(ctx, added.DeviceID, []int64{1, 2, 5}); err != nil {
				t.Fatal(err)
			}

			// device list: a table with the sequence columns, or JSON.
			out, _ = m.run(t, "device", "list")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if !strings.Contains(lines[0], "LAST SEQ") || !strings.Contains(lines[0], "GAPS") {
				t.Errorf("device list header %q lacks LAST SEQ and GAPS", lines[0])
			}
			row := findLine(lines, added.DeviceID)
			if fields := strings.Fields(row); len(fields) != 8 || fields[5] != "5" || fields[6] != "1" || fields[7] != "-" {
				t.Errorf("device list row %q: want LAST SEQ 5, GAPS 1, not revoked", row)
			}
			out, _ = m.run(t, "device", "list", "--format", "json")
			var listed struct{ Devices []auth.Device }
			if err := json.Unmarshal([]byte(out), &listed); err != nil {
				t.Fatalf("device list --format json: %v\n%s", err, out)
			}
			if d := findDevice(listed.Devices, added.DeviceID); d == nil || d.LastSeq != 5 || d.SeqGaps != 1 || d.LastSeen == nil {
				t.Errorf("device list --format json: device %+v", d)
			}

			// device revoke: nothing on stdout; the token stops working.
			out, msg = m.run(t, "device", "revoke", added.DeviceID)
			if out != "" || !strings.Contains(msg, "Revoked device "+added.DeviceID) {
				t.Errorf("device revoke printed %q, %q", out, msg)
			}
			if _, err := f.store.Authenticate(ctx, added.Token); !errors.Is(err, auth.ErrRevoked) {
				t.Errorf("Authenticate after revoke = %v, want ErrRevoked", err)
			}
			out, _ = m.run(t, "device", "list")
			if row := findLine(strings.Split(out, "\n"), added.DeviceID); strings.HasSuffix(strings.TrimSpace(row), " -") {
				t.Errorf("device list row %q does not show the revocation", row)
			}

			// token add, list, revoke.
			name := "grafana-" + strings.ToLower(m.name)
			out, _ = m.run(t, "token", "add", "--role", "auditor", "--name", name)
			var tok struct{ Name, Role, Token string }
			if err := json.Unmarshal([]byte(out), &tok); err != nil {
				t.Fatalf("token add output is not JSON: %v\n%s", err, out)
			}
			if tok.Name != name || tok.Role != "auditor" || len(tok.Token) != 64 {
				t.Errorf("token add printed %+v", tok)
			}
			if p, err := f.store.Authenticate(ctx, tok.Token); err != nil || p.Role != auth.RoleAuditor {
				t.Errorf("the printed API token does not authenticate: %+v, %v", p, err)
			}
			out, _ = m.run(t, "token", "list")
			if !strings.HasPrefix(out, "NAME") || findLine(strings.Split(out, "\n"), name) == "" {
				t.Errorf("token list does not show %s:\n%s", name, out)
			}
			out, _ = m.run(t, "token", "list", "--format", "json")
			var tokens struct{ Tokens []auth.Token }
			if err := json.Unmarshal([]byte(out), &tokens); err != nil || len(tokens.Tokens) < 2 {
				t.Errorf("token list --format json: %v\n%s", err, out)
			}
			if out, _ = m.run(t, "token", "revoke", name); out != "" {
				t.Errorf("token revoke printed %q on stdout", out)
			}
			if _, err := f.store.Authenticate(ctx, tok.Token); !errors.Is(err, auth.ErrRevoked) {
				t.Errorf("Authenticate after revoke = %v, want ErrRevoked", err)
			}

			// Every change is an audit event with the mode's caller (the
			// sequence gap's alert, raised by the store, has none).
			var got []string
			if _, err := f.store.DrainOutbox(ctx, func(e *schema.Event) error {
				ev, err := schema.Normalize(e.Wire(), schema.Meta{})
				if err != nil {
					return err
				}
				if ev.Name() == "alert.device.seq_gap" {
					return nil
				}
				got = append(got, ev.Name()+" "+string(ev.Value("caller")))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, e := range []string{"audit.device.add", "audit.device.revoke", "audit.token.add", "audit.token.revoke"} {
				want = append(want, e+" "+m.caller)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("audit events (-want +got):\n%s", diff)
			}
		})
	}
}

func findLine(lines []string, substr string) string {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

func findDevice(ds []auth.Device, id string) *auth.Device {
	for i := range ds {
		if ds[i].ID == id {
			return &ds[i]
		}
	}
	return nil
}

// TestAdmin_DataDirCreated checks that admin works before the first serve:
// it creates the data directory and the store.
func TestAdmin_DataDirCreated(t *testing.T) {
	t.Setenv(tokenEnv, "")
	dir := filepath.Join(t.TempDir(), "new", "data")
	code, stdout, stderr := runCmd(t, "admin", "--data-dir", dir, "token", "add", "--role", "admin", "--name", "first")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, `"token"`) {
		t.Errorf("token add printed %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "auth.db")); err != nil {
		t.Error(err)
	}
}

// TestAdmin_TokenFromEnv checks that --server takes the token from
// VIGIL_TOKEN.
func TestAdmin_TokenFromEnv(t *testing.T) {
	f := newAdminFixture(t)
	t.Setenv(tokenEnv, f.token)
	code, stdout, stderr := runCmd(t, "admin", "--server", f.url, "token", "list")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "ops") {
		t.Errorf("token list:\n%s", stdout)
	}
}

func TestAdmin_Errors(t *testing.T) {
	f := newAdminFixture(t)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	local := []string{"admin", "--data-dir", f.dataDir}
	remote := []string{"admin", "--server", f.url, "--token", f.token}
	unknown := strings.Repeat("0", 32)
	with := func(prefix []string, args ...string) []string {
		return append(append([]string(nil), prefix...), args...)
	}

	tests := []struct {
		name string
		args []string
		want string // a part of stderr
	}{
		{name: "NoUser", args: with(local, "device", "add", "--name", "x"), want: `required flag(s) "user" not set`},
		{name: "BadUser", args: with(local, "device", "add", "--user", "alice", "--name", "x"), want: `invalid user: "alice" is not an email address`},
		{name: "BadUserRemote", args: with(remote, "device", "add", "--user", "alice", "--name", "x"), want: `invalid user: "alice" is not an email address (HTTP 400 invalid_request)`},
		{name: "BadRole", args: with(local, "token", "add", "--role", "root", "--name", "x"), want: `invalid argument "root" for "--role" flag: must be one of admin, auditor`},
		{name: "NoRole", args: with(local, "token", "add", "--name", "x"), want: `required flag(s) "role" not set`},
		{name: "BadTokenName", args: with(local, "token", "add", "--role", "admin", "--name", "a b"), want: `invalid name: "a b"`},
		{name: "TokenNameTaken", args: with(remote, "token", "add", "--role", "admin", "--name", "ops"), want: "add token ops: already exists"},
		{name: "RevokeNoID", args: with(local, "device", "revoke"), want: "vigil admin device revoke takes one device id, got 0 arguments (see 'vigil admin device list')"},
		{name: "RevokeNotAnID", args: with(local, "device", "revoke", "laptop"), want: `invalid id: "laptop" is not a device id`},
		{name: "RevokeUnknownDevice", args: with(local, "device", "revoke", unknown), want: "revoke device " + unknown + ": not found"},
		{name: "RevokeUnknownDeviceRemote", args: with(remote, "device", "revoke", unknown), want: "revoke device " + unknown + ": not found (HTTP 404 not_found)"},
		{name: "RevokeUnknownToken", args: with(local, "token", "revoke", "nope"), want: "revoke token nope: not found"},
		{name: "BadFormat", args: with(local, "device", "list", "--format", "xml"), want: `invalid argument "xml" for "--format" flag: must be one of table, json`},
		{name: "ServerAndDataDir", args: []string{"admin", "--server", f.url, "--token", f.token, "--data-dir", f.dataDir, "device", "list"}, want: "use either --server or --data-dir, not both"},
		{name: "TokenWithoutServer", args: with(local, "--token", f.token, "device", "list"), want: "--token is for --server"},
		{name: "ServerWithoutToken", args: []string{"admin", "--server", f.url, "device", "list"}, want: "--server needs an admin token: --token or VIGIL_TOKEN"},
		{name: "ServerNotURL", args: []string{"admin", "--server", "vigil.example.com", "--token", "x", "device", "list"}, want: `--server: server URL "vigil.example.com"`},
		{name: "UnknownToken", args: []string{"admin", "--server", f.url, "--token", strings.Repeat("0", 64), "device", "list"}, want: "unknown token (HTTP 401 unknown_token)"},
		{name: "DataDirIsFile", args: []string{"admin", "--data-dir", notDir, "device", "list"}, want: "create data dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "vigil: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want a message with %q", stderr, tt.want)
			}
		})
	}
}

// TestAdmin_Help checks that every admin command has help with examples
// and mentions its flags.
func TestAdmin_Help(t *testing.T) {
	admin, _, err := newRootCmd(&app{}).Find([]string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		path = append(path, c.Name())
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append(path[1:], "--help")...)
			if code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			if c.Example == "" || !strings.Contains(stdout, c.Example) {
				t.Errorf("help shows no examples:\n%s", stdout)
			}
			for _, f := range []string{"--data-dir", "--server", "--token"} {
				if !strings.Contains(stdout, f) {
					t.Errorf("help does not mention %s", f)
				}
			}
			c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
				if !strings.Contains(stdout, "--"+fl.Name) {
					t.Errorf("help does not mention --%s", fl.Name)
				}
			})
		})
		for _, sub := range c.Commands() {
			walk(sub, path)
		}
	}
	walk(admin, []string{"vigil"})
}

// TestAdmin_SaysWhichDataDirItCreates: a data directory is relative to
// where the command runs; the one an admin command creates is named,
// absolute, so that a second one made by mistake is noticed.
func TestAdmin_SaysWhichDataDirItCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh")
	_, stderr, code := runVigil(t, "admin", "--data-dir", dir, "device", "add", "--user", "a@example.com", "--name", "l")
	if code != 0 || !strings.Contains(stderr, "created data directory "+dir) {
		t.Errorf("first add: %d %q, want the absolute data directory named", code, stderr)
	}
	_, stderr, code = runVigil(t, "admin", "--data-dir", dir, "device", "list")
	if code != 0 || strings.Contains(stderr, "created data directory") {
		t.Errorf("second command: %d %q, want nothing created", code, stderr)
	}
}

// TestAdminCommand_Quiet: with --quiet, device add and token add print
// only the token, one line, for a shell variable; the token works.
func TestAdminCommand_Quiet(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	for _, m := range f.modes() {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range []struct {
				name string
				args []string
			}{
				{"Device", []string{"device", "add", "--user", "quiet@example.com", "--name", "q-" + m.name, "--quiet"}},
				{"Token", []string{"token", "add", "--role", "auditor", "--name", "q-" + m.name, "-q"}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					out, msg := m.run(t, tt.args...)
					token, ok := strings.CutSuffix(out, "\n")
					if !ok || len(token) != 64 || strings.ContainsAny(token, " \n{\"") {
						t.Fatalf("%s printed %q, want the token alone on one line", strings.Join(tt.args, " "), out)
					}
					if !strings.Contains(msg, "only this once") {
						t.Errorf("message %q", msg)
					}
					if _, err := f.store.Authenticate(ctx, token); err != nil {
						t.Errorf("the printed token does not authenticate: %v", err)
					}
				})
			}
		})
	}
}

func TestPrintSinks_Columns(t *testing.T) {
	connected := false
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	err := printSinks(&b, []sinks.Status{{
		Name: "siem", Kind: "syslog", State: "retrying", Connected: &connected, Lag: 7,
		Sent: 40, Settled: 30, Unsettled: 4, Resent: 6, Retried: 2, Oversize: 3, DeadLetter: 3,
		LastError: "connection closed by the receiver", LastErrorAt: &at,
	}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output:\n%s", b.String())
	}
	want := []string{"siem", "syslog", "retrying", "false", "7", "40", "30", "4", "6", "2", "3", "3"}
	if got := strings.Fields(lines[1])[:len(want)]; !cmp.Equal(got, want) {
		t.Errorf("row %q, want it to start %q", lines[1], want)
	}
	for _, col := range []string{"SETTLED", "UNSETTLED", "RESENT", "OVERSIZE", "LAST ERROR"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	if !strings.Contains(lines[1], "connection closed by the receiver") {
		t.Errorf("row %q lacks the last error", lines[1])
	}
}

// TestAdmin_Config checks that admin --config works on the metadata
// database the config names, as serve opens it: the data directory's
// SQLite file, or PostgreSQL (content.postgres.dsn, here from ${VAR}).
func TestAdmin_Config(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		t.Setenv(tokenEnv, "")
		db := backend.New(t)
		dataDir := filepath.Join(t.TempDir(), "data")
		yaml := "data_dir: " + dataDir + "\n"
		if backend.Dialect == metadb.Postgres {
			t.Setenv("TEST_METADB_DSN", db.DSN())
			yaml += "content:\n  postgres:\n    dsn: ${TEST_METADB_DSN}\n"
		}
		path := writeConfig(t, yaml)
		code, stdout, stderr := runCmd(t, "admin", "--config", path, "token", "add", "--role", "admin", "--name", "ops", "--quiet")
		if code != 0 {
			t.Fatalf("admin --config token add: exit %d\n%s", code, stderr)
		}
		var s *auth.Store
		var err error
		if backend.Dialect == metadb.Postgres {
			s, err = auth.New(context.Background(), db.Open(t))
			if _, statErr := os.Stat(dataDir); statErr == nil {
				t.Error("admin created the data directory, with PostgreSQL configured")
			}
		} else {
			s, err = auth.Open(authDBPath(dataDir))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		p, err := s.Authenticate(context.Background(), strings.TrimSpace(stdout))
		if err != nil || p.Name != "ops" || p.Role != auth.RoleAdmin {
			t.Errorf("the token admin --config printed: %+v, %v; want admin token ops", p, err)
		}
		if code, _, stderr := runCmd(t, "admin", "--config", path, "--server", "http://127.0.0.1:1", "token", "list"); code == 0 || !strings.Contains(stderr, "either --server or --config") {
			t.Errorf("--config with --server: exit %d, %s", code, stderr)
		}
	})
}
