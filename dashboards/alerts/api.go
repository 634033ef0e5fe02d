package alerts

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/query"
)

// API is the alerts' part of the audit API.
type API struct {
	s     *Store
	audit query.Audit
	errs  httpapi.Mapper
	now   func() time.Time
}

// NewAPI returns the routes over s. Every read of alerts is recorded
// with audit (an audit.query event), as the query API's reads are.
func NewAPI(s *Store, audit query.Audit, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{s: s, audit: audit, now: time.Now, errs: httpapi.Mapper{Family: httpapi.Audit, Logger: logger, Matches: []httpapi.Match{
		{Err: ErrNotFound, Status: http.StatusNotFound, Code: httpapi.CodeNotFound},
		{Err: ErrConflict, Status: http.StatusConflict, Code: httpapi.CodeExists},
		{Err: ErrInvalid, Status: http.StatusBadRequest, Code: httpapi.CodeInvalid},
	}}}
}

// Page is the answer of GET /audit/v1/alerts.
type Page struct {
	Alerts     []Alert `json:"alerts"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Routes returns the alert routes: auditors and admins read
// (httpapi.Read), only admins change a state (httpapi.Admin):
//
//	GET  /audit/v1/alerts                  list, filtered, cursor paged
//	GET  /audit/v1/alerts/{id}             one alert
//	POST /audit/v1/alerts/{id}/ack         acknowledge (assignee, reason, note)
//	POST /audit/v1/alerts/{id}/resolve     resolve
//	POST /audit/v1/alerts/{id}/dismiss     dismiss
func (a *API) Routes() []httpapi.Route {
	change := func(state string) http.Handler {
		return a.errs.Handle(func(r *http.Request) (any, error) { return a.set(r, state) })
	}
	return []httpapi.Route{
		{Method: http.MethodGet, Pattern: "/audit/v1/alerts", Access: httpapi.Read, Handler: a.errs.Handle(a.list),
			Summary: "List alerts with their current state", Query: []string{"state", "severity", "rule", "user", "since", "until", "limit", "cursor"},
			Response: Page{}},
		{Method: http.MethodGet, Pattern: "/audit/v1/alerts/{id}", Access: httpapi.Read, Handler: a.errs.Handle(a.get),
			Summary: "One alert with its current state", Response: Alert{}},
		{Method: http.MethodPost, Pattern: "/audit/v1/alerts/{id}/ack", Access: httpapi.Admin, Handler: change(Acknowledged),
			Summary: "Acknowledge an alert", Request: Change{}, Response: Alert{}},
		{Method: http.MethodPost, Pattern: "/audit/v1/alerts/{id}/resolve", Access: httpapi.Admin, Handler: change(Resolved),
			Summary: "Resolve an alert", Request: Change{}, Response: Alert{}},
		{Method: http.MethodPost, Pattern: "/audit/v1/alerts/{id}/dismiss", Access: httpapi.Admin, Handler: change(Dismissed),
			Summary: "Dismiss an alert; dismissing one about oneself raises an alert", Request: Change{}, Response: Alert{}},
	}
}

func (a *API) list(r *http.Request) (any, error) {
	f, err := ParseFilter(r.URL.Query(), a.now())
	if err != nil {
		return nil, err
	}
	if err := a.audit.Query(r, a.now(), "json"); err != nil {
		return nil, err
	}
	list, next, err := a.s.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []Alert{}
	}
	return Page{Alerts: list, NextCursor: next}, nil
}

func (a *API) get(r *http.Request) (any, error) {
	if err := a.audit.Query(r, a.now(), "json"); err != nil {
		return nil, err
	}
	return a.s.Get(r.Context(), r.PathValue("id"))
}

// maxBody bounds a change's JSON body.
const maxBody = 16 << 10

func (a *API) set(r *http.Request, state string) (any, error) {
	var c Change
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &c, maxBody); err != nil {
			return nil, err
		}
	}
	p, _ := auth.FromContext(r.Context())
	return a.s.Set(r.Context(), p.Caller(), r.PathValue("id"), state, c)
}

// ParseFilter reads the list's query parameters: state, severity, rule,
// user, since and until (RFC 3339 or a duration back from now: 24h),
// limit and cursor.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	f := Filter{State: q.Get("state"), Severity: q.Get("severity"), Rule: q.Get("rule"), User: q.Get("user"), Cursor: q.Get("cursor")}
	if f.State != "" && f.State != Open && from[f.State] == nil {
		return f, &httpapi.ParamError{Param: "state", Reason: "must be open, acknowledged, resolved or dismissed"}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			*p.to = t
		} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
			*p.to = now.Add(-d)
		} else {
			return f, &httpapi.ParamError{Param: p.name, Reason: "must be an RFC 3339 time or a duration such as 24h"}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return f, &httpapi.ParamError{Param: "limit", Reason: "must be 1 to " + strconv.Itoa(MaxLimit)}
		}
		f.Limit = n
	}
	return f, nil
}
