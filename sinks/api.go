package sinks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The routes of the sink API.
const (
	// APIPath lists the sinks (GET); APIPath/{name} is one sink.
	APIPath = "/audit/v1/sinks"
)

// Mount adds the sink API to r: reading routes behind read (an admin or
// auditor credential), changing ones behind write (an admin credential).
//
//	GET  /audit/v1/sinks                          every sink's status
//	GET  /audit/v1/sinks/{name}                   one sink's status
//	POST /audit/v1/sinks/{name}/replay            {"since": TIME}: re-send from the log
//	GET  /audit/v1/sinks/{name}/deadletter        ?after=ID&limit=N: parked events
//	POST /audit/v1/sinks/{name}/deadletter/replay re-send the parked events
func (m *Manager) Mount(r chi.Router, read, write func(http.Handler) http.Handler) {
	r.With(read).Get(APIPath, m.handleList)
	r.With(read).Get(APIPath+"/{name}", m.handleStatus)
	r.With(read).Get(APIPath+"/{name}/deadletter", m.handleDeadLetter)
	r.With(write).Post(APIPath+"/{name}/replay", m.handleReplay)
	r.With(write).Post(APIPath+"/{name}/deadletter/replay", m.handleDeadLetterReplay)
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

func (m *Manager) handleList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, SinkList{Sinks: m.Status(r.Context())})
}

func (m *Manager) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := m.SinkStatus(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (m *Manager) handleDeadLetter(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	limit := 100
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request", "after: want a non-negative integer")
			return
		}
		after = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_request", "limit: want an integer from 1 to 1000")
			return
		}
		limit = n
	}
	page, err := m.ListDeadLetter(r.Context(), chi.URLParam(r, "name"), after, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := DeadLetterPage{Events: page}
	if out.Events == nil {
		out.Events = []Parked{}
	}
	if len(page) == limit {
		out.NextAfter = page[len(page)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (m *Manager) handleReplay(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "body: want {\"since\": TIME}")
		return
	}
	since, err := ParseSince(req.Since, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "since: "+err.Error())
		return
	}
	st, err := m.StartReplay(chi.URLParam(r, "name"), since)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

func (m *Manager) handleDeadLetterReplay(w http.ResponseWriter, r *http.Request) {
	out, err := m.ReplayDeadLetter(r.Context(), chi.URLParam(r, "name"))
	var de *DeliveryError
	switch {
	case errors.As(err, &de):
		// Some may have gone out; say how many along with why it stopped.
		writeError(w, http.StatusBadGateway, "sink_unavailable", fmt.Sprintf("%v (replayed %d before stopping)", err, out.Replayed))
	case err != nil:
		writeErr(w, err)
	default:
		writeJSON(w, http.StatusOK, out)
	}
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

// writeErr maps the Manager's errors to statuses.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrBusy):
		writeError(w, http.StatusConflict, "busy", err.Error())
	case errors.Is(err, ErrNoReplay):
		writeError(w, http.StatusNotImplemented, "not_implemented", err.Error())
	case errors.Is(err, ErrStopping):
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// writeError writes the audit APIs' one error shape,
// {"error": {"code": "...", "message": "..."}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error detail `json:"error"`
	}{detail{code, message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}
