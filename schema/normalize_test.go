package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"

	"github.com/vigilaudit/vigil/schema"
)

func mustNormalize(t *testing.T, raw string, meta schema.Meta) *schema.Event {
	t.Helper()
	e, err := schema.Normalize([]byte(raw), meta)
	if err != nil {
		t.Fatalf("Normalize(%s): %v", raw, err)
	}
	return e
}

func validationError(t *testing.T, err error) *schema.ValidationError {
	t.Helper()
	var verr *schema.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *schema.ValidationError", err, err)
	}
	return verr
}

const signin = `{"topic":"USER","event":"user.signin","timestamp":"2016-03-30T21:18:19.123Z","user":"alice@example.com","authority":"LDAP"}`

func TestNormalize_InvalidUTF8(t *testing.T) {
	raw := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2016-03-30T21:18:19.123Z","user":"al` + "\xff" + `ice@example.com","authority":"LDAP"}`)
	_, err := schema.Normalize(raw, defaultMeta)
	if v := validationError(t, err); v.Code != schema.CodeUTF8 {
		t.Errorf("code %q, want %q", v.Code, schema.CodeUTF8)
	}
}

func TestNormalize_StringLimitIsConfigurable(t *testing.T) {
	raw := []byte(`{"topic":"USER","event":"user.org.signup","timestamp":"2016-03-30T21:18:19.123Z","user":"a@example.com","first_name":"` +
		strings.Repeat("n", 20) + `","last_name":"L","organization":"2","is_admin":"false"}`)
	if _, err := schema.NewNormalizer(schema.Limits{}).Normalize(raw, defaultMeta); err != nil {
		t.Fatalf("default limit: %v", err)
	}
	_, err := schema.NewNormalizer(schema.Limits{MaxStringLen: 15}).Normalize(raw, defaultMeta)
	v := validationError(t, err)
	if v.Code != schema.CodeTooLong || v.Field != "first_name" {
		t.Errorf("got %+v, want too_long on first_name", v)
	}
}

func TestNormalize_TooManyExtras(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(signin, "}"))
	for i := range 5 {
		b.WriteString(`,"x` + string(rune('a'+i)) + `":1`)
	}
	b.WriteString("}")
	if _, err := schema.NewNormalizer(schema.Limits{MaxExtraFields: 5}).Normalize([]byte(b.String()), defaultMeta); err != nil {
		t.Fatalf("5 extras with a limit of 5: %v", err)
	}
	_, err := schema.NewNormalizer(schema.Limits{MaxExtraFields: 4}).Normalize([]byte(b.String()), defaultMeta)
	if v := validationError(t, err); v.Code != schema.CodeTooMany {
		t.Errorf("code %q, want %q", v.Code, schema.CodeTooMany)
	}
}

func TestNormalize_ExtrasKeptAndCounted(t *testing.T) {
	raw := strings.TrimSuffix(signin, "}") + `,"zeta":{"b":[1,2.5e3,null,true]},"alpha":"x\u00e9"}`
	e := mustNormalize(t, raw, defaultMeta)
	if e.Extras() != 2 {
		t.Errorf("Extras() = %d, want 2", e.Extras())
	}
	if got := string(e.Extra("zeta")); got != `{"b":[1,2.5e3,null,true]}` {
		t.Errorf("Extra(zeta) = %s", got)
	}
	if got := string(e.Extra("alpha")); got != `"xé"` {
		t.Errorf("Extra(alpha) = %s", got)
	}
	if e.Extra("user") != nil || e.Extra("nope") != nil {
		t.Error("Extra of a catalog field or an absent one is not nil")
	}
	if !bytes.HasSuffix(e.Wire(), []byte(`"authority":"LDAP","alpha":"xé","zeta":{"b":[1,2.5e3,null,true]}}`)) {
		t.Errorf("extras not kept, sorted, after the catalog fields: %s", e.Wire())
	}
}

