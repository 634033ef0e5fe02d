package httpapi

import (
	"net/url"
	"strconv"
)

// Paging says how a list route pages: its default and largest limit, and
// whether its position is after=ID (a numeric position) or cursor=OPAQUE
// (the store's own).
type Paging struct {
	Default, Max int
	After        bool
}

// Page is a request's position in a list: limit=N, and after=ID or
// cursor=OPAQUE.
type Page struct {
	Limit int
	// LimitSet says whether limit was given.
	LimitSet bool
	After    int64
	Cursor   string
}

// Parse reads limit, and after or cursor, from q. A bad value is a
// *ParamError naming the parameter.
func (p Paging) Parse(q url.Values) (Page, error) {
	pg := Page{Limit: p.Default}
	if !p.After {
		pg.Cursor = q.Get("cursor")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > p.Max {
			return Page{}, &ParamError{Param: "limit", Reason: "must be 1 to " + strconv.Itoa(p.Max)}
		}
		pg.Limit, pg.LimitSet = n, true
	}
	if v := q.Get("after"); p.After && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Page{}, &ParamError{Param: "after", Reason: "must be a non-negative integer"}
		}
		pg.After = n
	}
	return pg, nil
}
