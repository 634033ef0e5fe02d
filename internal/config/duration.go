package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that YAML writes as "30s", "5m", "36h" or,
// with a day suffix time.ParseDuration lacks, "7d" or "1d12h". A day is
// always 24 hours.
type Duration time.Duration

const day = 24 * time.Hour

// ParseDuration reads a duration in time.ParseDuration's syntax, with an
// optional leading whole number of days: "90s", "7d", "-1d6h".
func ParseDuration(s string) (Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number with a unit such as 30s, 5m, 12h or 7d", truncate(s))
	}
	return d, nil
}

func parseDuration(s string) (Duration, error) {
	rest, neg := s, false
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		rest, neg = r, true
	} else if r, ok := strings.CutPrefix(rest, "+"); ok {
		rest = r
	}
	daysText, afterDays, hasDays := strings.Cut(rest, "d")
	if !hasDays {
		d, err := time.ParseDuration(s)
		return Duration(d), err
	}
	if daysText == "" || strings.TrimLeft(daysText, "0123456789") != "" {
		return 0, fmt.Errorf("bad day count")
	}
	days, err := strconv.ParseInt(daysText, 10, 64)
	if err != nil || days > math.MaxInt64/int64(day) {
		return 0, fmt.Errorf("day count out of range")
	}
	total := time.Duration(days) * day
	if afterDays != "" {
		if afterDays[0] == '-' || afterDays[0] == '+' {
			return 0, fmt.Errorf("sign after days")
		}
		d, err := time.ParseDuration(afterDays)
		if err != nil {
			return 0, err
		}
		if d > math.MaxInt64-total {
			return 0, fmt.Errorf("out of range")
		}
		total += d
	}
	if neg {
		total = -total
	}
	return Duration(total), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "invalid duration: want a number with a unit such as 30s or 7d, not %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return typeError(n, "%v", err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// String returns whole days as "7d" and anything else as
// time.Duration.String does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%day == 0 {
		return fmt.Sprintf("%dd", td/day)
	}
	return td.String()
}
