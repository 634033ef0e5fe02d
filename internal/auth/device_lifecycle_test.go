package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// drainSummaries drains s's outbox into summaries: each event's name and
// the canonical JSON of its fields.
func drainSummaries(t *testing.T, s *Store) []summary {
	t.Helper()
	var got []summary
	for _, raw := range drainAll(t, s) {
		ev, err := schema.Normalize(raw, schema.Meta{})
		if err != nil {
			t.Fatalf("outbox event %s does not normalize: %v", raw, err)
		}
		sum := summary{Event: ev.Name(), Fields: map[string]string{}}
		for _, f := range ev.Spec().Fields {
			if v := ev.Value(f.Name); v != nil {
				sum.Fields[f.Name] = string(v)
			}
		}
		got = append(got, sum)
	}
	return got
}

func TestDeviceLifecycle(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, clk := openStore(t, backend)
		ctx := context.Background()
		alice := Actor{Email: "Alice@Example.com", Device: "40f9cddab98a432b9c60d734f5f63e7e", IP: "203.0.113.7"}
		d, token, err := s.CertifyDevice(ctx, alice, NewDevice{Owner: "alice@example.com", Name: " laptop ", OSFamily: "Linux", OSName: "Debian 13"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Type != TypeDesktopClient || d.Name != "laptop" || !d.CreatedAt.Equal(t0) {
			t.Errorf("certified %+v", d)
		}
		p, err := s.Authenticate(ctx, token)
		if err != nil || p.DeviceID != d.ID || p.UserID != "alice@example.com" {
			t.Fatalf("Authenticate(credential) = %+v, %v", p, err)
		}
		dev := `"` + d.ID + `"`
		aliceCaller := `{"email":"alice@example.com","device":"40f9cddab98a432b9c60d734f5f63e7e"}`
		selfCaller := `{"email":"alice@example.com","device":` + dev + `}`
		want := []summary{{Event: "device.certify", Fields: map[string]string{"user": `"alice@example.com"`, "device_type": `"Desktop Client"`,
			"device_id": dev, "device_name": `"laptop"`, "os_family": `"Linux"`, "os_name": `"Debian 13"`, "caller": aliceCaller, "ip": `"203.0.113.7"`}}}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("certify events (-want +got):\n%s", diff)
		}

		clk.Add(time.Minute)
		got, err := s.SignInDevice(ctx, token, "198.51.100.1")
		if err != nil || got.LastSeen == nil || !got.LastSeen.Equal(t0.Add(time.Minute)) {
			t.Fatalf("SignInDevice = %+v, %v", got, err)
		}
		newToken := ""
		if _, newToken, err = s.RecertifyDevice(ctx, token, strings.ToUpper(d.ID), "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("the replaced credential: %v, want ErrUnauthenticated", err)
		}
		if _, _, err := s.RecertifyDevice(ctx, newToken, "ffffffffffffffffffffffffffffffff", "198.51.100.1"); !errors.Is(err, ErrOtherDevice) {
			t.Errorf("recertify another device: %v, want ErrOtherDevice", err)
		}
		if _, err := s.RenameDevice(ctx, alice, d.ID, "work laptop"); err != nil {
			t.Fatal(err)
		}
		want = []summary{
			{Event: "device.signin", Fields: map[string]string{"user": `"alice@example.com"`, "device_id": dev, "ip": `"198.51.100.1"`, "caller": selfCaller}},
			{Event: "device.recertify", Fields: map[string]string{"user": `"alice@example.com"`, "device": dev, "device_type": `"Desktop Client"`, "caller": selfCaller, "ip": `"198.51.100.1"`}},
			{Event: "audit.device.rename", Fields: map[string]string{"caller": aliceCaller, "device": dev, "name": `"work laptop"`, "user": `"alice@example.com"`, "ip": `"203.0.113.7"`}},
		}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("device events (-want +got):\n%s", diff)
		}

		admin := Actor{Email: "root@example.com", IP: "192.0.2.1"}
		if _, err := s.RemoveDevice(ctx, admin, d.ID, RemovalErased); err != nil {
			t.Fatal(err)
		}
		var re *RevokedError
		if _, err := s.Authenticate(ctx, newToken); !errors.As(err, &re) || re.Removal != RemovalErased || !errors.Is(err, ErrRevoked) {
			t.Errorf("Authenticate after erase: %v, want an erased RevokedError", err)
		}
		if _, err := s.DeviceByID(ctx, d.ID); !errors.As(err, &re) || re.Removal != RemovalErased {
			t.Errorf("DeviceByID after erase: %v, want an erased RevokedError", err)
		}
		if _, err := s.SignInDevice(ctx, newToken, "198.51.100.1"); !errors.As(err, &re) || re.Removal != RemovalErased {
			t.Errorf("SignInDevice after erase: %v, want an erased RevokedError", err)
		}
		if _, err := s.RemoveDevice(ctx, admin, d.ID, RemovalUnlinked); !errors.Is(err, ErrNotFound) {
			t.Errorf("unlink an erased device: %v, want ErrNotFound", err)
		}
		want = []summary{{Event: "device.erase", Fields: map[string]string{"admin_user": `"root@example.com"`, "device": dev, "owner": `"alice@example.com"`,
			"caller": `{"email":"root@example.com"}`, "ip": `"192.0.2.1"`}}}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("erase events (-want +got):\n%s", diff)
		}
		if list, err := s.UserDevices(ctx, "alice@example.com"); err != nil || len(list) != 0 {
			t.Errorf("UserDevices after erase = %v, %v; want none", list, err)
		}
	})
}