func TestNormalize_DerivedID(t *testing.T) {
	a := mustNormalize(t, signin, defaultMeta)
	// The same content, reordered and in other accepted forms, retried
	// later: the same id.
	retry := `{"authority":"ldap","user":"Alice@Example.com","timestamp":1459372699123,"event":"user.signin","topic":"user"}`
	later := defaultMeta
	later.ReceivedAt = later.ReceivedAt.Add(time.Hour)
	b := mustNormalize(t, retry, later)
	if a.ID() != b.ID() {
		t.Errorf("retry got id %s, first %s", b.ID(), a.ID())
	}
	other := defaultMeta
	other.Submitter.DeviceID = "b88a707bd70586f7a9f2dfc8fee2def5"
	if c := mustNormalize(t, signin, other); c.ID() == a.ID() {
		t.Error("another submitter got the same id")
	}
	if d := mustNormalize(t, strings.Replace(signin, "LDAP", "OpenID", 1), defaultMeta); d.ID() == a.ID() {
		t.Error("other content got the same id")
	}
	u, err := ulid.ParseStrict(a.ID())
	if err != nil {
		t.Fatalf("derived id %q is not a ULID: %v", a.ID(), err)
	}
	if got := ulid.Time(u.Time()); !got.Equal(a.Timestamp()) {
		t.Errorf("id time %v, event time %v", got, a.Timestamp())
	}
	// Sortable by time.
	newer := mustNormalize(t, strings.Replace(signin, "2016-03-30T21:18:19.123Z", "2016-03-30T21:18:19.124Z", 1), defaultMeta)
	if newer.ID() <= a.ID() {
		t.Errorf("newer id %s does not sort after %s", newer.ID(), a.ID())
	}
}

func TestNormalize_ClientIDAndReceivedAt(t *testing.T) {
	raw := strings.TrimSuffix(signin, "}") + `,"event_id":"client-42","received_at":"2001-01-01T00:00:00Z"}`
	e := mustNormalize(t, raw, defaultMeta)
	if e.ID() != "client-42" {
		t.Errorf("ID() = %q, want the client's", e.ID())
	}
	if !e.ReceivedAt().Equal(defaultMeta.ReceivedAt) {
		t.Errorf("ReceivedAt() = %v, want ingest's %v", e.ReceivedAt(), defaultMeta.ReceivedAt)
	}
	for _, bad := range []string{`""`, `"has space"`, `42`, `"` + strings.Repeat("x", 65) + `"`} {
		raw := strings.TrimSuffix(signin, "}") + `,"event_id":` + bad + `}`
		_, err := schema.Normalize([]byte(raw), defaultMeta)
		if v := validationError(t, err); v.Field != "event_id" {
			t.Errorf("event_id %s: error on %q", bad, v.Field)
		}
	}
}

func TestNormalize_SubmitterOnlyFromServer(t *testing.T) {
	raw := strings.TrimSuffix(signin, "}") + `,"verified_submitter":{"user_id":"mallory@example.com","device_id":"b88a707bd70586f7a9f2dfc8fee2def5"}}`
	_, err := schema.Normalize([]byte(raw), defaultMeta)
	if v := validationError(t, err); v.Code != schema.CodeForbidden || v.Field != "verified_submitter" {
		t.Errorf("got %+v", v)
	}
	// Read back from Vigil's own log, it is kept.
	e := mustNormalize(t, raw, schema.Meta{Trusted: true})
	if e.Submitter().UserID != "mallory@example.com" {
		t.Errorf("trusted submitter %+v", e.Submitter())
	}
	// File events need one.
	_, err = schema.Normalize(typicalTransfer, schema.Meta{})
	if v := validationError(t, err); v.Code != schema.CodeMissing || v.Field != "verified_submitter" {
		t.Errorf("file event without a submitter: %+v", v)
	}
}

func TestEvent_Accessors(t *testing.T) {
	e, err := schema.Normalize(typicalTransfer, benchMeta)
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic() != schema.TopicFile || e.Name() != "file.transfer" || e.Spec().Origin != schema.Documented {
		t.Errorf("topic %s name %s", e.Topic(), e.Name())
	}
	if got := string(e.Value("soid")); got != `{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"}` {
		t.Errorf("Value(soid) = %s", got)
	}
	if s, ok := e.String("destination_user"); !ok || s != "bob.jones@example.com" {
		t.Errorf("String(destination_user) = %q, %v", s, ok)
	}
	if e.Value("mobile_device") != nil || e.Value("nope") != nil {
		t.Error("absent fields have values")
	}
	var m map[string]any
	if err := json.Unmarshal(e.Wire(), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"topic", "event", "timestamp", "event_id", "received_at", "verified_submitter", "soid", "event_time",
		"operations", "device", "path", "path_to", "destination_device", "destination_user"}
	if diff := cmp.Diff(want, keyOrder(t, e.Wire())); diff != "" {
		t.Errorf("key order (-want +got):\n%s", diff)
	}
}

// keyOrder lists the top-level keys of a JSON object in order.
func keyOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestNormalize_Concurrent runs the pooled Normalize from many goroutines
// (for the race detector) and checks every result is the same.
func TestNormalize_Concurrent(t *testing.T) {
	want := string(mustNormalize(t, string(typicalTransfer), benchMeta).Wire())
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				e, err := schema.Normalize(typicalTransfer, benchMeta)
				if err != nil {
					errs <- err.Error()
					return
				}
				if string(e.Wire()) != want {
					errs <- "different wire: " + string(e.Wire())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
