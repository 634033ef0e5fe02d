package auth

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a settable time source for a Store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// t0 is the tests' starting time.
var t0 = time.Date(2026, 3, 30, 21, 18, 19, 123_000_000, time.UTC)

// openAt opens the store in the SQLite file path with Open, closed when
// the test ends, with its clock at t0.
func openAt(t *testing.T, path string) (*Store, *clock) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, setClock(s)
}

// setClock gives s a clock at t0.
func setClock(s *Store) *clock {
	c := &clock{now: t0}
	s.now = c.Now
	return c
}

// openOn opens a store on db, as one more process would: a handle of its
// own, closed when the test ends, with its clock at t0.
func openOn(t *testing.T, db *metadbtest.Database) (*Store, *clock) {
	t.Helper()
	s, err := New(context.Background(), db.Open(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, setClock(s)
}

// openStore opens a store on a fresh database of backend.
func openStore(t *testing.T, backend metadbtest.Backend) (*Store, *clock) {
	t.Helper()
	return openOn(t, backend.New(t))
}

func addDevice(t *testing.T, s *Store, user, name string) (Device, string) {
	t.Helper()
	d, token, err := s.AddDevice(context.Background(), LocalCaller, user, name)
	if err != nil {
		t.Fatal(err)
	}
	return d, token
}

func addToken(t *testing.T, s *Store, role Role, name string) string {
	t.Helper()
	_, secret, err := s.AddToken(context.Background(), LocalCaller, role, name)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestOpen_MigratesOnce checks that the first store migrates the schema,
// recorded as component auth, and the next ones find it done.
func TestOpen_MigratesOnce(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		s1, _ := openOn(t, db)
		s2, _ := openOn(t, db) // already migrated
		for _, s := range []*Store{s1, s2} {
			v, err := s.db.Versions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkComponents(t, v)
			if diff := cmp.Diff(map[string]int{"auth": len(migrations)}, v); diff != "" {
				t.Errorf("recorded versions (-want +got):\n%s", diff)
			}
		}
	})
}

// TestOpen_SQLiteFile checks what Open makes of a new file: private,
// WAL, and user_version kept for binaries from before schema_migrations.
func TestOpen_SQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	s1, _ := openAt(t, path)
	s2, _ := openAt(t, path) // already migrated
	for _, s := range []*Store{s1, s2} {
		if n := queryInt(t, s.db, `PRAGMA user_version`); n != int64(len(migrations)) {
			t.Errorf("user_version = %d, want %d", n, len(migrations))
		}
		var mode string
		if err := s.db.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("journal_mode = %q, want wal", mode)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("auth.db mode = %v, want 0600", perm)
	}
}

// TestOpen_AdoptsSQLiteOnlyStore opens a file that the SQLite-only store
// wrote (testdata/README.md): its schema, version 1 in user_version, is
// recorded as applied, and its credentials, sequence numbers and outbox
// work as before.
func TestOpen_AdoptsSQLiteOnlyStore(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "auth-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auth.db")
	if err := os.WriteFile(path, fixture, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := openAt(t, path)
	ctx := context.Background()
	v, err := s.db.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkComponents(t, v)
	// Version 1 adopted, the later ones applied.
	if diff := cmp.Diff(map[string]int{"auth": len(migrations)}, v); diff != "" {
		t.Errorf("recorded versions (-want +got):\n%s", diff)
	}
	const (
		deviceID    = "bd4bc07c1c0cb277728a1452b30315e9"
		deviceToken = "02348f63cf7ebe8976a5b87902de8adb7ebf54c4857d6e4fa6cf29acc40adb52"
		adminToken  = "eb0555b3b64e06a493915bee06f331eb89907bfb0ff1f04d2711368154b49e60"
	)
	p, err := s.Authenticate(ctx, deviceToken)
	if want := (Principal{Kind: KindDevice, UserID: "alice@example.com", DeviceID: deviceID, Name: "laptop"}); err != nil || p != want {
		t.Errorf("Authenticate(device token) = %+v, %v; want %+v", p, err, want)
	}
	p, err = s.Authenticate(ctx, adminToken)
	if want := (Principal{Kind: KindToken, Role: RoleAdmin, Name: "ops"}); err != nil || p != want {
		t.Errorf("Authenticate(admin token) = %+v, %v; want %+v", p, err, want)
	}
	ds, err := s.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].LastSeq != 5 || ds[0].SeqGaps != 1 || !ds[0].CreatedAt.Equal(t0) {
		t.Errorf("devices %+v, want the fixture's laptop with last seq 5, 1 gap, created at %v", ds, t0)
	}
	var names []string
	if _, err := s.DrainOutbox(ctx, func(e *schema.Event) error {
		names = append(names, e.Name())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"audit.device.add", "audit.token.add", "alert.device.seq_gap"}, names); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	// And it takes new writes: the sequence goes on from the fixture's.
	gaps, err := s.ObserveSeq(ctx, deviceID, []int64{6, 8})
	if err != nil || len(gaps) != 1 || gaps[0].Expected != 7 {
		t.Errorf("ObserveSeq = %v, %v; want one gap expecting 7", gaps, err)
	}
	addDevice(t, s, "bob@example.com", "phone")
	if n := queryInt(t, s.db, `PRAGMA user_version`); n != int64(len(migrations)) {
		t.Errorf("user_version = %d, want %d", n, len(migrations))
	}
}

