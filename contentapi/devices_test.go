package contentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// More tokens of the device tests' verifier.
const (
	tokReader = "00000000000000000000000000000010" // u@example.com, user.read only
	tokOther  = "00000000000000000000000000000011" // v@example.com, user.read and user.write
)

// emittedEvent is what a test compares of an audit event: its name and
// the canonical JSON of each field.
type emittedEvent struct {
	Event  string
	Fields map[string]string
}

// deviceEnv is the device routes on a real credential store, through the
// real router. After each request it drains the store's outbox: the
// request's events, recorded for the package's audit-trail check.
type deviceEnv struct {
	srv    *httptest.Server
	store  *auth.Store
	mu     sync.Mutex
	skew   time.Duration // the API's clock runs this far ahead
	events []emittedEvent
	// secrets are the credentials and codes the test got: none may
	// appear in an event.
	secrets []string
}

func newDeviceEnv(t *testing.T, backend metadbtest.Backend) *deviceEnv {
	t.Helper()
	store, err := auth.New(context.Background(), backend.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	env := &deviceEnv{store: store}
	v := fakeVerifier{
		tokUser:    {Email: "u@example.com", Scopes: scopes(t, "user.read,user.write,files.read"), Device: appDevice},
		tokAdmin:   {Email: "admin@example.com", Admin: true, Scopes: scopes(t, "organization.admin,user.write"), Device: appDevice, ActingAs: ":2"},
		tokDemoted: {Email: "was@example.com", Scopes: scopes(t, "organization.admin"), ActingAs: ":2"},
		tokReader:  {Email: "u@example.com", Scopes: scopes(t, "user.read")},
		tokOther:   {Email: "v@example.com", Scopes: scopes(t, "user.read,user.write")},
	}
	a := New(Config{Verifier: v, Devices: store, MaxBodyBytes: 512,
		Now:    func() time.Time { env.mu.Lock(); defer env.mu.Unlock(); return time.Now().Add(env.skew) },
		Logger: testLogger(io.Discard)})
	env.srv = serve(t, a.Routes(), drainAfter(env.store, env.keep))
	t.Cleanup(func() { env.checkNoSecrets(t) })
	return env
}

// keep takes one of a request's events.
func (env *deviceEnv) keep(ev *schema.Event) error {
	env.mu.Lock()
	env.events = append(env.events, summarize(ev))
	env.mu.Unlock()
	return nil
}

func summarize(e *schema.Event) emittedEvent {
	sum := emittedEvent{Event: e.Name(), Fields: map[string]string{}}
	for _, f := range e.Spec().Fields {
		if v := e.Value(f.Name); v != nil {
			sum.Fields[f.Name] = string(v)
		}
	}
	return sum
}

// take returns the events emitted since the last take.
func (env *deviceEnv) take() []emittedEvent {
	env.mu.Lock()
	defer env.mu.Unlock()
	out := env.events
	env.events = nil
	return out
}

func (env *deviceEnv) expect(t *testing.T, what string, want ...emittedEvent) {
	t.Helper()
	if diff := cmp.Diff(want, env.take()); diff != "" {
		t.Errorf("%s: events (-want +got):\n%s", what, diff)
	}
}

func (env *deviceEnv) checkNoSecrets(t *testing.T) {
	// Everything the outbox held was recorded; the secrets must be in no
	// event, which the recorded fields show in full.
	env.mu.Lock()
	defer env.mu.Unlock()
	noteSecrets(env.secrets...)
	all, _ := json.Marshal(env.events)
	for _, s := range env.secrets {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("a credential or code appears in an event")
		}
	}
}

func (env *deviceEnv) call(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	srv := env.srv
	return call(t, srv, method, path, body, header...)
}

// certify certifies a desktop client of tok's user and returns it.
func (env *deviceEnv) certify(t *testing.T, tok, body string) CertifiedDevice {
	t.Helper()
	d := answerAs[CertifiedDevice](t, "certify", env.call(t, "POST", "/api/v1.4/devices", body, bearer(tok)), 201)
	env.mu.Lock()
	env.secrets = append(env.secrets, d.Credential)
	env.mu.Unlock()
	return d
}

func str(s string) string { b, _ := json.Marshal(s); return string(b) }

