package filelog

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults of Config's zero values.
const (
	DefaultMaxBytes     = 10 << 30
	DefaultSegmentBytes = 256 << 20
)

// minSegmentBytes keeps segments from being absurdly small.
const minSegmentBytes = 1 << 10

// Config configures a Log. Zero values are the defaults.
type Config struct {
	// MaxBytes bounds the log's segments on disk (default 10 GiB; a new
	// segment's 32-byte header may pass it briefly). When an append does
	// not fit after retention freed what it may, Append returns
	// eventlog.ErrFull.
	MaxBytes int64 `yaml:"max_bytes" size:"bytes"`
	// SegmentBytes is the size at which a segment is sealed and a new one
	// begun (default 256 MiB). It must be smaller than MaxBytes: the
	// segment being written is never deleted.
	SegmentBytes int64 `yaml:"segment_bytes" size:"bytes"`
	// Retention deletes segments whose records are all older than this,
	// unless a required group has not committed them. Zero keeps records
	// until the size budget needs room.
	Retention time.Duration `yaml:"retention"`
	// Groups says which consumer groups are required: retention never
	// deletes what a required group has not committed, and a required
	// group listed here holds records from the oldest retained one even
	// before it first commits. A group not listed is required when it is
	// named "store" or starts with "sink.".
	Groups map[string]bool `yaml:"-"`
	// OnSkip, if set, is called when retention moves a group that is not
	// required past records it had not committed, with how many it lost.
	// It is called from a goroutine of the Log, one call at a time, and
	// may append to the Log.
	OnSkip func(group string, skipped int64) `yaml:"-"`
	// OnCorrupt, if set, is called once for each damaged region of a
	// segment that Open or a reader finds and skips (and that no earlier
	// run had copied aside), from the same goroutine as OnSkip.
	OnCorrupt func(Corruption) `yaml:"-"`
	// Logger receives the log's own messages (torn tails, damaged
	// regions, deleted segments, skipped groups). Nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// SetDefaults replaces the zero sizes by the defaults. The default
// segment size shrinks to a quarter of a small MaxBytes, so that
// max_bytes alone (64MiB, say) is a valid configuration.
func (c *Config) SetDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = min(DefaultSegmentBytes, max(c.MaxBytes/4, minSegmentBytes))
	}
}

func (c Config) withDefaults() Config {
	c.SetDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem in c, each naming its configuration key.
// Zero values stand for their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var p config.Problems
	p.NotNegative("max_bytes", c.MaxBytes)
	switch {
	case c.SegmentBytes < 0:
		p.Add("segment_bytes", "must not be negative")
	case c.SegmentBytes < minSegmentBytes:
		p.Add("segment_bytes", "must be at least %d", minSegmentBytes)
	case c.MaxBytes > 0 && c.SegmentBytes >= c.MaxBytes:
		p.Add("segment_bytes", "must be smaller than max_bytes")
	}
	p.NotNegative("retention", int64(c.Retention))
	for _, g := range slices.Sorted(maps.Keys(c.Groups)) {
		if err := checkGroup(g); err != nil {
			p.Add("groups", "%q: %v", g, err)
		}
	}
	return p.Err()
}

// required reports whether retention must keep what group has not
// committed.
func (c Config) required(group string) bool {
	if r, ok := c.Groups[group]; ok {
		return r
	}
	return defaultRequired(group)
}

func defaultRequired(group string) bool {
	return group == "store" || strings.HasPrefix(group, "sink.")
}

// maxGroupLen keeps a group's offsets file name within file system limits
// even when every byte is escaped.
const maxGroupLen = 80

// checkGroup checks a consumer group name.
func checkGroup(g string) error {
	switch {
	case g == "":
		return errors.New("empty group name")
	case len(g) > maxGroupLen:
		return fmt.Errorf("group name longer than %d bytes", maxGroupLen)
	case !utf8.ValidString(g):
		return errors.New("group name is not valid UTF-8")
	case strings.ContainsFunc(g, unicode.IsControl):
		return errors.New("group name contains control characters")
	}
	return nil
}
