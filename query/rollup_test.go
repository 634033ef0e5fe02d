package query_test

import (
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
)

func TestStatsRequest_Rollups(t *testing.T) {
	day := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		req         query.StatsRequest
		count, rank query.Rollup
	}{
		{"Everything", query.StatsRequest{By: query.RankUser}, query.Hourly, query.DailyUsers},
		{"HourlyBuckets", query.StatsRequest{Bucket: 2 * time.Hour, By: query.RankEvent,
			Filter: query.Filter{Since: day.Add(time.Hour), Topics: []schema.Topic{"FILE"}}}, query.Hourly, query.Hourly},
		{"MinuteBuckets", query.StatsRequest{Bucket: time.Minute, By: query.RankTopic}, query.NoRollup, query.Hourly},
		{"UsersOnPartDays", query.StatsRequest{By: query.RankUser, Filter: query.Filter{Since: day.Add(time.Hour)}}, query.Hourly, query.NoRollup},
		{"PartHours", query.StatsRequest{By: query.RankEvent, Filter: query.Filter{Until: day.Add(time.Minute)}}, query.NoRollup, query.NoRollup},
		{"OtherRanks", query.StatsRequest{By: query.RankDevice}, query.Hourly, query.NoRollup},
		{"AUser", query.StatsRequest{By: query.RankUser, Filter: query.Filter{User: "a@example.com"}}, query.NoRollup, query.NoRollup},
		{"AnIP", query.StatsRequest{By: query.RankTopic, Filter: query.Filter{IP: "10.0.0.1"}}, query.NoRollup, query.NoRollup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.CountRollup(); got != tt.count {
				t.Errorf("CountRollup = %d, want %d", got, tt.count)
			}
			if got := tt.req.RankRollup(); got != tt.rank {
				t.Errorf("RankRollup = %d, want %d", got, tt.rank)
			}
		})
	}
}

func TestUnique(t *testing.T) {
	evs := storetest.Samples(t)
	batch := append(append(evs[:0:0], evs...), evs[2], evs[0], evs[2])
	got := query.Unique(batch)
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	for i := range got {
		if got[i] != evs[i] {
			t.Errorf("event %d is %s, want %s", i, got[i].ID(), evs[i].ID())
		}
	}
}

func TestChecked_LeavesTheCallersLists(t *testing.T) {
	topics := []schema.Topic{"file", "USER", "FILE"}
	events := []string{"User.Signin"}
	p, err := query.Page{Filter: query.Filter{Topics: topics, Events: events}}.Checked()
	if err != nil {
		t.Fatal(err)
	}
	if p.Limit != query.DefaultLimit || len(p.Topics) != 2 || p.Events[0] != "user.signin" {
		t.Errorf("checked page = %+v", p)
	}
	s, err := query.StatsRequest{Filter: query.Filter{Topics: topics}}.Checked()
	if err != nil || s.Top != 10 || len(s.Topics) != 2 {
		t.Errorf("checked stats = %+v, %v", s, err)
	}
	if _, err := (query.Filter{Events: []string{"nope"}}).Checked(); err == nil {
		t.Error("an unknown event passed")
	}
	if topics[0] != "file" || len(topics) != 3 || events[0] != "User.Signin" {
		t.Errorf("the caller's lists changed: %v %v", topics, events)
	}
}
