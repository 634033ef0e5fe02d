package eventlog

import (
	"bytes"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// keyFields are the fields that name the user an event is about, most
// telling first. The first one present gives the order key.
var keyFields = []string{"user", "admin_user", "email", "inviter", "sharer", "target_user", "target", "org", "destination_user"}

// RecordOf returns the log record of a normalized event. Its key is the
// submitting user when a device submitted it, else the user the event is
// about, else its caller, else its device; events with the same key keep
// their order.
func RecordOf(e *schema.Event) Record {
	return Record{Key: keyOf(e), ID: e.ID(), Value: e.Wire()}
}

func keyOf(e *schema.Event) []byte {
	if s := e.Submitter(); s.UserID != "" {
		return []byte(s.UserID)
	}
	for _, f := range keyFields {
		if v, ok := e.String(f); ok {
			return []byte(v)
		}
	}
	if raw := e.Value("caller"); raw != nil {
		if email := fastjson.GetString(raw, "email"); email != "" {
			return []byte(email)
		}
	}
	for _, f := range []string{"device", "device_id"} {
		if v, ok := e.String(f); ok {
			return []byte(v)
		}
	}
	return []byte(e.Name())
}

// Equal reports whether two records hold the same event, key and ID; the
// position the log gave them is not compared.
func (r Record) Equal(o Record) bool {
	return r.ID == o.ID && bytes.Equal(r.Key, o.Key) && bytes.Equal(r.Value, o.Value)
}
