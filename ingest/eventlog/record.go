package eventlog

import (
	"bytes"

	"github.com/vigilaudit/vigil/schema"
)

// RecordOf returns the log record of a normalized event, keyed by its
// order key (see schema.Event.OrderKey): events with the same key keep
// their order.
func RecordOf(e *schema.Event) Record {
	return Record{Key: []byte(e.OrderKey()), ID: e.ID(), Value: e.Wire()}
}

// Equal reports whether two records hold the same event, key and ID; the
// position the log gave them is not compared.
func (r Record) Equal(o Record) bool {
	return r.ID == o.ID && bytes.Equal(r.Key, o.Key) && bytes.Equal(r.Value, o.Value)
}
