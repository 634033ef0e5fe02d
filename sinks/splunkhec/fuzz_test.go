package splunkhec

import (
	"errors"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/sinks"
)

// FuzzCheckReply feeds arbitrary collector replies to the reply decoder:
// it must not panic, must accept only 2xx statuses, and must give every
// error a status and a message.
func FuzzCheckReply(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{200, `{"text":"Success","code":0,"ackId":12}`},
		{400, `{"text":"Invalid data format","code":6,"invalid-event-number":2}`},
		{503, `{"text":"Server is busy","code":9}`},
		{403, `{"text":"Invalid token","code":4}`},
		{502, `<html><body>bad gateway</body></html>`},
		{200, `{"code":1e400,"ackId":-1}`},
		{200, ``},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	var p fastjson.Parser
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, err := checkReply(&p, status, body)
		if err == nil {
			if status/100 != 2 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		var se *statusError
		if !errors.As(err, &se) || se.Status != status {
			t.Fatalf("error %v does not carry status %d", err, status)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		marked := sinks.IsPermanent(err) || sinks.IsRefusing(err)
		if marked == (se.class() == retry) {
			t.Fatalf("error %v: its mark and its class %d disagree", err, se.class())
		}
		_ = r
	})
}

// FuzzParseAcks feeds arbitrary ack poll replies to the ack decoder: it
// must not panic, and every id it returns must be acknowledged in the
// reply.
func FuzzParseAcks(f *testing.F) {
	for _, seed := range []string{
		`{"acks":{"0":true,"1":false,"2":true}}`,
		`{"acks":{}}`,
		`{"acks":[1,2]}`,
		`{"acks":{"99999999999999999999":true}}`,
		`{"text":"ACK is disabled","code":14}`,
	} {
		f.Add([]byte(seed))
	}
	var p, q fastjson.Parser
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := parseAcks(&p, body)
		if err != nil {
			return
		}
		v, perr := q.ParseBytes(body)
		if perr != nil {
			t.Fatalf("parseAcks accepted %q, which does not parse: %v", body, perr)
		}
		acks := v.GetObject("acks")
		for _, id := range ids {
			found := false
			acks.Visit(func(k []byte, v *fastjson.Value) {
				if n, ok := parseID(k); ok && n == id && v.Type() == fastjson.TypeTrue {
					found = true
				}
			})
			if !found {
				t.Fatalf("id %d returned but not acknowledged in %s", id, body)
			}
		}
	})
}
