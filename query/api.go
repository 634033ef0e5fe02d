package query

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/schema"
)

// Audit records that someone read the audit data: it gets an
// audit.query event (ingest's Emit).
type Audit func(ctx context.Context, events ...*schema.Event) error

// Query records the read r as an audit.query event at time at, in
// format, with its caller, route and filter. A read that cannot be
// recorded is not to be answered: the error is the API's 503.
func (a Audit) Query(r *http.Request, at time.Time, format string) error {
	p, _ := auth.FromContext(r.Context())
	event, err := schema.New("audit.query", at, schema.Fields{
		"caller": p.Caller(), "route": validUTF8(r.URL.Path), "filter": validUTF8(r.URL.RawQuery), "format": format,
	})
	if err == nil {
		err = a(r.Context(), event)
	}
	if err != nil {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeInternal,
			Message: "the query could not be recorded; try again", Err: fmt.Errorf("record query: %w", err)}
	}
	return nil
}

// API is the HTTP query API.
type API struct {
	store  Reader
	audit  Audit
	logger *slog.Logger
	errs   httpapi.Mapper
	now    func() time.Time
	// Poll is how often the live tail looks for new events.
	Poll time.Duration
}

// NewAPI returns the query API over store. Every query is recorded with
// audit.
func NewAPI(store Reader, audit Audit, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{store: store, audit: audit, logger: logger, errs: httpapi.Mapper{Family: httpapi.Audit, Logger: logger},
		now: time.Now, Poll: time.Second}
}

// queryParams are the query parameters of every route (ParseRequest).
func queryParams() []string {
	return []string{"since", "until", "topic", "event", "user", "device", "soid", "path", "ip", "key", "folder",
		"order", "limit", "cursor", "format", "bucket", "by", "top"}
}

// Routes returns the query API, for admin and auditor credentials
// (httpapi.Read):
//
//	GET /audit/v1/events          search and export (json, ndjson, csv)
//	GET /audit/v1/stats           counts per time bucket and top values
//	GET /audit/v1/events/stream   live tail (Server-Sent Events)
func (a *API) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Pattern: "/audit/v1/events", Access: httpapi.Read, Handler: a.errs.Stream(a.events),
			Summary: "Search and export events", Query: queryParams(), Response: eventsPage{},
			Produces: []string{"application/x-ndjson", "text/csv"}},
		{Method: http.MethodGet, Pattern: "/audit/v1/stats", Access: httpapi.Read, Handler: a.errs.Handle(a.stats),
			Summary: "Counts per time bucket and top values", Query: queryParams(), Response: Stats{}},
		{Method: http.MethodGet, Pattern: "/audit/v1/events/stream", Access: httpapi.Read, Handler: a.errs.Stream(a.stream),
			Summary: "Live tail, as Server-Sent Events whose ids are cursors", Query: queryParams(),
			Produces: []string{"text/event-stream"}},
	}
}

