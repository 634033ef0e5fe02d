package contentapi

import (
	"net/url"
	"strconv"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// Page is a request's place in a list paged by key (GET /users):
// limit=N, and after=KEY or before=KEY, keys being the list's own (an
// email for users).
type Page struct {
	Limit         int
	After, Before string
}

// ParsePage reads limit, after and before from q: limit defaults to def
// and is capped at max; a limit that is not a positive number, or after
// and before together, is 400 BAD_ARGS naming the parameter.
func ParsePage(q url.Values, def, max int) (Page, error) {
	limit, err := count(q, "limit", def, max, 1)
	if err != nil {
		return Page{}, err
	}
	p := Page{Limit: limit, After: q.Get("after"), Before: q.Get("before")}
	if p.After != "" && p.Before != "" {
		return Page{}, &httpapi.ParamError{Param: "before", Reason: "cannot be given with after"}
	}
	return p, nil
}

// List is one page of a list paged by key: {"data": [...], "has_more"}.
type List[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// NewList returns the page of items for a request of limit: a store
// asks for limit+1 items, and the extra one only says there are more.
// Data is never null.
func NewList[T any](items []T, limit int) List[T] {
	l := List[T]{Data: items, HasMore: len(items) > limit}
	if l.HasMore {
		l.Data = items[:limit]
	}
	if l.Data == nil {
		l.Data = []T{}
	}
	return l
}

// Window is a request's place in a list paged by position (GET
// /groups): offset=N (from 0) and results=N.
type Window struct {
	Offset, Results int
}

// ParseWindow reads offset and results from q: offset defaults to 0,
// results to def, capped at max; a value that is not a number in range
// is 400 BAD_ARGS naming the parameter.
func ParseWindow(q url.Values, def, max int) (Window, error) {
	off, err := count(q, "offset", 0, int(^uint32(0)>>1), 0)
	if err != nil {
		return Window{}, err
	}
	n, err := count(q, "results", def, max, 1)
	if err != nil {
		return Window{}, err
	}
	return Window{Offset: off, Results: n}, nil
}

// count reads the whole number q[name], at least lo, capped at hi; def
// when absent or empty.
func count(q url.Values, name string, def, hi, lo int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, &httpapi.ParamError{Param: name, Reason: "must be a whole number, at least " + strconv.Itoa(lo)}
	}
	return min(n, hi), nil
}
