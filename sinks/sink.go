package sinks

import (
	"context"
	"errors"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Sink moves a batch of records to one downstream system. It only moves
// bytes: the Forwarder owns filtering, retries, backoff, dead letters and
// metrics, and the log's consume loop owns batching and offsets.
//
// A constructor makes no network call; a sink connects on its first Write
// and reconnects after any failure.
type Sink interface {
	// Write returns nil only once the downstream system has every record
	// of batch (written and flushed, or acknowledged where the protocol
	// has acknowledgements). On error, none of the batch may be assumed
	// delivered, though some may be: the batch is written again, whole,
	// so receivers see each event at least once. An error wrapped by
	// Permanent means that writing the same records again cannot succeed.
	// Write is never called concurrently with itself.
	Write(ctx context.Context, batch []eventlog.Record) error
	// Close releases connections. Write is not called after Close.
	Close() error
}

// Settler is implemented by sinks whose receiver can still lose a batch
// after it took every byte: over a stream protocol without
// acknowledgements, the receiver's kernel acknowledges bytes its process
// may never read (it restarts, or closes without reading what is left).
// Such a sink's Write returns only once the batch settled; WriteSettling
// lets the Forwarder write the next batches meanwhile.
type Settler interface {
	// WriteSettling writes batch as Write does, but returns nil as soon
	// as the receiver took every byte, and later calls settled exactly
	// once: with nil once the batch can no longer be lost, or with the
	// error that ended the connection before that (the batch must then
	// be written again). settled must not block. When WriteSettling
	// returns an error, settled is never called.
	WriteSettling(ctx context.Context, batch []eventlog.Record, settled func(error)) error
}

// Connected is implemented by sinks that hold a connection, for status.
type Connected interface {
	// Connected reports whether the sink holds an open connection now.
	Connected() bool
}

// Framer is implemented by sinks whose receivers limit the size of one
// frame (syslog-ng's log_msg_size, rsyslog's maxMessageSize): the
// Forwarder holds each record against the sink's max_frame_bytes before
// writing it, and applies the sink's oversize policy to those over it.
type Framer interface {
	// FrameSize returns the bytes rec takes on the wire as one frame,
	// everything the receiver counts against its limit included (a
	// syslog header and octet count, a trailing newline). It must not
	// block and may be called concurrently with Write.
	FrameSize(rec eventlog.Record) int
}

// permanentError marks an error that retrying cannot fix; all means it
// is about the sink's settings rather than particular records.
type permanentError struct {
	err error
	all bool
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that writing the same records again cannot
// fix (the downstream rejects their format, the token is invalid): the
// Forwarder parks such records in the sink's dead letter instead of
// retrying them. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// PermanentAll marks err as permanent for every record alike: the
// downstream refuses the sink itself (an invalid or disabled token, an
// unknown index), whatever it is sent. The Forwarder parks the whole
// batch at once instead of looking for the records at fault, and the
// sink's status says it refuses. PermanentAll(nil) is nil.
func PermanentAll(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err, all: true}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent or PermanentAll.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// IsPermanentAll reports whether err, or an error it wraps, was marked
// by PermanentAll.
func IsPermanentAll(err error) bool {
	var p *permanentError
	return errors.As(err, &p) && p.all
}

// refusingError marks a refusal of the sink itself that can end without
// a change of Vigil's configuration: a disabled token enabled again, a
// token file rotated, acknowledgement turned on for the token.
type refusingError struct{ err error }

func (e *refusingError) Error() string { return e.err.Error() }
func (e *refusingError) Unwrap() error { return e.err }

// Refusing marks err as a refusal of the sink itself that is to be
// retried rather than parked: the records wait in the log, the sink's
// status says it refuses, and the consume loop writes them again (the
// sink decides how often it asks the downstream meanwhile). Refusing(nil)
// is nil.
func Refusing(err error) error {
	if err == nil {
		return nil
	}
	return &refusingError{err: err}
}

// IsRefusing reports whether err, or an error it wraps, was marked by
// Refusing.
func IsRefusing(err error) bool {
	var r *refusingError
	return errors.As(err, &r)
}

// refusedAtError reports that the downstream took the records of a write
// before Index, refused the one at Index permanently, and took none
// after it.
type refusedAtError struct {
	index int
	err   error
}

func (e *refusedAtError) Error() string { return e.err.Error() }
func (e *refusedAtError) Unwrap() error { return e.err }

// RefusedAt marks err as the permanent refusal of record i of a write,
// by a downstream that took every record before it and none after it
// (Splunk HEC's invalid-event-number): the Forwarder counts the records
// before i delivered, parks record i alone, and writes the rest again.
// The error is also Permanent, so code that does not know RefusedAt
// still parks nothing that the downstream would take. RefusedAt(i, nil)
// is nil.
func RefusedAt(i int, err error) error {
	if err == nil {
		return nil
	}
	return &refusedAtError{index: i, err: Permanent(err)}
}

// RefusedIndex returns the index of the record refused, when err, or an
// error it wraps, was marked by RefusedAt.
func RefusedIndex(err error) (int, bool) {
	var r *refusedAtError
	if errors.As(err, &r) {
		return r.index, true
	}
	return 0, false
}