// eventsPage documents the JSON answer of GET /audit/v1/events, which
// events writes itself.
type eventsPage struct {
	Events     []json.RawMessage `json:"events"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// request parses the query and records it.
func (a *API) request(r *http.Request) (Request, error) {
	req, err := ParseRequest(r.URL.Query(), a.now())
	if err != nil {
		var pe *ParamError
		if !errors.As(err, &pe) {
			err = httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalid, err.Error())
		}
		return req, err
	}
	if req.Format == "" {
		req.Format = negotiate(r.Header.Get("Accept"))
	}
	if err := a.audit.Query(r, a.now(), req.Format); err != nil {
		return req, err
	}
	return req, nil
}

// validUTF8 replaces each byte of s that is not UTF-8 with U+FFFD, as
// encoding/json does: a request's path and query are bytes, and the
// audit event records them as text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += size
	}
	return b.String()
}

func negotiate(accept string) string {
	switch {
	case strings.Contains(accept, "application/x-ndjson"), strings.Contains(accept, "application/jsonl"):
		return "ndjson"
	case strings.Contains(accept, "text/csv"):
		return "csv"
	}
	return "json"
}

// failed is the answer to a store error.
func failed(err error) error {
	if errors.Is(err, ErrBadCursor) {
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalid, "cursor: not a cursor of this query")
	}
	return &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal, Message: "the query failed", Err: err}
}

func (a *API) events(w http.ResponseWriter, r *http.Request) error {
	req, err := a.request(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if req.Format != "json" && !req.LimitSet {
		// Exports stream every match.
		out := newEncoder(w, req.Format)
		started := false
		err := a.store.Stream(ctx, req.Filter, req.Order, func(wire []byte) error {
			started = true
			return out.write(wire)
		})
		if err != nil && !started {
			return failed(err)
		}
		if err != nil {
			a.logger.Warn("export ended early", "err", err)
		}
		out.flush()
		return nil
	}
	if err := req.Page.Pin(); err != nil {
		return failed(err)
	}
	res, err := a.store.Search(ctx, req.Page)
	if err != nil {
		return failed(err)
	}
	if req.Format != "json" {
		out := newEncoder(w, req.Format)
		for _, e := range res.Events {
			if err := out.write(e); err != nil {
				return nil // the client is gone
			}
		}
		out.flush()
		return nil
	}
	// The events are already JSON: write them as they are.
	w.Header().Set("Content-Type", "application/json")
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i, e := range res.Events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	if res.NextCursor != "" {
		c, _ := json.Marshal(res.NextCursor)
		b.WriteString(`,"next_cursor":`)
		b.Write(c)
	}
	b.WriteString("}\n")
	_, _ = w.Write([]byte(b.String()))
	return nil
}

func (a *API) stats(r *http.Request) (any, error) {
	req, err := a.request(r)
	if err != nil {
		return nil, err
	}
	st, err := a.store.Stats(r.Context(), StatsRequest{Filter: req.Filter, Bucket: req.Bucket, By: req.By, Top: req.Top})
	if err != nil {
		return nil, failed(err)
	}
	return st, nil
}

// stream is the live tail: events matching the filter as they are
// stored, oldest first, as Server-Sent Events whose ids are cursors, so
// that a client reconnecting with Last-Event-ID resumes where it was.
func (a *API) stream(w http.ResponseWriter, r *http.Request) error {
	req, err := a.request(r)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return httpapi.NewError(http.StatusInternalServerError, httpapi.CodeInternal, "streaming unsupported")
	}
	page := Page{Filter: req.Filter, Order: Asc, Limit: MaxLimit, Cursor: r.Header.Get("Last-Event-ID")}
	if page.Cursor == "" {
		page.Cursor = req.Cursor
	}
	if err := page.Pin(); err != nil {
		return failed(err)
	}
	if page.Cursor == "" && page.Since.IsZero() {
		// From now on: a cursor after every event stored a second ago or
		// earlier (no event_id sorts after 64 'z's), so that the ids the
		// stream sends resume the same search.
		page.Cursor = Cursor{Time: a.now().Add(-time.Second).UnixMilli() - 1, EventID: strings.Repeat("z", 64)}.Encode(page.Filter, page.Order)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := r.Context()
	t := time.NewTicker(a.Poll)
	defer t.Stop()
	for {
		res, err := a.store.Search(ctx, page)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
				flusher.Flush()
			}
			return nil
		}
		for i, e := range res.Events {
			if i == len(res.Events)-1 {
				page.Cursor, err = CursorAfter(page, e)
				if err != nil {
					return nil
				}
				fmt.Fprintf(w, "id: %s\n", page.Cursor)
			}
			fmt.Fprintf(w, "data: %s\n\n", e)
		}
		if len(res.Events) > 0 {
			flusher.Flush()
		}
		if len(res.Events) == page.Limit {
			continue // more is waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// encoder writes events as NDJSON or CSV.
type encoder struct {
	w      http.ResponseWriter
	format string
	csv    *csv.Writer
	p      fastjson.Parser
}

// csvColumns are the columns of a CSV export: the common fields, then the
// whole event as JSON.
var csvColumns = []string{"timestamp", "topic", "event", "event_id", "submitter_user", "submitter_device", "user", "device", "event_json"}

func newEncoder(w http.ResponseWriter, format string) *encoder {
	e := &encoder{w: w, format: format}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		e.csv = csv.NewWriter(w)
		_ = e.csv.Write(csvColumns)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	return e
}

func (e *encoder) write(wire []byte) error {
	if e.csv == nil {
		if _, err := e.w.Write(wire); err != nil {
			return err
		}
		_, err := e.w.Write([]byte{'\n'})
		return err
	}
	v, err := e.p.ParseBytes(wire)
	if err != nil {
		return fmt.Errorf("read stored event: %w", err)
	}
	get := func(keys ...string) string { return string(v.GetStringBytes(keys...)) }
	user := get("user")
	if user == "" {
		user = get("caller", "email")
	}
	device := get("device")
	if device == "" {
		device = get("device_id")
	}
	return e.csv.Write([]string{get("timestamp"), get("topic"), get("event"), get("event_id"),
		get("verified_submitter", "user_id"), get("verified_submitter", "device_id"), user, device, string(wire)})
}

func (e *encoder) flush() {
	if e.csv != nil {
		e.csv.Flush()
	}
}
