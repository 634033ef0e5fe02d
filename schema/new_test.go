package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/schema"
)

// hostile is text that JSON must escape or carry through untouched:
// quotes, backslashes, every control character, DEL, the line and
// paragraph separators, HTML characters and non-ASCII text.
var hostile = func() string {
	var b strings.Builder
	b.WriteString(`say "hi" \ back\\slash \u0041 `)
	for c := range 0x20 {
		b.WriteByte(byte(c))
	}
	b.WriteString("\x7f é 日本 😀 \u2028\u2029 </script>&")
	return b.String()
}()

// extensionEvents returns Vigil's own events, from the catalog.
func extensionEvents(t *testing.T) []*schema.EventSpec {
	t.Helper()
	var out []*schema.EventSpec
	for _, s := range schema.Catalog() {
		if s.Origin == schema.Extension {
			if s.Topic != schema.TopicAudit && s.Topic != schema.TopicAlert {
				t.Errorf("extension event %s has topic %s, want AUDIT or ALERT", s.Name, s.Topic)
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatal("the catalog has no extension events")
	}
	return out
}

// valuesFor gives every field of spec a value of its type: text from
// text, and fixed values for the other types.
func valuesFor(t *testing.T, spec *schema.EventSpec, text string) schema.Fields {
	t.Helper()
	f := schema.Fields{}
	for _, fd := range spec.Fields {
		switch fd.Type {
		case schema.TypeString:
			f[fd.Name] = text
		case schema.TypeUserID, schema.TypeEmail, schema.TypeCaller:
			f[fd.Name] = "Ré.日本😀@Example.com"
		case schema.TypeDID:
			f[fd.Name] = "40F9CDDAB98A432B9C60D734F5F63E7E"
		case schema.TypeInteger:
			f[fd.Name] = int64(len(fd.Name))
		case schema.TypeIP:
			f[fd.Name] = "203.0.113.7"
		case schema.TypeBoolean:
			f[fd.Name] = true
		case schema.TypeLinkKey:
			f[fd.Name] = "3b0f2a1c9d8e4f7a6b5c4d3e2f1a0b9c"
		case schema.TypeSharedFolder:
			b, err := json.Marshal(map[string]string{"id": "35e4a5ffe0c50f8ea5edfc85a1256fab", "name": text})
			if err != nil {
				t.Fatal(err)
			}
			f[fd.Name] = json.RawMessage(b)
		case schema.TypeSOID:
			f[fd.Name] = "3293523A4CA93CD5BCC17D4C4A0094689A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D"
		case schema.TypePath:
			b, err := json.Marshal(map[string]string{"sid": "3293523a4ca93cd5bcc17d4c4a009468", "relative_path": text})
			if err != nil {
				t.Fatal(err)
			}
			f[fd.Name] = json.RawMessage(b)
		case schema.TypeRole:
			f[fd.Name] = []string{"MANAGE", "WRITE"}
		case schema.TypeTime:
			f[fd.Name] = time.Date(2026, 11, 23, 9, 45, 0, 0, time.UTC)
		default:
			t.Fatalf("%s.%s: no test value for type %s", spec.Name, fd.Name, fd.Type)
		}
	}
	return f
}

var at = time.Date(2026, 11, 23, 10, 0, 1, 234567890, time.FixedZone("CET", 3600))

// TestNew_SameBytesAsIngest checks that each extension event New builds
// has the wire form ingest makes of the same event sent as JSON, with the
// timestamp in epoch milliseconds as the emitters wrote it.
func TestNew_SameBytesAsIngest(t *testing.T) {
	for _, spec := range extensionEvents(t) {
		for _, text := range []string{"plain", hostile} {
			fields := valuesFor(t, spec, text)
			e, err := schema.New(spec.Name, at, fields)
			if err != nil {
				t.Fatalf("New(%s): %v", spec.Name, err)
			}
			input := map[string]any{"topic": string(spec.Topic), "event": spec.Name, "timestamp": at.UnixMilli()}
			for k, v := range fields {
				input[k] = v
			}
			raw, err := json.Marshal(input)
			if err != nil {
				t.Fatal(err)
			}
			want, err := schema.Normalize(raw, schema.Meta{})
			if err != nil {
				t.Fatalf("%s: ingest rejects %s: %v", spec.Name, raw, err)
			}
			if !bytes.Equal(e.Wire(), want.Wire()) {
				t.Errorf("%s: New made\n%s\ningest makes\n%s", spec.Name, e.Wire(), want.Wire())
			}
			if e.ID() != want.ID() || !e.Timestamp().Equal(want.Timestamp()) {
				t.Errorf("%s: id %s at %v, ingest's %s at %v", spec.Name, e.ID(), e.Timestamp(), want.ID(), want.Timestamp())
			}
		}
	}
}

// TestNew_HostileStringsAreJSON checks that every extension event, with
// text fields full of characters JSON must escape, has a wire form that
// is valid JSON, decodes to the values given, and normalizes to itself.
func TestNew_HostileStringsAreJSON(t *testing.T) {
	for _, spec := range extensionEvents(t) {
		t.Run(spec.Name, func(t *testing.T) {
			fields := valuesFor(t, spec, hostile)
			e, err := schema.New(spec.Name, at, fields)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			w := e.Wire()
			if !json.Valid(w) {
				t.Fatalf("wire form is not valid JSON: %q", w)
			}
			var got map[string]any
			if err := json.Unmarshal(w, &got); err != nil {
				t.Fatalf("decode %q: %v", w, err)
			}
			for _, fd := range spec.Fields {
				var want any
				switch fd.Type {
				case schema.TypeString:
					want = hostile
				case schema.TypeUserID, schema.TypeEmail:
					want = "ré.日本😀@example.com"
				case schema.TypeCaller:
					want = map[string]any{"email": "ré.日本😀@example.com"}
				case schema.TypeDID:
					want = "40f9cddab98a432b9c60d734f5f63e7e"
				case schema.TypeInteger:
					want = float64(len(fd.Name))
				case schema.TypeIP:
					want = "203.0.113.7"
				case schema.TypeBoolean:
					want = true
				case schema.TypeLinkKey:
					want = "3b0f2a1c9d8e4f7a6b5c4d3e2f1a0b9c"
				case schema.TypeSharedFolder:
					want = map[string]any{"id": "35e4a5ffe0c50f8ea5edfc85a1256fab", "name": hostile}
				case schema.TypeRole:
					want = []any{"MANAGE", "WRITE"}
				case schema.TypeTime:
					want = "2026-11-23T09:45:00.000Z"
				case schema.TypeSOID:
					want = map[string]any{"sid": "3293523a4ca93cd5bcc17d4c4a009468", "oid": "9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"}
				case schema.TypePath:
					want = map[string]any{"sid": "3293523a4ca93cd5bcc17d4c4a009468", "relative_path": hostile}
				}
				if diff := cmp.Diff(want, got[fd.Name]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", fd.Name, diff)
				}
			}
			again, err := schema.Normalize(w, schema.Meta{Trusted: true})
			if err != nil {
				t.Fatalf("the wire form does not normalize: %v", err)
			}
			if !bytes.Equal(again.Wire(), w) {
				t.Errorf("normalized again:\n%s\nwant\n%s", again.Wire(), w)
			}
		})
	}
}

func TestNew_Errors(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		at     time.Time
		fields schema.Fields
		field  string
		code   string
	}{
		{"UnknownEvent", "alert.nothing", at, schema.Fields{}, "event", schema.CodeUnknown},
		{"UnknownField", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": 1, "grup": "x"}, "grup", schema.CodeUnknown},
		{"MissingField", "alert.log.skipped", at, schema.Fields{"group": "store"}, "skipped", schema.CodeMissing},
		{"NilIsAbsent", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": nil}, "skipped", schema.CodeMissing},
		{"StringForInteger", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": "3"}, "skipped", schema.CodeType},
		{"IntegerForString", "alert.log.skipped", at, schema.Fields{"group": 3, "skipped": 3}, "group", schema.CodeType},
		{"BoolForInteger", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": true}, "skipped", schema.CodeType},
		{"Negative", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": -1}, "skipped", schema.CodeFormat},
		{"BadUTF8", "alert.log.skipped", at, schema.Fields{"group": "st\xffore", "skipped": 1}, "group", schema.CodeUTF8},
		{"BadDevice", "alert.device.seq_gap", at, schema.Fields{"user": "a@example.com", "device": "laptop", "expected": 1, "got": 3}, "device", schema.CodeFormat},
		{"BadUser", "alert.device.seq_gap", at, schema.Fields{"user": `a"b`, "device": "40f9cddab98a432b9c60d734f5f63e7e", "expected": 1, "got": 3}, "user", schema.CodeFormat},
		{"Envelope", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": 1, "received_at": at}, "received_at", schema.CodeForbidden},
		{"Topic", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": 1, "topic": "AUDIT"}, "topic", schema.CodeForbidden},
		{"Submitter", "file.transfer", at, schema.Fields{"verified_submitter": "x"}, "verified_submitter", schema.CodeForbidden},
		{"BadID", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": 1, "event_id": "a b"}, "event_id", schema.CodeFormat},
		{"IDNotString", "alert.log.skipped", at, schema.Fields{"group": "store", "skipped": 1, "event_id": 7}, "event_id", schema.CodeType},
		{"RawForString", "alert.log.skipped", at, schema.Fields{"group": json.RawMessage(`"store"`), "skipped": 1}, "group", schema.CodeType},
		{"RawNotOneValue", "audit.query", at, schema.Fields{"caller": json.RawMessage(`"a@example.com","route":"x"`), "route": "/", "filter": ""}, "caller", schema.CodeSyntax},
		{"ZeroTime", "alert.log.skipped", time.Time{}, schema.Fields{"group": "store", "skipped": 1}, "timestamp", schema.CodeFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := schema.New(tt.event, tt.at, tt.fields)
			var verr *schema.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("New = %v, %v; want a *ValidationError", e, err)
			}
			if verr.Field != tt.field || verr.Code != tt.code {
				t.Errorf("error %q: field %q code %q, want %q %q", err, verr.Field, verr.Code, tt.field, tt.code)
			}
		})
	}
}

func TestNew_TypedValues(t *testing.T) {
	e, err := schema.New("link.update", at, schema.Fields{
		"ip":            "10.0.0.1",
		"caller":        json.RawMessage(`{"email":"Bob@Example.com","device":"40F9CDDAB98A432B9C60D734F5F63E7E"}`),
		"key":           "k3y",
		"set_password":  true,
		"require_login": false,
		"expiry":        uint32(3600),
		"event_id":      "01JDX5B7Q0000000000000000A",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"LINK","event":"link.update","timestamp":"2026-11-23T09:00:01.234Z","event_id":"01JDX5B7Q0000000000000000A",` +
		`"ip":"10.0.0.1","caller":{"email":"bob@example.com","device":"40f9cddab98a432b9c60d734f5f63e7e"},"key":"k3y","set_password":true,"require_login":false,"expiry":3600}`
	if got := string(e.Wire()); got != want {
		t.Errorf("wire\n%s\nwant\n%s", got, want)
	}
	e, err = schema.New("folder.join", at, schema.Fields{
		"folder": json.RawMessage(`{"id":"40f9cddab98a432b9c60d734f5f63e7e","name":"Q4"}`),
		"target": "a@example.com", "caller": "b@example.com", "role": []string{"write", "MANAGE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.Value("role")); got != `["MANAGE","WRITE"]` {
		t.Errorf("role %s", got)
	}
}

// TestWithReceivedAt checks that stamping an event gives the bytes and
// fields that normalizing it with that time gives.
func TestWithReceivedAt(t *testing.T) {
	recv := time.Date(2026, 11, 23, 10, 0, 2, 345e6, time.UTC)
	raw := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"a@example.com","authority":"LDAP","zz":1,"seq":"é\"x"}`)
	for _, meta := range []schema.Meta{{}, {ReceivedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, {Submitter: defaultMeta.Submitter}} {
		e, err := schema.Normalize(raw, meta)
		if err != nil {
			t.Fatal(err)
		}
		got := e.WithReceivedAt(recv)
		meta.ReceivedAt = recv
		want, err := schema.Normalize(raw, meta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Wire(), want.Wire()) {
			t.Errorf("WithReceivedAt:\n%s\nwant\n%s", got.Wire(), want.Wire())
		}
		if got.ID() != want.ID() || !got.ReceivedAt().Equal(recv) || got.Submitter() != want.Submitter() {
			t.Errorf("id %s received %v submitter %v, want %s %v %v", got.ID(), got.ReceivedAt(), got.Submitter(), want.ID(), recv, want.Submitter())
		}
		for _, f := range []string{"user", "authority"} {
			if !bytes.Equal(got.Value(f), want.Value(f)) {
				t.Errorf("%s: %s, want %s", f, got.Value(f), want.Value(f))
			}
		}
		for _, x := range []string{"seq", "zz"} {
			if !bytes.Equal(got.Extra(x), want.Extra(x)) {
				t.Errorf("extra %s: %s, want %s", x, got.Extra(x), want.Extra(x))
			}
		}
		if string(e.Value("user")) != `"a@example.com"` {
			t.Errorf("the original changed: %s", e.Wire())
		}
	}
}

func TestOrderKey(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		meta schema.Meta
		want string
	}{
		{"Submitter", `{"topic":"USER","event":"user.signin","timestamp":1764000000000,"user":"b@example.com","authority":"LDAP"}`, schema.Meta{Submitter: defaultMeta.Submitter}, "alice@example.com"},
		{"User", `{"topic":"USER","event":"user.signin","timestamp":1764000000000,"user":"B@example.com","authority":"LDAP"}`, schema.Meta{}, "b@example.com"},
		{"AdminUser", `{"topic":"USER","event":"user.org.remove","timestamp":1764000000000,"admin_user":"a@example.com","target_user":"t@example.com"}`, schema.Meta{}, "a@example.com"},
		{"Caller", `{"topic":"AUDIT","event":"audit.token.revoke","timestamp":1764000000000,"caller":":token:ops","name":"x"}`, schema.Meta{}, ":token:ops"},
		{"Device", `{"topic":"ALERT","event":"alert.device.seq_gap","timestamp":1764000000000,"user":"u@example.com","device":"40f9cddab98a432b9c60d734f5f63e7e","expected":1,"got":3}`, schema.Meta{}, "u@example.com"},
		{"Name", `{"topic":"ALERT","event":"alert.log.skipped","timestamp":1764000000000,"group":"sink.x","skipped":3}`, schema.Meta{}, "alert.log.skipped"},
		{"LinkIP", `{"topic":"LINK","event":"link.access","timestamp":1764000000000,"ip":"10.0.0.1","key":"k"}`, schema.Meta{}, "link.access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := schema.Normalize([]byte(tt.raw), tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.OrderKey(); got != tt.want {
				t.Errorf("OrderKey = %q, want %q", got, tt.want)
			}
		})
	}
}
