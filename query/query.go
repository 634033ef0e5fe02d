package query

import (
	"context"
	"errors"
	"time"

	"github.com/vigilaudit/vigil/schema"
)

// ErrBadCursor means a cursor was not made by this store for this query.
var ErrBadCursor = errors.New("invalid cursor")

// Filter selects events. Zero fields select everything.
type Filter struct {
	// Since and Until bound the event's timestamp: Since <= t < Until.
	Since, Until time.Time
	// SinceAgo and UntilAgo, when not zero, say that Since and Until were
	// asked for relative to now ("since=30d"). A cursor binds the
	// request as written and carries the times it resolved to, so that
	// every page of a search (and a resumed stream) reads the same window
	// (see Page.Pin).
	SinceAgo, UntilAgo time.Duration
	// Topics and Events match any of the given values.
	Topics []schema.Topic
	Events []string
	// User matches an event where the user plays any role: submitter,
	// user, admin_user, target_user, target, owner, inviter, invitee,
	// sharer, email, destination_user, org, caller (email or acting_as).
	// Compared lower-cased.
	User string
	// Device matches any device role: submitter device, device,
	// device_id, destination_device, mobile_device, caller.device.
	Device string
	// SOID is the 64-hex store and object id of a file or folder.
	SOID string
	// Path matches a prefix of path.relative_path or path_to.relative_path.
	Path string
	// IP, Key (a link's key) and Folder (a shared folder's id) match
	// exactly.
	IP, Key, Folder string
}

// Order is the order of results by time (then event_id).
type Order int

// The orders.
const (
	Desc Order = iota // newest first, the default
	Asc
)

// Page asks for one page of a search.
type Page struct {
	Filter
	Order Order
	// Limit is the most events returned (1 to 1000).
	Limit int
	// Cursor continues after the last event of a previous page of the
	// same search; empty starts at the beginning. Cursors are opaque and
	// stay valid while new events arrive.
	Cursor string
}

// Pin gives a page that continues a search with relative times the
// window its cursor was made in: Since and Until become the times the
// first page resolved. A page without a cursor, or without relative
// times, is left as it is. A cursor of another search is ErrBadCursor.
func (p *Page) Pin() error {
	if p.Cursor == "" || (p.SinceAgo == 0 && p.UntilAgo == 0) {
		return nil
	}
	c, err := ParseCursor(p.Cursor, p.Filter, p.Order)
	if err != nil {
		return err
	}
	if p.SinceAgo != 0 {
		p.Since = c.Since
	}
	if p.UntilAgo != 0 {
		p.Until = c.Until
	}
	return nil
}

// Result is one page: events in wire form, and the cursor of the next
// page ("" on the last one).
type Result struct {
	Events     [][]byte
	NextCursor string
}

// Writer stores events. Write is idempotent by event_id: writing an event
// again (a redelivered batch) changes nothing, and no search, count or
// rollup ever shows it twice.
type Writer interface {
	Write(ctx context.Context, events []*schema.Event) error
}

// Reader answers queries.
type Reader interface {
	// Search returns one page of the events matching p, in p.Order.
	Search(ctx context.Context, p Page) (Result, error)
	// Stream calls fn with every event matching f, in order, for exports.
	Stream(ctx context.Context, f Filter, order Order, fn func(wire []byte) error) error
	// Stats counts the events matching s.Filter per time bucket, and the
	// top values of a field.
	Stats(ctx context.Context, s StatsRequest) (Stats, error)
}

// Store is a Writer and a Reader.
type Store interface {
	Writer
	Reader
	Close() error
}

// Pinger is a store that can tell whether it answers: /readyz asks it.
type Pinger interface {
	// Ping returns nil when the store's database answers.
	Ping(ctx context.Context) error
}

// Expirer is a store that keeps events for a retention period.
type Expirer interface {
	// DropExpired drops what is past the retention at now, and returns
	// how many parts (partitions, months) it dropped.
	DropExpired(ctx context.Context, now time.Time) (int, error)
}

// StatsRequest asks for counts.
type StatsRequest struct {
	Filter
	// Bucket is the width of the time buckets (minute, hour, day...).
	// Zero asks for no time series.
	Bucket time.Duration
	// By names a field to rank: "user", "device", "event", "topic", "ip",
	// "key", "folder". Empty asks for no ranking.
	By string
	// Top is how many values of By to return (default 10).
	Top int
}

// Stats is the answer to a StatsRequest.
type Stats struct {
	Total   int64    `json:"total"`
	Buckets []Bucket `json:"buckets,omitempty"`
	Top     []Count  `json:"top,omitempty"`
}

// Bucket counts the events of [Start, Start+width).
type Bucket struct {
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
}

// Count is how many events have Value in the ranked field.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}