// The callers of the fake verifier's tokens, and the test client's ip.
const (
	userCaller  = `{"email":"u@example.com","device":"` + appDevice + `"}`
	adminCaller = `{"email":"admin@example.com","device":"` + appDevice + `","acting_as":":2"}`
	otherCaller = `{"email":"v@example.com"}`
	clientIP    = `"127.0.0.1"`
)

func TestDevices_Certify(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		env := newDeviceEnv(t, backend)
		d := env.certify(t, tokUser, `{"name":"laptop","os_family":"Linux","os_name":"Debian 13","cache":1}`)
		if d.Owner != "u@example.com" || d.Name != "laptop" || d.OSFamily != "Linux" || d.DeviceType != "Desktop Client" ||
			len(d.Credential) != 64 || len(d.ID) != 32 || time.Since(d.InstallDate.Time) > time.Minute {
			t.Errorf("certified %+v", d)
		}
		env.expect(t, "certify", emittedEvent{Event: "device.certify", Fields: map[string]string{"user": `"u@example.com"`,
			"device_type": `"Desktop Client"`, "device_id": str(d.ID), "device_name": `"laptop"`, "os_family": `"Linux"`,
			"os_name": `"Debian 13"`, "caller": userCaller, "ip": clientIP}})

		for _, tc := range []struct {
			tok, body string
			status    int
			typ, msg  string
		}{
			{tokUser, `{"name":"ts","device_type":"Team Server"}`, 403, "FORBIDDEN", "Only an organization administrator certifies a Team Server"},
			{tokUser, `{"name":"phone","device_type":"Mobile App"}`, 400, "BAD_ARGS", "Invalid device_type: must be Desktop Client or Team Server (mobile apps certify with an access code)"},
			{tokUser, `{"name":7}`, 400, "BAD_ARGS", "invalid name: must be a string"},
			{tokUser, `{"os_family":"Linux"}`, 400, "BAD_ARGS", "Invalid name: required"},
			{tokUser, `{"name":"` + strings.Repeat("x", 600) + `"}`, 400, "BAD_ARGS", "invalid body: larger than 512 bytes"},
			{tokReader, `{"name":"laptop"}`, 403, "FORBIDDEN", "Token lacks required scope"},
			{"", `{"name":"laptop"}`, 401, "UNAUTHORIZED", "Missing access token"},
		} {
			h := []string{}
			if tc.tok != "" {
				h = append(h, bearer(tc.tok))
			}
			a := env.call(t, "POST", "/api/v1.4/devices", tc.body, h...)
			if a.status != tc.status {
				t.Errorf("POST /devices %s: %d %s, want %d", tc.body, a.status, a.body, tc.status)
				continue
			}
			if typ, msg := contentError(t, a); typ != tc.typ || msg != tc.msg {
				t.Errorf("POST /devices %s: %s %q, want %s %q", tc.body, typ, msg, tc.typ, tc.msg)
			}
		}
		if a := env.call(t, "POST", "/api/v1.3/devices", `{"name":"laptop"}`, bearer(tokUser)); a.status != 404 {
			t.Errorf("POST /api/v1.3/devices: %d, want 404 (a 1.4 route)", a.status)
		}
		env.expect(t, "refused certifications")

		ts := env.certify(t, tokAdmin, `{"name":"ts1","device_type":"team server"}`)
		env.expect(t, "Team Server", emittedEvent{Event: "device.certify", Fields: map[string]string{"user": `"admin@example.com"`,
			"device_type": `"Team Server"`, "device_id": str(ts.ID), "device_name": `"ts1"`, "caller": adminCaller, "ip": clientIP}})
	})
}

