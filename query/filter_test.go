package query_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

func TestFilterValidate_Normalizes(t *testing.T) {
	f := query.Filter{
		Topics: []schema.Topic{"user", "FILE", "USER"}, Events: []string{"User.Signin", "file.transfer"},
		User: " Alice@Example.COM ", Device: "40F9CDDAB98A432B9C60D734F5F63E7E",
		SOID: "E4C357190E9D314CA135D6F1F6938D9B4E0375957F304B9BBFCDDBF87F10B5D2", Folder: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		Path: "/Team/docs", IP: "::ffff:10.0.0.1", Key: "k",
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	want := query.Filter{
		Topics: []schema.Topic{"FILE", "USER"}, Events: []string{"file.transfer", "user.signin"},
		User: "alice@example.com", Device: "40f9cddab98a432b9c60d734f5f63e7e",
		SOID: "e4c357190e9d314ca135d6f1f6938d9b4e0375957f304b9bbfcddbf87f10b5d2", Folder: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Path: "Team/docs", IP: "10.0.0.1", Key: "k",
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
}

func TestFilterValidate_Errors(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		f    query.Filter
		want string
	}{
		{query.Filter{SOID: "abc"}, "soid: must be 64 hex digits"},
		{query.Filter{SOID: "g" + string(make([]byte, 63))}, "soid: must be 64 hex digits"},
		{query.Filter{Device: "xyz"}, "device: must be 32 hex digits"},
		{query.Filter{Folder: "12"}, "folder: must be 32 hex digits"},
		{query.Filter{IP: "10.0.0.300"}, "ip: not an IP address"},
		{query.Filter{Since: now, Until: now}, "until: must be after since"},
		{query.Filter{Since: now, Until: now.Add(-time.Hour)}, "until: must be after since"},
		{query.Filter{Topics: []schema.Topic{"NOPE"}}, `topic: unknown topic "NOPE"`},
		{query.Filter{Events: []string{"x.y"}}, `event: unknown event "x.y"`},
		{query.Filter{User: "a\x00b"}, "user: must be a user id of 1 to 320 printable characters"},
		{query.Filter{Path: string(make([]byte, 5000))}, "path: must be a path of at most 4096 printable characters"},
		{query.Filter{Key: "a\nb"}, "key: must be a link key of at most 256 printable characters"},
	} {
		err := tc.f.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %q", tc.f, err, tc.want)
		}
	}
}

func TestPageAndStatsValidate(t *testing.T) {
	p := query.Page{}
	if err := p.Validate(); err != nil || p.Limit != query.DefaultLimit {
		t.Errorf("zero page: %v, limit %d", err, p.Limit)
	}
	for _, p := range []query.Page{{Limit: -1}, {Limit: query.MaxLimit + 1}, {Order: 7}} {
		if err := p.Validate(); err == nil {
			t.Errorf("page %+v: no error", p)
		}
	}
	s := query.StatsRequest{}
	if err := s.Validate(); err != nil || s.Top != 10 {
		t.Errorf("zero stats: %v, top %d", err, s.Top)
	}
	for _, s := range []query.StatsRequest{{By: "rest"}, {Top: -1}, {Bucket: time.Microsecond}, {Bucket: -time.Hour}} {
		if err := s.Validate(); err == nil {
			t.Errorf("stats %+v: no error", s)
		}
	}
}
