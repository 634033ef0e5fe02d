package httpapi

import (
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPaging_Parse(t *testing.T) {
	after := Paging{Default: 100, Max: 1000, After: true}
	cursor := Paging{Default: 100, Max: 1000}
	tests := []struct {
		name   string
		p      Paging
		query  string
		want   Page
		param  string // the ParamError's parameter
		reason string
	}{
		{name: "Defaults", p: after, want: Page{Limit: 100}},
		{name: "AfterAndLimit", p: after, query: "after=17&limit=5", want: Page{Limit: 5, LimitSet: true, After: 17}},
		{name: "CursorIgnoredByAfter", p: after, query: "cursor=abc", want: Page{Limit: 100}},
		{name: "Cursor", p: cursor, query: "cursor=abc&limit=1000", want: Page{Limit: 1000, LimitSet: true, Cursor: "abc"}},
		{name: "AfterIgnoredByCursor", p: cursor, query: "after=x", want: Page{Limit: 100}},
		{name: "LimitZero", p: after, query: "limit=0", param: "limit", reason: "must be 1 to 1000"},
		{name: "LimitTooLarge", p: cursor, query: "limit=1001", param: "limit", reason: "must be 1 to 1000"},
		{name: "LimitNotANumber", p: cursor, query: "limit=ten", param: "limit", reason: "must be 1 to 1000"},
		{name: "AfterNegative", p: after, query: "after=-1", param: "after", reason: "must be a non-negative integer"},
		{name: "AfterNotANumber", p: after, query: "after=1e3", param: "after", reason: "must be a non-negative integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, err := tt.p.Parse(q)
			if tt.param == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				return
			}
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Param != tt.param || pe.Reason != tt.reason {
				t.Errorf("Parse = %v, want %s: %s", err, tt.param, tt.reason)
			}
			if e := (Mapper{}).Map(err); e.Status != 400 || e.Code != CodeInvalid || e.Message != tt.param+": "+tt.reason {
				t.Errorf("answer %+v", e)
			}
		})
	}
}

// FuzzPaging_Parse checks that any query string either parses into a
// page within bounds or is a ParamError.
func FuzzPaging_Parse(f *testing.F) {
	for _, s := range []string{"", "limit=10", "after=5&limit=1000", "limit=-1", "after=99999999999999999999", "cursor=%zz", "limit=1&limit=2"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, byAfter bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := Paging{Default: 100, Max: 1000, After: byAfter}
		pg, err := p.Parse(q)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, not a ParamError", raw, err)
			}
			return
		}
		if pg.Limit < 1 || pg.Limit > p.Max || pg.After < 0 || (byAfter && pg.Cursor != "") || (!byAfter && pg.After != 0) {
			t.Fatalf("Parse(%q) = %+v, out of bounds", raw, pg)
		}
	})
}