func TestOpen_ConcurrentFirstOpen(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			h := db.Open(t)
			wg.Go(func() {
				_, errs[i] = New(context.Background(), h)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// TestOpen_ConcurrentFirstOpenFile has processes open a new file at once
// with Open, which also switches it to WAL.
func TestOpen_ConcurrentFirstOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestOpen_NewerSchema checks that a database a newer binary migrated is
// refused.
func TestOpen_NewerSchema(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		s, _ := openOn(t, db)
		if _, err := s.db.ExecContext(context.Background(), `INSERT INTO schema_migrations (component, version, applied_at) VALUES ('auth', 99, 0)`); err != nil {
			t.Fatal(err)
		}
		_, err := New(context.Background(), db.Open(t))
		if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
			t.Errorf("New = %v, want an error about the newer schema", err)
		}
	})
}

// TestOpen_NewerSQLiteOnlySchema checks that a file whose user_version is
// past this binary's, with nothing recorded, is refused too.
func TestOpen_NewerSQLiteOnlySchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := metadb.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Errorf("Open = %v, want an error about the newer schema", err)
	}
}

func TestOpen_MissingDir(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope", "auth.db"))
	if err == nil || !strings.Contains(err.Error(), "open metadata database") {
		t.Errorf("Open = %v, want an error", err)
	}
}