func TestCertifyMobile(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, clk := openStore(t, backend)
		ctx := context.Background()
		bob := Actor{Email: "bob@example.com", IP: "203.0.113.9"}
		code, expires, err := s.IssueAccessCode(ctx, bob, false, 3*time.Minute)
		if err != nil || !expires.Equal(t0.Add(3*time.Minute)) || len(code) != 32 {
			t.Fatalf("IssueAccessCode = %q, %v, %v", code, expires, err)
		}
		qr, _, err := s.IssueAccessCode(ctx, bob, true, 3*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		d, token, err := s.CertifyMobile(ctx, "198.51.100.2", code, NewDevice{Name: "bob's phone", OSFamily: "iOS"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Type != TypeMobileApp || d.UserID != "bob@example.com" || !isSecret(token) {
			t.Errorf("CertifyMobile = %+v", d)
		}
		if _, _, err := s.CertifyMobile(ctx, "198.51.100.2", code, NewDevice{Name: "again"}); !errors.Is(err, ErrCodeRefused) {
			t.Errorf("a used code: %v, want ErrCodeRefused", err)
		}
		clk.Add(3 * time.Minute)
		if _, _, err := s.CertifyMobile(ctx, "198.51.100.2", qr, NewDevice{Name: "late"}); !errors.Is(err, ErrCodeRefused) {
			t.Errorf("an expired code: %v, want ErrCodeRefused", err)
		}
		if _, _, err := s.CertifyMobile(ctx, "198.51.100.2", strings.Repeat("0", 32), NewDevice{Name: "guess"}); !errors.Is(err, ErrCodeRefused) {
			t.Errorf("an unknown code: %v, want ErrCodeRefused", err)
		}
		dev := `"` + d.ID + `"`
		self := `{"email":"bob@example.com","device":` + dev + `}`
		bobCaller := `{"email":"bob@example.com"}`
		want := []summary{
			{Event: "device.access.code", Fields: map[string]string{"user": `"bob@example.com"`, "timeout": "180", "caller": bobCaller, "ip": `"203.0.113.9"`}},
			{Event: "device.mobile.code", Fields: map[string]string{"user": `"bob@example.com"`, "caller": bobCaller, "ip": `"203.0.113.9"`}},
			{Event: "device.certify", Fields: map[string]string{"user": `"bob@example.com"`, "device_type": `"Mobile App"`, "device_id": dev,
				"device_name": `"bob's phone"`, "os_family": `"iOS"`, "caller": self, "ip": `"198.51.100.2"`}},
			{Event: "device.mobile.authenticate", Fields: map[string]string{"user": `"bob@example.com"`, "device": dev, "caller": self, "ip": `"198.51.100.2"`}},
			{Event: "device.mobile.error", Fields: map[string]string{"user": `"bob@example.com"`, "ip": `"198.51.100.2"`}},
			{Event: "device.mobile.error", Fields: map[string]string{"user": `"bob@example.com"`, "ip": `"198.51.100.2"`}},
		}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("mobile events (-want +got):\n%s", diff)
		}
	})
}

func TestRecertify_TeamServer(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		d, token, err := s.CertifyDevice(ctx, Actor{Email: "root@example.com", IP: "192.0.2.1"},
			NewDevice{Owner: "root@example.com", Name: "ts1", Type: "team server"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RecertifyDevice(ctx, token, d.ID, "192.0.2.5"); err != nil {
			t.Fatal(err)
		}
		got := drainSummaries(t, s)
		if len(got) != 2 || got[0].Fields["device_type"] != `"Team Server"` || got[1].Event != "user.device.recertify" {
			t.Errorf("events %+v; want device.certify of a Team Server, then user.device.recertify", got)
		}
	})
}

func TestDeviceLifecycle_BadArguments(t *testing.T) {
	s, _ := openAt(t, filepath.Join(t.TempDir(), "auth.db"))
	ctx := context.Background()
	a := Actor{Email: "alice@example.com", IP: "203.0.113.7"}
	for _, tc := range []struct {
		nd    NewDevice
		field string
	}{
		{NewDevice{Owner: "alice@example.com"}, "name"},
		{NewDevice{Owner: "not an email", Name: "x"}, "owner"},
		{NewDevice{Owner: "alice@example.com", Name: "x", Type: "toaster"}, "device_type"},
		{NewDevice{Owner: "alice@example.com", Name: "x", OSFamily: strings.Repeat("L", 101)}, "os_family"},
		{NewDevice{Owner: "alice@example.com", Name: "x", OSName: "a\nb"}, "os_name"},
	} {
		_, _, err := s.CertifyDevice(ctx, a, tc.nd)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("CertifyDevice(%+v) = %v, want a FieldError on %s", tc.nd, err, tc.field)
		}
	}
	if _, err := s.RemoveDevice(ctx, a, "nope", RemovalErased); err == nil {
		t.Error("RemoveDevice accepted a malformed id")
	}
	if _, err := s.RemoveDevice(ctx, a, strings.Repeat("a", 32), RemovalErased); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveDevice(unknown) = %v, want ErrNotFound", err)
	}
	if events := drainAll(t, s); len(events) != 0 {
		t.Errorf("refused actions wrote %d events", len(events))
	}
}