func TestDevices_ReadAndRename(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		env := newDeviceEnv(t, backend)
		d := env.certify(t, tokUser, `{"name":"laptop","os_family":"Linux"}`)
		env.take()
		path := "/api/v1.3/devices/" + d.ID
		want := `{"id":"` + d.ID + `","owner":"u@example.com","name":"laptop","os_family":"Linux","install_date":"` + d.InstallDate.UTC().Format(TimeLayout) + `"}`
		for _, tok := range []string{tokUser, tokReader, tokAdmin} {
			if a := env.call(t, "GET", path, "", bearer(tok)); a.status != 200 || a.body != want {
				t.Errorf("GET %s: %d %s, want %s", path, a.status, a.body, want)
			}
		}
		if a := env.call(t, "GET", "/api/v1.3/devices/"+strings.ToUpper(d.ID), "", bearer(tokUser)); a.status != 200 {
			t.Errorf("GET an upper-case id: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", "/api/v1.3/users/U%40Example.com/devices", "", bearer(tokReader)); a.status != 200 || a.body != "["+want+"]" {
			t.Errorf("GET /users/{email}/devices: %d %s", a.status, a.body)
		}
		for _, tc := range []struct {
			method, path, body, tok string
			status                  int
			msg                     string
		}{
			{"GET", path, "", tokOther, 403, "Not your device: organization administrator required"},
			{"GET", path, "", tokDemoted, 403, "Not your device: organization administrator required"},
			{"GET", "/api/v1.3/users/u@example.com/devices", "", tokOther, 403, "Not your device: organization administrator required"},
			{"GET", "/api/v1.2/devices/" + d.ID, "", tokUser, 404, "No such route: /api/v1.2/devices/" + d.ID},
			{"GET", "/api/v1.3/devices/" + strings.Repeat("a", 32), "", tokUser, 404, "No such device"},
			{"GET", "/api/v1.3/devices/nope", "", tokUser, 400, `Invalid id: "nope" is not a device id (32 hex digits)`},
			{"PUT", path, `{"name":"x"}`, tokReader, 403, "Token lacks required scope"},
			{"PUT", path, `{"name":"x"}`, tokOther, 403, "Not your device: organization administrator required"},
			{"PUT", path, `{"name":["x"]}`, tokUser, 400, "invalid name: must be a string"},
			{"PUT", path, `{}`, tokUser, 400, "Invalid name: required"},
			{"PUT", path, `{"name":"  "}`, tokUser, 400, "Invalid name: required"},
		} {
			a := env.call(t, tc.method, tc.path, tc.body, bearer(tc.tok))
			if a.status != tc.status {
				t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, a.status, a.body, tc.status)
				continue
			}
			if _, msg := contentError(t, a); msg != tc.msg {
				t.Errorf("%s %s %s: %q, want %q", tc.method, tc.path, tc.body, msg, tc.msg)
			}
		}
		env.expect(t, "refused reads and renames")

		if a := env.call(t, "PUT", path, `{"name":"work laptop"}`, bearer(tokUser), "Content-Type: application/octet-stream"); a.status != 200 || !strings.Contains(a.body, `"name":"work laptop"`) {
			t.Errorf("rename: %d %s", a.status, a.body)
		}
		env.expect(t, "rename", emittedEvent{Event: "audit.device.rename", Fields: map[string]string{"caller": userCaller, "device": str(d.ID),
			"name": `"work laptop"`, "user": `"u@example.com"`, "ip": clientIP}})
		if a := env.call(t, "PUT", path, `{"name":"theirs"}`, bearer(tokAdmin)); a.status != 200 {
			t.Errorf("rename by an admin: %d %s", a.status, a.body)
		}
		env.expect(t, "rename by an admin", emittedEvent{Event: "audit.device.rename", Fields: map[string]string{"caller": adminCaller, "device": str(d.ID),
			"name": `"theirs"`, "user": `"u@example.com"`, "ip": clientIP}})
	})
}

