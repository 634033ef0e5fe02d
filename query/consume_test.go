package query_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
)

// batchWriter is a query.Writer that keeps the wire form of what it is
// given, or fails with err.
type batchWriter struct {
	got [][]byte
	err error
}

func (w *batchWriter) Write(_ context.Context, events []*schema.Event) error {
	for _, e := range events {
		w.got = append(w.got, e.Wire())
	}
	return w.err
}

func TestWriterHandler(t *testing.T) {
	evs := storetest.Samples(t)
	var batch []eventlog.Record
	var want [][]byte
	for _, e := range evs {
		batch = append(batch, eventlog.RecordOf(e))
		want = append(want, e.Wire())
	}
	w := &batchWriter{}
	if err := query.NewWriterHandler(w)(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The events, verified_submitter and received_at included, come back
	// as they were appended.
	if diff := cmp.Diff(want, w.got); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}

	failing := &batchWriter{err: errors.New("disk full")}
	if err := query.NewWriterHandler(failing)(t.Context(), batch[:1]); !errors.Is(err, failing.err) {
		t.Errorf("handler = %v, want the writer's error", err)
	}
}

func TestWriterHandler_UnreadableRecord(t *testing.T) {
	w := &batchWriter{}
	bad := eventlog.Record{ID: "e1", Value: []byte(`{"topic":"NOPE"}`), Partition: 2, Offset: 7}
	err := query.NewWriterHandler(w)(t.Context(), []eventlog.Record{bad})
	if err == nil || !strings.Contains(err.Error(), "read record 2:7 (e1)") {
		t.Errorf("handler = %v, want an error naming the record", err)
	}
	if len(w.got) != 0 {
		t.Errorf("%d events written from an unreadable batch", len(w.got))
	}
}
