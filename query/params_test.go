package query

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/schema"
)

var paramNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		query string
		check func(t *testing.T, r Request)
		param string // the ParamError's parameter, "" for success
	}{
		{"", func(t *testing.T, r Request) {
			if r.Limit != DefaultLimit || r.LimitSet || r.Order != Desc || r.Format != "" || r.Top != 10 {
				t.Errorf("defaults %+v", r)
			}
		}, ""},
		{"since=24h&until=2026-11-23T11:00:00%2B01:00", func(t *testing.T, r Request) {
			if !r.Since.Equal(paramNow.Add(-24*time.Hour)) || !r.Until.Equal(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("since %v until %v", r.Since, r.Until)
			}
		}, ""},
		{"since=7d", func(t *testing.T, r Request) {
			if !r.Since.Equal(paramNow.Add(-7 * 24 * time.Hour)) {
				t.Errorf("since %v", r.Since)
			}
		}, ""},
		{"topic=file,link&topic=organization&event=file.transfer&event=link.create,link.download", func(t *testing.T, r Request) {
			if diff := cmp.Diff([]schema.Topic{"FILE", "LINK", "ORG"}, r.Topics); diff != "" {
				t.Error(diff)
			}
			if diff := cmp.Diff([]string{"file.transfer", "link.create", "link.download"}, r.Events); diff != "" {
				t.Error(diff)
			}
		}, ""},
		{"user=Alice@Example.com&order=asc&limit=1000&format=csv&cache=123", func(t *testing.T, r Request) {
			if r.User != "alice@example.com" || r.Order != Asc || r.Limit != 1000 || !r.LimitSet || r.Format != "csv" {
				t.Errorf("%+v", r)
			}
		}, ""},
		{"bucket=1h&by=user&top=5", func(t *testing.T, r Request) {
			if r.Bucket != time.Hour || r.By != "user" || r.Top != 5 {
				t.Errorf("%+v", r)
			}
		}, ""},
		{"since=yesterday", nil, "since"},
		{"until=-5h", nil, "until"},
		{"topic=NOPE", nil, "topic"},
		{"event=file.teleport", nil, "event"},
		{"order=sideways", nil, "order"},
		{"limit=0", nil, "limit"},
		{"limit=1001", nil, "limit"},
		{"limit=ten", nil, "limit"},
		{"format=xml", nil, "format"},
		{"bucket=10s", nil, "bucket"},
		{"by=password", nil, "by"},
		{"top=0", nil, "top"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseRequest(q, paramNow)
			if tt.param != "" {
				var pe *ParamError
				if !errors.As(err, &pe) || pe.Param != tt.param {
					t.Fatalf("err = %v, want a ParamError on %s", err, tt.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

// FuzzParseRequest: any query string parses to a request or a clear
// error, never a panic.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"since=24h&topic=FILE", "user=a@b.c&soid=" + "ab", "limit=5&cursor=xyz", "path=%25_&ip=::1", "bucket=1.5d&by=user&top=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseRequest(q, paramNow)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if r.Limit < 1 || r.Limit > MaxLimit {
			t.Fatalf("limit %d", r.Limit)
		}
	})
}