func TestDevices_SignInAndStatus(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		env := newDeviceEnv(t, backend)
		d := env.certify(t, tokUser, `{"name":"laptop"}`)
		env.take()
		status := "/api/v1.3/devices/" + d.ID + "/status"
		if a := env.call(t, "GET", status, "", bearer(tokReader)); a.status != 200 || a.body != `{"online":false}` {
			t.Errorf("status of a device never seen: %d %s", a.status, a.body)
		}
		for _, h := range [][]string{nil, {"Authorization: Bearer " + tokUser}, {"Authorization: Bearer " + strings.Repeat("0", 64)}} {
			a := env.call(t, "POST", "/api/v1.4/devices/signin", "", h...)
			if a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
				t.Errorf("sign-in with %q: %d %s, want 401 with a challenge", h, a.status, a.body)
			}
		}
		a := env.call(t, "POST", "/api/v1.4/devices/signin", "", "Authorization: bearer "+d.Credential)
		if a.status != 200 || !strings.Contains(a.body, `"id":"`+d.ID+`"`) {
			t.Fatalf("sign-in: %d %s", a.status, a.body)
		}
		env.expect(t, "sign-in", emittedEvent{Event: "device.signin", Fields: map[string]string{"user": `"u@example.com"`, "device_id": str(d.ID),
			"ip": clientIP, "caller": `{"email":"u@example.com","device":"` + d.ID + `"}`}})
		var st DeviceStatus
		a = env.call(t, "GET", status, "", bearer(tokUser))
		if err := json.Unmarshal([]byte(a.body), &st); err != nil || !st.Online || time.Since(st.LastSeen.Time) > time.Minute {
			t.Errorf("status after sign-in: %d %s", a.status, a.body)
		}
		env.mu.Lock()
		env.skew = DefaultDeviceOnline + time.Minute
		env.mu.Unlock()
		a = env.call(t, "GET", status, "", bearer(tokAdmin))
		if err := json.Unmarshal([]byte(a.body), &st); err != nil || st.Online || st.LastSeen.IsZero() {
			t.Errorf("status past the online window: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", status, "", bearer(tokOther)); a.status != 403 {
			t.Errorf("another user's device status: %d, want 403", a.status)
		}
	})
}

func TestDevices_MobileFlow(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		env := newDeviceEnv(t, backend)
		issue := func(body string) AccessCode {
			t.Helper()
			a := env.call(t, "POST", "/api/v1.4/devices/access_code", body, bearer(tokUser))
			var c AccessCode
			if err := json.Unmarshal([]byte(a.body), &c); a.status != 201 || err != nil || len(c.Code) != 32 || c.ExpiresIn != 180 {
				t.Fatalf("access code: %d %s", a.status, a.body)
			}
			env.mu.Lock()
			env.secrets = append(env.secrets, c.Code)
			env.mu.Unlock()
			return c
		}
		code := issue("")
		env.expect(t, "access code", emittedEvent{Event: "device.access.code", Fields: map[string]string{"user": `"u@example.com"`,
			"timeout": "180", "caller": userCaller, "ip": clientIP}})
		qr := issue(`{"qr":true}`)
		env.expect(t, "QR code", emittedEvent{Event: "device.mobile.code", Fields: map[string]string{"user": `"u@example.com"`,
			"caller": userCaller, "ip": clientIP}})
		if a := env.call(t, "POST", "/api/v1.4/devices/access_code", `{"qr":"yes"}`, bearer(tokUser)); a.status != 400 {
			t.Errorf("qr of the wrong type: %d %s", a.status, a.body)
		}
		if a := env.call(t, "POST", "/api/v1.4/devices/access_code", ``, bearer(tokReader)); a.status != 403 {
			t.Errorf("access code with user.read only: %d %s", a.status, a.body)
		}

		a := env.call(t, "POST", "/api/v1.4/devices/mobile", `{"code":"`+code.Code+`","name":"phone","os_family":"iOS"}`)
		var d CertifiedDevice
		if err := json.Unmarshal([]byte(a.body), &d); a.status != 201 || err != nil || d.DeviceType != "Mobile App" || d.Owner != "u@example.com" || len(d.Credential) != 64 {
			t.Fatalf("mobile certification: %d %s", a.status, a.body)
		}
		env.secrets = append(env.secrets, d.Credential)
		self := `{"email":"u@example.com","device":"` + d.ID + `"}`
		env.expect(t, "mobile certification",
			emittedEvent{Event: "device.certify", Fields: map[string]string{"user": `"u@example.com"`, "device_type": `"Mobile App"`,
				"device_id": str(d.ID), "device_name": `"phone"`, "os_family": `"iOS"`, "caller": self, "ip": clientIP}},
			emittedEvent{Event: "device.mobile.authenticate", Fields: map[string]string{"user": `"u@example.com"`, "device": str(d.ID),
				"caller": self, "ip": clientIP}})

		a = env.call(t, "POST", "/api/v1.4/devices/mobile", `{"code":"`+code.Code+`","name":"again"}`)
		if typ, msg := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" || msg != "Access code refused: unknown, expired or already used" ||
			strings.Contains(a.body, code.Code) {
			t.Errorf("a used code: %d %s", a.status, a.body)
		}
		env.expect(t, "a used code", emittedEvent{Event: "device.mobile.error", Fields: map[string]string{"user": `"u@example.com"`, "ip": clientIP}})
		for _, body := range []string{`{"code":"` + strings.Repeat("0", 32) + `","name":"guess"}`, `{"code":"short","name":"guess"}`} {
			if a := env.call(t, "POST", "/api/v1.4/devices/mobile", body); a.status != 401 {
				t.Errorf("an unknown code: %d %s", a.status, a.body)
			}
		}
		env.expect(t, "unknown codes name no user: no event")
		if a := env.call(t, "POST", "/api/v1.4/devices/mobile", `{"code":"`+qr.Code+`"}`); a.status != 400 {
			t.Errorf("no name: %d %s, want 400 before the code is used", a.status, a.body)
		}
		if a := env.call(t, "POST", "/api/v1.4/devices/mobile", `{"code":"`+qr.Code+`","name":"tablet"}`); a.status != 201 {
			t.Errorf("the QR code: %d %s", a.status, a.body)
		}
		env.take()
	})
}

