package query_test

import (
	"errors"
	"testing"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

func TestCursor_RoundTrip(t *testing.T) {
	f := query.Filter{User: "Alice@Example.com", Topics: []schema.Topic{"FILE", "USER"}}
	c := query.Cursor{Time: 1459372699123, EventID: "01AF4P8BFKWETC4YH8PYN4X0BF"}
	s := c.Encode(f, query.Desc)
	got, err := query.ParseCursor(s, query.Filter{User: "alice@example.com", Topics: []schema.Topic{"user", "FILE"}}, query.Desc)
	if err != nil || got != c {
		t.Fatalf("ParseCursor = %+v, %v; want %+v", got, err, c)
	}
}

func TestCursor_OtherSearchIsBad(t *testing.T) {
	f := query.Filter{User: "alice@example.com"}
	s := query.Cursor{Time: 5, EventID: "x"}.Encode(f, query.Desc)
	for name, tc := range map[string]struct {
		s string
		f query.Filter
		o query.Order
	}{
		"other user":  {s, query.Filter{User: "bob@example.com"}, query.Desc},
		"other order": {s, f, query.Asc},
		"garbage":     {"not a cursor!", f, query.Desc},
		"empty id":    {query.Cursor{Time: 5}.Encode(f, query.Desc), f, query.Desc},
		"truncated":   {s[:10], f, query.Desc},
	} {
		if _, err := query.ParseCursor(tc.s, tc.f, tc.o); !errors.Is(err, query.ErrBadCursor) {
			t.Errorf("%s: err = %v, want ErrBadCursor", name, err)
		}
	}
}

func TestCursorAfter(t *testing.T) {
	wire := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2016-03-30T21:18:19.123Z","event_id":"abc","user":"a@b.c","authority":"LDAP"}`)
	p := query.Page{Order: query.Asc}
	s, err := query.CursorAfter(p, wire)
	if err != nil {
		t.Fatal(err)
	}
	c, err := query.ParseCursor(s, p.Filter, p.Order)
	if err != nil || c.Time != 1459372699123 || c.EventID != "abc" {
		t.Fatalf("cursor = %+v, %v", c, err)
	}
	if _, err := query.CursorAfter(p, []byte(`{"topic":"USER"}`)); err == nil {
		t.Error("CursorAfter of an event without a key: no error")
	}
}

func FuzzParseCursor(f *testing.F) {
	filter := query.Filter{Path: "a/b"}
	f.Add(query.Cursor{Time: 1, EventID: "01AF4P8BFKWETC4YH8PYN4X0BF"}.Encode(filter, query.Asc))
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := query.ParseCursor(s, filter, query.Asc)
		if err != nil {
			if !errors.Is(err, query.ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		again, err := query.ParseCursor(c.Encode(filter, query.Asc), filter, query.Asc)
		if err != nil || again != c {
			t.Fatalf("re-encoded cursor %+v reads as %+v, %v", c, again, err)
		}
	})
}
