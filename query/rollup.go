package query

import "time"

// The fields Stats ranks by, the values of StatsRequest.By.
const (
	RankUser   = "user"
	RankDevice = "device"
	RankEvent  = "event"
	RankTopic  = "topic"
	RankIP     = "ip"
	RankKey    = "key"
	RankFolder = "folder"
)

// rankable lists the rank fields in the order errors name them.
var rankable = []string{RankUser, RankDevice, RankEvent, RankTopic, RankIP, RankKey, RankFolder}

// Rollup names a table of counts that a store keeps up to date beside
// its events, in the same write: it answers the panels' questions from a
// few thousand rows instead of millions.
type Rollup int

// The rollups every store keeps.
const (
	// NoRollup is the events table itself.
	NoRollup Rollup = iota
	// Hourly counts events per (hour, topic, event).
	Hourly
	// DailyUsers counts events per (day, topic, event, user).
	DailyUsers
)

// CountRollup returns the table that answers s's total and time buckets:
// Hourly when s filters on time (whole hours), topics and events only and
// its buckets are whole hours; else NoRollup.
func (s StatsRequest) CountRollup() Rollup {
	if rollupAnswers(s.Filter, time.Hour) && s.Bucket%time.Hour == 0 {
		return Hourly
	}
	return NoRollup
}

// RankRollup returns the table that ranks s.By: Hourly for events and
// topics, DailyUsers for users on whole days, when s filters on time,
// topics and events only; else NoRollup.
func (s StatsRequest) RankRollup() Rollup {
	switch {
	case (s.By == RankEvent || s.By == RankTopic) && rollupAnswers(s.Filter, time.Hour):
		return Hourly
	case s.By == RankUser && rollupAnswers(s.Filter, 24*time.Hour):
		return DailyUsers
	}
	return NoRollup
}

// rollupAnswers reports whether a rollup of the given resolution holds
// the answer for f: no filter but time, topics and events, on whole units.
func rollupAnswers(f Filter, unit time.Duration) bool {
	if f.User != "" || f.Device != "" || f.SOID != "" || f.Path != "" || f.IP != "" || f.Key != "" || f.Folder != "" {
		return false
	}
	whole := func(t time.Time) bool { return t.IsZero() || t.UnixMilli()%unit.Milliseconds() == 0 }
	return whole(f.Since) && whole(f.Until)
}