// TestClose_SharedDB checks that a store from New leaves its database
// open for the other components that use it.
func TestClose_SharedDB(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t).Open(t)
		s, err := New(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Errorf("the database after the store's Close: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		d, deviceToken := addDevice(t, s, "Alice@Example.com", "laptop")
		revokedDevice, revokedDeviceToken := addDevice(t, s, "bob@example.com", "old")
		if err := s.RevokeDevice(ctx, LocalCaller, revokedDevice.ID); err != nil {
			t.Fatal(err)
		}
		admin := addToken(t, s, RoleAdmin, "ops")
		auditor := addToken(t, s, RoleAuditor, "grafana")
		revoked := addToken(t, s, RoleAdmin, "gone")
		if err := s.RevokeToken(ctx, LocalCaller, "gone"); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name    string
			token   string
			want    Principal
			wantErr error
		}{
			{name: "Device", token: deviceToken, want: Principal{Kind: KindDevice, UserID: "alice@example.com", DeviceID: d.ID, Name: "laptop"}},
			{name: "Admin", token: admin, want: Principal{Kind: KindToken, Role: RoleAdmin, Name: "ops"}},
			{name: "Auditor", token: auditor, want: Principal{Kind: KindToken, Role: RoleAuditor, Name: "grafana"}},
			{name: "RevokedDevice", token: revokedDeviceToken, wantErr: ErrRevoked},
			{name: "RevokedToken", token: revoked, wantErr: ErrRevoked},
			{name: "Unknown", token: strings.Repeat("ab", 32), wantErr: ErrUnauthenticated},
			{name: "UpperCase", token: strings.ToUpper(admin), wantErr: ErrUnauthenticated},
			{name: "Short", token: admin[:63], wantErr: ErrUnauthenticated},
			{name: "Empty", token: "", wantErr: ErrUnauthenticated},
			{name: "DeviceID", token: d.ID, wantErr: ErrUnauthenticated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Authenticate(ctx, tt.token)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// TestAuthenticate_OtherProcess checks that credentials added or revoked
// through one Store take effect at once in another on the same file, as
// between "vigil admin" and a running "vigil serve".
func TestAuthenticate_OtherProcess(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		admin, _ := openOn(t, db)
		server, _ := openOn(t, db)
		ctx := context.Background()

		d, token := addDevice(t, admin, "alice@example.com", "laptop")
		secret := addToken(t, admin, RoleAuditor, "grafana")
		for _, tok := range []string{token, secret} {
			if _, err := server.Authenticate(ctx, tok); err != nil {
				t.Fatalf("Authenticate before revoking: %v", err)
			}
		}
		if _, err := server.DeviceByID(ctx, d.ID); err != nil {
			t.Fatalf("DeviceByID before revoking: %v", err)
		}

		if err := admin.RevokeDevice(ctx, LocalCaller, d.ID); err != nil {
			t.Fatal(err)
		}
		if err := admin.RevokeToken(ctx, LocalCaller, "grafana"); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{token, secret} {
			if _, err := server.Authenticate(ctx, tok); !errors.Is(err, ErrRevoked) {
				t.Errorf("Authenticate after revoking = %v, want ErrRevoked", err)
			}
		}
		if _, err := server.DeviceByID(ctx, d.ID); !errors.Is(err, ErrRevoked) {
			t.Errorf("DeviceByID after revoking = %v, want ErrRevoked", err)
		}
	})
}

func TestAuthenticate_TouchesLastUse(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, clk := openStore(t, backend)
		ctx := context.Background()
		_, token := addDevice(t, s, "alice@example.com", "laptop")
		secret := addToken(t, s, RoleAdmin, "ops")

		lastUse := func() (seen, used *time.Time) {
			t.Helper()
			ds, err := s.ListDevices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := s.ListTokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ds[0].LastSeen, ts[0].LastUsed
		}
		use := func() {
			t.Helper()
			for _, tok := range []string{token, secret} {
				if _, err := s.Authenticate(ctx, tok); err != nil {
					t.Fatal(err)
				}
			}
		}
		ptr := func(t time.Time) *time.Time { return &t }

		if seen, used := lastUse(); seen != nil || used != nil {
			t.Fatalf("before use: last seen %v, last used %v; want none", seen, used)
		}
		steps := []struct {
			advance time.Duration
			want    *time.Time
		}{
			{advance: 0, want: ptr(t0)},
			{advance: 30 * time.Second, want: ptr(t0)}, // within the minute: no write
			{advance: 31 * time.Second, want: ptr(t0.Add(61 * time.Second))},
		}
		for i, st := range steps {
			clk.Add(st.advance)
			use()
			seen, used := lastUse()
			if diff := cmp.Diff(st.want, seen); diff != "" {
				t.Errorf("step %d: device last seen (-want +got):\n%s", i, diff)
			}
			if diff := cmp.Diff(st.want, used); diff != "" {
				t.Errorf("step %d: token last used (-want +got):\n%s", i, diff)
			}
		}
	})
}