func TestDevices_RecertifyUnlinkErase(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		env := newDeviceEnv(t, backend)
		d := env.certify(t, tokUser, `{"name":"laptop"}`)
		ts := env.certify(t, tokAdmin, `{"name":"ts1","device_type":"Team Server"}`)
		env.take()

		recert := func(id, cred string) answer {
			return env.call(t, "POST", "/api/v1.4/devices/"+id+"/recertify", "", "Authorization: Bearer "+cred)
		}
		a := recert(d.ID, d.Credential)
		var nd CertifiedDevice
		if err := json.Unmarshal([]byte(a.body), &nd); a.status != 200 || err != nil || nd.ID != d.ID || len(nd.Credential) != 64 || nd.Credential == d.Credential {
			t.Fatalf("recertify: %d %s", a.status, a.body)
		}
		env.secrets = append(env.secrets, nd.Credential)
		self := `{"email":"u@example.com","device":"` + d.ID + `"}`
		env.expect(t, "recertify", emittedEvent{Event: "device.recertify", Fields: map[string]string{"user": `"u@example.com"`, "device": str(d.ID),
			"device_type": `"Desktop Client"`, "caller": self, "ip": clientIP}})
		if a := recert(d.ID, d.Credential); a.status != 401 {
			t.Errorf("recertify with the replaced credential: %d %s", a.status, a.body)
		}
		if a := recert(ts.ID, nd.Credential); a.status != 403 {
			t.Errorf("recertify another device: %d %s", a.status, a.body)
		}
		a = recert(ts.ID, ts.Credential)
		if a.status != 200 {
			t.Fatalf("recertify the Team Server: %d %s", a.status, a.body)
		}
		var nts CertifiedDevice
		_ = json.Unmarshal([]byte(a.body), &nts)
		env.secrets = append(env.secrets, nts.Credential)
		env.expect(t, "Team Server recertify", emittedEvent{Event: "user.device.recertify", Fields: map[string]string{"user": `"admin@example.com"`,
			"device": str(ts.ID), "device_type": `"Team Server"`, "caller": `{"email":"admin@example.com","device":"` + ts.ID + `"}`, "ip": clientIP}})

		path := "/api/v1.4/devices/" + d.ID
		for _, tc := range []struct {
			method, path, tok string
			status            int
		}{
			{"DELETE", path, tokOther, 403},
			{"DELETE", path, tokReader, 403},
			{"POST", path + "/erase", tokOther, 403},
			{"DELETE", "/api/v1.3/devices/" + d.ID, tokUser, 404}, // a 1.4 route
			{"POST", "/api/v1.4/devices/" + strings.Repeat("b", 32) + "/erase", tokAdmin, 404},
		} {
			if a := env.call(t, tc.method, tc.path, "", bearer(tc.tok)); a.status != tc.status {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.status)
			}
		}
		env.expect(t, "refused removals")

		if a := env.call(t, "DELETE", path, "", bearer(tokUser)); a.status != 204 {
			t.Fatalf("unlink: %d %s", a.status, a.body)
		}
		env.expect(t, "unlink", emittedEvent{Event: "device.unlink", Fields: map[string]string{"admin_user": `"u@example.com"`, "device": str(d.ID),
			"owner": `"u@example.com"`, "caller": userCaller, "ip": clientIP}})
		a = env.call(t, "POST", "/api/v1.4/devices/signin", "", "Authorization: Bearer "+nd.Credential)
		if typ, msg := contentError(t, a); a.status != 403 || typ != "FORBIDDEN" || msg != "Device unlinked" || a.header.Get("Device-Removal") != "unlinked" {
			t.Errorf("sign-in of an unlinked device: %d %s %v", a.status, a.body, a.header)
		}
		if a := env.call(t, "GET", path, "", bearer(tokUser)); a.status != 404 {
			t.Errorf("GET an unlinked device: %d, want 404", a.status)
		}
		if a := env.call(t, "DELETE", path, "", bearer(tokUser)); a.status != 404 {
			t.Errorf("unlink twice: %d, want 404", a.status)
		}
		env.expect(t, "after the unlink")

		other := env.certify(t, tokOther, `{"name":"v's laptop"}`)
		env.take()
		if a := env.call(t, "POST", "/api/v1.4/devices/"+other.ID+"/erase", "", bearer(tokAdmin)); a.status != 204 {
			t.Fatalf("erase: %d %s", a.status, a.body)
		}
		env.expect(t, "erase", emittedEvent{Event: "device.erase", Fields: map[string]string{"admin_user": `"admin@example.com"`, "device": str(other.ID),
			"owner": `"v@example.com"`, "caller": adminCaller, "ip": clientIP}})
		a = recert(other.ID, other.Credential)
		if a.status != 403 || a.header.Get("Device-Removal") != "erased" {
			t.Errorf("recertify an erased device: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", "/api/v1.3/users/v@example.com/devices", "", bearer(tokOther)); a.body != "[]" {
			t.Errorf("devices after the erase: %s, want []", a.body)
		}
	})
}

