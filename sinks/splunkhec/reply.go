package splunkhec

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/sinks"
)

// reply is the collector's JSON answer to an event or ack request, such
// as {"text":"Success","code":0,"ackId":7}.
type reply struct {
	Text string
	// Code is HEC's status code, -1 when the reply had none.
	Code int
	// AckID is the request's acknowledgement id, -1 when none.
	AckID int64
	// InvalidEvent is the index of the event a format error is about,
	// -1 when none.
	InvalidEvent int
}

// parseReply reads a collector reply. It reports false when body is not
// a JSON object; fields of the wrong type are taken as absent.
func parseReply(p *fastjson.Parser, body []byte) (reply, bool) {
	r := reply{Code: -1, AckID: -1, InvalidEvent: -1}
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return r, false
	}
	r.Text = string(v.GetStringBytes("text"))
	if n, ok := integer(v.Get("code")); ok && n >= 0 && n <= 1<<20 {
		r.Code = int(n)
	}
	if n, ok := integer(v.Get("ackId")); ok && n >= 0 {
		r.AckID = n
	}
	if n, ok := integer(v.Get("invalid-event-number")); ok && n >= 0 && n <= 1<<30 {
		r.InvalidEvent = int(n)
	}
	return r, true
}

// integer returns v as an int64 when it is a JSON integer.
func integer(v *fastjson.Value) (int64, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	n, err := v.Int64()
	return n, err == nil
}

// parseAcks reads the answer to an ack poll, {"acks":{"0":true,"1":false}},
// and returns the ids acknowledged.
func parseAcks(p *fastjson.Parser, body []byte) ([]int64, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("parse ack reply: %w", err)
	}
	acks := v.Get("acks")
	if acks == nil || acks.Type() != fastjson.TypeObject {
		return nil, errors.New("parse ack reply: no acks object")
	}
	obj, _ := acks.Object() // an object, checked above
	var acked []int64
	var bad error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		id, ok := parseID(key)
		if !ok && bad == nil {
			bad = fmt.Errorf("parse ack reply: ack id %q is not a number", key)
		}
		if ok && v.Type() == fastjson.TypeTrue {
			acked = append(acked, id)
		}
	})
	if bad != nil {
		return nil, bad
	}
	return acked, nil
}

// parseID reads an ack id, a key of the acks object.
func parseID(key []byte) (int64, bool) {
	id, err := strconv.ParseInt(string(key), 10, 64)
	return id, err == nil
}

// class is what a refusal means for the events refused.
type class int

const (
	// retry: the same request may pass later.
	retry class = iota
	// refusing: the token is refused for now (disabled, or not known
	// yet after a rotation): the events wait and are asked for again.
	refusing
	// aboutSink: the sink's settings are refused (index, channel), so
	// every event would be refused alike.
	aboutSink
	// aboutEvents: the events sent are refused.
	aboutEvents
)

// codeInfo is what HEC's documentation says of one status code.
type codeInfo struct {
	text  string
	class class
}

// codes are HEC's documented error codes (0 is success). An internal
// error and a busy server pass later; a disabled or invalid token may
// pass once an administrator enabled it or the token file was rotated;
// the others need a change of configuration or of the events.
var codes = map[int]codeInfo{
	1:  {"token disabled", refusing},
	2:  {"token is required", aboutSink},
	3:  {"invalid authorization", aboutSink},
	4:  {"invalid token", refusing},
	5:  {"no data", aboutEvents},
	6:  {"invalid data format", aboutEvents},
	7:  {"incorrect index", aboutSink},
	8:  {"internal server error", retry},
	9:  {"server is busy", retry},
	10: {"data channel is missing", aboutSink},
	11: {"invalid data channel", aboutSink},
	12: {"event field is required", aboutEvents},
	13: {"event field cannot be blank", aboutEvents},
	14: {"ACK is disabled", aboutSink},
	15: {"error in handling indexed fields", aboutEvents},
	16: {"query string authorization is not enabled", aboutSink},
}

// statusError is a refusal by the collector.
type statusError struct {
	// Status is the HTTP status code.
	Status int
	// Code is HEC's status code, -1 when the reply had none.
	Code int
	// Text is the collector's message, or a description of the status.
	Text string
	// InvalidEvent is the index within the request of the event a
	// format error is about, -1 when none.
	InvalidEvent int
}

func (e *statusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "collector answered %d", e.Status)
	if e.Code >= 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	if e.InvalidEvent >= 0 {
		fmt.Fprintf(&b, " (event %d of the request)", e.InvalidEvent)
	}
	return b.String()
}

// class sorts the refusal. HTTP 404 and 503 are retried whatever the
// code: an indexer in detention, or a collector whose queues are full,
// answers them for a while, and Splunk's own forwarders retry. Other
// replies go by HEC code and, without a known one, by HTTP status: 408,
// 429 and 5xx are retried, 401, 403 and redirects are about the sink.
func (e *statusError) class() class {
	if e.Status == http.StatusNotFound || e.Status == http.StatusServiceUnavailable {
		return retry
	}
	if info, ok := codes[e.Code]; ok {
		return info.class
	}
	switch {
	case e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return retry
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status/100 == 3:
		return aboutSink
	}
	return aboutEvents
}

// checkReply turns an HTTP status and body into nil, a retryable error,
// or an error wrapped by sinks.Permanent, and returns the parsed reply.
func checkReply(p *fastjson.Parser, status int, body []byte) (reply, error) {
	r, isJSON := parseReply(p, body)
	_, known := codes[r.Code]
	if status/100 == 2 && !known {
		return r, nil
	}
	e := &statusError{Status: status, Code: r.Code, Text: printable(r.Text), InvalidEvent: r.InvalidEvent}
	switch {
	case e.Text != "":
	case known:
		e.Text = codes[r.Code].text
	case !isJSON && printable(string(body)) != "":
		e.Text = printable(string(body))
	default:
		e.Text = strings.ToLower(http.StatusText(status))
	}
	switch e.class() {
	case retry:
		return r, e
	case refusing:
		return r, sinks.Refusing(e)
	case aboutSink:
		return r, sinks.PermanentAll(e)
	}
	return r, sinks.Permanent(e)
}

// printable returns s cut to 120 bytes and reduced to one line of
// printable characters, for an error message.
func printable(s string) string {
	const limit = 120
	if len(s) > limit {
		s = s[:limit]
	}
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
