package sinks

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The routes of the sink API.
const (
	// APIPath lists the sinks (GET); APIPath/{name} is one sink.
	APIPath = "/audit/v1/sinks"
)

// Routes returns the sink API: reading routes for admin and auditor
// credentials (httpapi.Read), changing ones for admin credentials.
//
//	GET  /audit/v1/sinks                          every sink's status
//	GET  /audit/v1/sinks/{name}                   one sink's status
//	POST /audit/v1/sinks/{name}/replay            {"since": TIME}: re-send from the log
//	GET  /audit/v1/sinks/{name}/deadletter        ?after=ID&limit=N: parked events
//	POST /audit/v1/sinks/{name}/deadletter/replay re-send the parked events
func (m *Manager) Routes() []httpapi.Route {
	mp := httpapi.Mapper{Family: httpapi.Audit, Logger: m.cfg.Logger, Matches: []httpapi.Match{
		{Err: ErrNotFound, Status: http.StatusNotFound, Code: httpapi.CodeNotFound},
		{Err: ErrBusy, Status: http.StatusConflict, Code: "busy"},
		{Err: ErrNoReplay, Status: http.StatusNotImplemented, Code: "not_implemented"},
		{Err: ErrStopping, Status: http.StatusServiceUnavailable, Code: "unavailable"},
	}}
	h := func(f httpapi.HandlerFunc) http.Handler { return httpapi.NoStore(mp.Handle(f)) }
	return []httpapi.Route{
		{Method: http.MethodGet, Pattern: APIPath, Access: httpapi.Read, Handler: h(m.handleList),
			Summary: "Every sink's status", Response: SinkList{}},
		{Method: http.MethodGet, Pattern: APIPath + "/{name}", Access: httpapi.Read, Handler: h(m.handleStatus),
			Summary: "One sink's status", Response: Status{}},
		{Method: http.MethodGet, Pattern: APIPath + "/{name}/deadletter", Access: httpapi.Read, Handler: h(m.handleDeadLetter),
			Summary: "The events the sink refused, oldest first", Query: []string{"after", "limit"}, Response: DeadLetterPage{}},
		{Method: http.MethodPost, Pattern: APIPath + "/{name}/replay", Access: httpapi.Admin, Handler: h(m.handleReplay),
			Summary: "Re-send the sink what the log holds from a time on", Request: ReplayRequest{},
			Status: http.StatusAccepted, Response: ReplayStatus{}},
		{Method: http.MethodPost, Pattern: APIPath + "/{name}/deadletter/replay", Access: httpapi.Admin, Handler: h(m.handleDeadLetterReplay),
			Summary: "Re-send the events the sink refused", Response: DeadLetterReplay{}},
	}
}

// SinkList is the body of GET /audit/v1/sinks.
type SinkList struct {
	Sinks []Status `json:"sinks"`
}

// DeadLetterPage is the body of GET /audit/v1/sinks/{name}/deadletter.
type DeadLetterPage struct {
	Events []Parked `json:"events"`
	// NextAfter is the after= of the next page; absent on the last.
	NextAfter int64 `json:"next_after,omitempty"`
}

// ReplayRequest is the body of POST /audit/v1/sinks/{name}/replay.
type ReplayRequest struct {
	// Since is an RFC 3339 time, or a duration back from now ("24h",
	// "7d").
	Since string `json:"since"`
}

func (m *Manager) handleList(r *http.Request) (any, error) {
	return SinkList{Sinks: m.Status(r.Context())}, nil
}

func (m *Manager) handleStatus(r *http.Request) (any, error) {
	return m.SinkStatus(r.Context(), chi.URLParam(r, "name"))
}

func (m *Manager) handleDeadLetter(r *http.Request) (any, error) {
	pg, err := httpapi.Paging{Default: 100, Max: 1000, After: true}.Parse(r.URL.Query())
	if err != nil {
		return nil, err
	}
	page, err := m.ListDeadLetter(r.Context(), chi.URLParam(r, "name"), pg.After, pg.Limit)
	if err != nil {
		return nil, err
	}
	out := DeadLetterPage{Events: page}
	if out.Events == nil {
		out.Events = []Parked{}
	}
	if len(page) == pg.Limit {
		out.NextAfter = page[len(page)-1].ID
	}
	return out, nil
}

func (m *Manager) handleReplay(r *http.Request) (any, error) {
	var req ReplayRequest
	if err := httpapi.DecodeJSON(r, &req, 1<<16); err != nil {
		return nil, httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalid, "body: want {\"since\": TIME}")
	}
	since, err := ParseSince(req.Since, time.Now())
	if err != nil {
		return nil, httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalid, "since: "+err.Error())
	}
	st, err := m.StartReplay(chi.URLParam(r, "name"), since)
	if err != nil {
		return nil, err
	}
	return httpapi.Accepted(st), nil
}

func (m *Manager) handleDeadLetterReplay(r *http.Request) (any, error) {
	out, err := m.ReplayDeadLetter(r.Context(), chi.URLParam(r, "name"))
	var de *DeliveryError
	if errors.As(err, &de) {
		// Some may have gone out; say how many along with why it stopped.
		return nil, httpapi.NewError(http.StatusBadGateway, "sink_unavailable", fmt.Sprintf("%v (replayed %d before stopping)", err, out.Replayed))
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseSince reads an RFC 3339 time or a duration back from now: Go's
// syntax ("90m", "24h") or whole days ("7d").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100000 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like 24h or 7d", s)
}