// fuzzBody checks that a body decoder answers any bytes with the value
// or a 400 BAD_ARGS, never a panic or another status.
func fuzzBody[T any](f *testing.F, seeds ...string) {
	a := New(Config{MaxBodyBytes: 512})
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &Request{Request: httptest.NewRequest("POST", "/api/v1.4/devices", bytes.NewReader(body)), api: a}
		var v T
		err := r.Decode(&v)
		var he *httpapi.Error
		if err != nil && (!errors.As(err, &he) || he.Status != 400) {
			t.Fatalf("Decode(%q) = %v, want nil or a 400", body, err)
		}
	})
}

func FuzzCertifyBody(f *testing.F) {
	fuzzBody[certifyBody](f, `{"name":"laptop","os_family":"Linux","device_type":"Team Server"}`, `{"name":1}`, `[]`, `null`)
}

func FuzzMobileBody(f *testing.F) {
	fuzzBody[mobileBody](f, `{"code":"00000000000000000000000000000000","name":"phone"}`, `{"code":{}}`)
}

func FuzzAccessCodeBody(f *testing.F) { fuzzBody[accessCodeBody](f, `{"qr":true}`, `{"qr":"1"}`) }

func FuzzDeviceNameBody(f *testing.F) { fuzzBody[deviceName](f, `{"name":"x"}`, `{"name":null}`) }

func FuzzParseDeviceBearer(f *testing.F) {
	for _, s := range []string{"Bearer " + strings.Repeat("a", 64), "bearer  " + strings.Repeat("0", 64), "Bearer " + tokUser, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := parseDeviceBearer(h)
		if err != nil {
			// The message is fixed: it never quotes what was sent.
			if tok != "" || err.Error() != invalidDeviceCredential("Malformed device credential").Error() {
				t.Fatalf("parseDeviceBearer(%q): %q, %v", h, tok, err)
			}
			return
		}
		if len(tok) != 64 || !isHex(tok) || !strings.Contains(h, tok) {
			t.Fatalf("parseDeviceBearer(%q) = %q", h, tok)
		}
	})
}