func TestDeviceByID(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		d, _ := addDevice(t, s, "alice@example.com", "laptop")
		gone, _ := addDevice(t, s, "alice@example.com", "old")
		if err := s.RevokeDevice(ctx, LocalCaller, gone.ID); err != nil {
			t.Fatal(err)
		}
		want := Principal{Kind: KindDevice, UserID: "alice@example.com", DeviceID: d.ID, Name: "laptop"}

		tests := []struct {
			name    string
			id      string
			want    Principal
			wantErr error
		}{
			{name: "Known", id: d.ID, want: want},
			{name: "UpperCase", id: strings.ToUpper(d.ID), want: want},
			{name: "Revoked", id: gone.ID, wantErr: ErrRevoked},
			{name: "Unknown", id: strings.Repeat("0", 32), wantErr: ErrUnauthenticated},
			{name: "NotAnID", id: "alice-laptop", wantErr: ErrUnauthenticated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.DeviceByID(ctx, tt.id)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestAddDevice(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		d1, tok1 := addDevice(t, s, "  Alice@Example.COM ", " laptop ")
		d2, tok2 := addDevice(t, s, "alice@example.com", "phone")

		if tok1 == tok2 || d1.ID == d2.ID {
			t.Errorf("two devices share a token or an id")
		}
		for _, tok := range []string{tok1, tok2} {
			if !isSecret(tok) {
				t.Errorf("token %q is not 64 lower-case hex digits", tok)
			}
		}
		want := []Device{
			{ID: d1.ID, UserID: "alice@example.com", Name: "laptop", CreatedAt: t0},
			{ID: d2.ID, UserID: "alice@example.com", Name: "phone", CreatedAt: t0},
		}
		if diff := cmp.Diff(want, []Device{d1, d2}); diff != "" {
			t.Errorf("AddDevice (-want +got):\n%s", diff)
		}
		got, err := s.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b Device) bool { return a.ID < b.ID })); diff != "" {
			t.Errorf("ListDevices (-want +got):\n%s", diff)
		}
		var users int
		if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM users WHERE email = 'alice@example.com'`).Scan(&users); err != nil {
			t.Fatal(err)
		}
		if users != 1 {
			t.Errorf("%d users alice@example.com, want 1", users)
		}
	})
}

func TestAddDevice_Invalid(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		tests := []struct {
			name                string
			caller, user, dname string
			field               string
		}{
			{name: "NoCaller", caller: "", user: "a@example.com", dname: "x", field: "caller"},
			{name: "BadCaller", caller: "root", user: "a@example.com", dname: "x", field: "caller"},
			{name: "BadPseudoCaller", caller: ":token:a b", user: "a@example.com", dname: "x", field: "caller"},
			{name: "NoUser", caller: LocalCaller, user: " ", dname: "x", field: "user"},
			{name: "UserNotEmail", caller: LocalCaller, user: "alice", dname: "x", field: "user"},
			{name: "UserTwoWords", caller: LocalCaller, user: "alice smith@example.com", dname: "x", field: "user"},
			{name: "PseudoUser", caller: LocalCaller, user: ":local", dname: "x", field: "user"},
			{name: "NoName", caller: LocalCaller, user: "a@example.com", dname: "", field: "name"},
			{name: "LongName", caller: LocalCaller, user: "a@example.com", dname: strings.Repeat("x", maxNameLen+1), field: "name"},
			{name: "ControlInName", caller: LocalCaller, user: "a@example.com", dname: "a\tb", field: "name"},
			{name: "BadUTF8Name", caller: LocalCaller, user: "a@example.com", dname: "a\xffb", field: "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := s.AddDevice(context.Background(), tt.caller, tt.user, tt.dname)
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err = %v, want a *FieldError for %s", err, tt.field)
				}
			})
		}
		assertNothingWritten(t, s)
	})
}

// assertNothingWritten fails unless s has no device, no token and no
// outbox event.
func assertNothingWritten(t *testing.T, s *Store) {
	t.Helper()
	for _, table := range []string{"devices", "tokens", "outbox"} {
		var n int
		if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows in %s, want none", n, table)
		}
	}
}

func TestAddToken_Invalid(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		tests := []struct {
			name         string
			caller       string
			role         Role
			tname, field string
		}{
			{name: "BadCaller", caller: "nobody", role: RoleAdmin, tname: "ops", field: "caller"},
			{name: "NoRole", caller: LocalCaller, role: "", tname: "ops", field: "role"},
			{name: "UnknownRole", caller: LocalCaller, role: "root", tname: "ops", field: "role"},
			{name: "NoName", caller: LocalCaller, role: RoleAdmin, tname: "", field: "name"},
			{name: "SpaceInName", caller: LocalCaller, role: RoleAdmin, tname: "my token", field: "name"},
			{name: "SlashInName", caller: LocalCaller, role: RoleAdmin, tname: "a/b", field: "name"},
			{name: "LeadingDot", caller: LocalCaller, role: RoleAdmin, tname: ".ops", field: "name"},
			{name: "LongName", caller: LocalCaller, role: RoleAdmin, tname: strings.Repeat("a", 65), field: "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := s.AddToken(context.Background(), tt.caller, tt.role, tt.tname)
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err = %v, want a *FieldError for %s", err, tt.field)
				}
			})
		}
		assertNothingWritten(t, s)
	})
}

func TestAddToken_NameTaken(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		addToken(t, s, RoleAdmin, "ops")
		if _, _, err := s.AddToken(ctx, LocalCaller, RoleAuditor, "ops"); !errors.Is(err, ErrExists) {
			t.Errorf("AddToken of a taken name = %v, want ErrExists", err)
		}
		if err := s.RevokeToken(ctx, LocalCaller, "ops"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AddToken(ctx, LocalCaller, RoleAdmin, "ops"); !errors.Is(err, ErrExists) {
			t.Errorf("AddToken of a revoked token's name = %v, want ErrExists", err)
		}
		events := drainAll(t, s)
		if len(events) != 2 { // add, revoke; the failed adds wrote nothing
			t.Errorf("%d outbox events, want 2", len(events))
		}
	})
}

func TestRevoke_Errors(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		d, _ := addDevice(t, s, "alice@example.com", "laptop")
		addToken(t, s, RoleAdmin, "ops")
		if err := s.RevokeDevice(ctx, LocalCaller, d.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, LocalCaller, "ops"); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name    string
			revoke  func() error
			wantErr error
			field   string
		}{
			{name: "DeviceTwice", revoke: func() error { return s.RevokeDevice(ctx, LocalCaller, d.ID) }, wantErr: ErrRevoked},
			{name: "UnknownDevice", revoke: func() error { return s.RevokeDevice(ctx, LocalCaller, strings.Repeat("0", 32)) }, wantErr: ErrNotFound},
			{name: "NotADeviceID", revoke: func() error { return s.RevokeDevice(ctx, LocalCaller, "laptop") }, field: "id"},
			{name: "DeviceBadCaller", revoke: func() error { return s.RevokeDevice(ctx, "", d.ID) }, field: "caller"},
			{name: "TokenTwice", revoke: func() error { return s.RevokeToken(ctx, LocalCaller, "ops") }, wantErr: ErrRevoked},
			{name: "UnknownToken", revoke: func() error { return s.RevokeToken(ctx, LocalCaller, "nope") }, wantErr: ErrNotFound},
			{name: "BadTokenName", revoke: func() error { return s.RevokeToken(ctx, LocalCaller, "a b") }, field: "name"},
			{name: "TokenBadCaller", revoke: func() error { return s.RevokeToken(ctx, "x", "ops") }, field: "caller"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.revoke()
				if tt.field != "" {
					var fe *FieldError
					if !errors.As(err, &fe) || fe.Field != tt.field {
						t.Fatalf("err = %v, want a *FieldError for %s", err, tt.field)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			})
		}
		if n := len(drainAll(t, s)); n != 4 { // two adds, two revokes
			t.Errorf("%d outbox events, want 4", n)
		}
	})
}

func TestList(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, clk := openStore(t, backend)
		ctx := context.Background()
		if ds, err := s.ListDevices(ctx); err != nil || ds == nil || len(ds) != 0 {
			t.Errorf("ListDevices of an empty store = %v, %v; want an empty list", ds, err)
		}
		if ts, err := s.ListTokens(ctx); err != nil || ts == nil || len(ts) != 0 {
			t.Errorf("ListTokens of an empty store = %v, %v; want an empty list", ts, err)
		}

		d1, _ := addDevice(t, s, "bob@example.com", "b")
		clk.Add(time.Second)
		d2, _ := addDevice(t, s, "alice@example.com", "a")
		addToken(t, s, RoleAuditor, "zeta")
		clk.Add(time.Second)
		addToken(t, s, RoleAdmin, "alpha")
		clk.Add(time.Second)
		if err := s.RevokeDevice(ctx, LocalCaller, d1.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, LocalCaller, "zeta"); err != nil {
			t.Fatal(err)
		}
		revokedAt := t0.Add(3 * time.Second)

		ds, err := s.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantDevices := []Device{
			{ID: d1.ID, UserID: "bob@example.com", Name: "b", CreatedAt: t0, RevokedAt: &revokedAt},
			{ID: d2.ID, UserID: "alice@example.com", Name: "a", CreatedAt: t0.Add(time.Second)},
		}
		if diff := cmp.Diff(wantDevices, ds); diff != "" {
			t.Errorf("ListDevices (-want +got):\n%s", diff)
		}
		ts, err := s.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantTokens := []Token{
			{Name: "zeta", Role: RoleAuditor, CreatedAt: t0.Add(time.Second), RevokedAt: &revokedAt},
			{Name: "alpha", Role: RoleAdmin, CreatedAt: t0.Add(2 * time.Second)},
		}
		if diff := cmp.Diff(wantTokens, ts); diff != "" {
			t.Errorf("ListTokens (-want +got):\n%s", diff)
		}
	})
}

// TestSecrets_StoredHashed checks that no token is kept, as text or as
// bytes, only its hash: in SQLite's files while the store is open (WAL)
// and after; in PostgreSQL's rows, read as text.
func TestSecrets_StoredHashed(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		s, _ := openOn(t, db)
		ctx := context.Background()
		var secrets []string
		for i := range 3 {
			_, tok, err := s.AddDevice(ctx, LocalCaller, "alice@example.com", fmt.Sprint("device-", i))
			if err != nil {
				t.Fatal(err)
			}
			_, secret, err := s.AddToken(ctx, LocalCaller, RoleAdmin, fmt.Sprint("token-", i))
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, tok, secret)
			if _, err := s.Authenticate(ctx, tok); err != nil { // and a touch write
				t.Fatal(err)
			}
		}
		check := func(when string, all []byte, hashes bool) {
			t.Helper()
			for _, sec := range secrets {
				raw, _ := hex.DecodeString(sec)
				if bytes.Contains(all, []byte(sec)) || bytes.Contains(all, raw) {
					t.Errorf("%s: a token is in the database", when)
				}
				h := hashSecret(sec)
				if hashes && !bytes.Contains(all, h) && !bytes.Contains(all, []byte(hex.EncodeToString(h))) {
					t.Errorf("%s: a token's hash is not in the database", when)
				}
			}
		}
		if db.Dialect() == metadb.Postgres {
			var all []byte
			for _, table := range []string{"users", "devices", "tokens", "outbox", "schema_migrations"} {
				var text string
				if err := s.db.QueryRowContext(ctx, `SELECT coalesce(string_agg(t::text, ' '), '') FROM `+table+` t`).Scan(&text); err != nil {
					t.Fatal(err)
				}
				all = append(all, text...)
			}
			check("rows", all, true)
			return
		}
		files := func() []byte {
			t.Helper()
			files, err := filepath.Glob(db.Path() + "*")
			if err != nil || len(files) == 0 {
				t.Fatalf("no database files: %v", err)
			}
			var all []byte
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		}
		check("while open", files(), false)
		if err := s.db.Close(); err != nil {
			t.Fatal(err)
		}
		check("after close", files(), true)
	})
}

// TestConcurrentWriters has two stores on one file write at once: the busy
// timeout and immediate transactions let every write through.
func TestConcurrentWriters(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		a, _ := openOn(t, db)
		b, _ := openOn(t, db)
		ctx := context.Background()
		const each = 15
		var wg sync.WaitGroup
		errs := make(chan error, 4*each)
		for i, s := range []*Store{a, b} {
			for j := range each {
				wg.Go(func() {
					_, tok, err := s.AddDevice(ctx, LocalCaller, "alice@example.com", fmt.Sprint("d", i, "-", j))
					if err == nil {
						_, err = s.Authenticate(ctx, tok)
					}
					errs <- err
				})
				wg.Go(func() {
					_, _, err := s.AddToken(ctx, LocalCaller, RoleAuditor, fmt.Sprint("t", i, "-", j))
					errs <- err
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		ds, err := a.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := b.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2*each || len(ts) != 2*each {
			t.Errorf("%d devices and %d tokens, want %d of each", len(ds), len(ts), 2*each)
		}
		if n := len(drainAll(t, a)); n != 4*each {
			t.Errorf("%d outbox events, want %d", n, 4*each)
		}
	})
}

func TestPing(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		if err := s.Ping(context.Background()); err != nil {
			t.Error(err)
		}
		if err := s.db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(context.Background()); err == nil {
			t.Error("Ping of a closed database succeeded")
		}
	})
}

// queryInt returns one integer a query selects.
func queryInt(t *testing.T, db *metadb.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkComponents checks that v records each metadb component the store
// registers after auth at its newest version, and takes them out of v,
// leaving auth's own version to the caller.
func checkComponents(t *testing.T, v map[string]int) {
	t.Helper()
	for name, n := range map[string]int{
		"devices":   len(deviceMigrations),
		"provision": len(provisionMigrations),
		"security":  len(securityMigrations),
		"org":       len(orgMigrations),
		"oauth":     len(oauthMigrations),
		"roles":     len(roleMigrations),
	} {
		if v[name] != n {
			t.Errorf("recorded %s version %d, want %d", name, v[name], n)
		}
		delete(v, name)
	}
}
