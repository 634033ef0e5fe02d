package sinks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/config"
)

func TestFilter_CheckCatalog(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		want []string // one line per problem; none means valid
	}{
		{name: "Empty", f: Filter{}},
		{name: "KnownInAnyCase", f: Filter{Topics: []string{"file", "ORGANIZATION"}, Events: []string{"file.transfer"}}},
		{name: "MatchOnEnvelopeAndCatalogFields", f: Filter{Events: []string{"folder.invite"}, Match: map[string]string{"caller.email": "a", "topic": "SHARING", "sharer": "b"}}},
		{name: "TopicTypo", f: Filter{Topics: []string{"FIEL"}}, want: []string{`topics[0]: unknown topic "FIEL" (did you mean "FILE"?)`}},
		{name: "EventTypo", f: Filter{Events: []string{"file.transfr"}}, want: []string{`events[0]: unknown event "file.transfr" (did you mean "file.transfer"?)`}},
		{name: "UnknownEventNoSuggestion", f: Filter{Events: []string{"nothing.like.it.at.all"}}, want: []string{`events[0]: unknown event "nothing.like.it.at.all"`}},
		{
			name: "FieldNotOfTheChosenEvents",
			f:    Filter{Events: []string{"user.signin"}, Match: map[string]string{"usr": "bob"}},
			want: []string{`match: "usr": no event the filter keeps has a field "usr" (did you mean "user"?)`},
		},
		{
			name: "FieldOfAnotherTopic",
			f:    Filter{Topics: []string{"USER"}, Match: map[string]string{"soid": "x"}},
			want: []string{`match: "soid": no event the filter keeps has a field "soid"`},
		},
		{name: "FieldOfNoEvent", f: Filter{Match: map[string]string{"uzer": "x"}}, want: []string{`match: "uzer": no event has a field "uzer" (did you mean "user"?)`}},
		{name: "NotAPath", f: Filter{Match: map[string]string{"caller..email": "x"}}, want: []string{`match: "caller..email" is not a field path (names joined by '.')`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := tt.f.CheckCatalog(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckCatalog (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfig_FrameLimitByKind(t *testing.T) {
	tests := []struct {
		kind string
		set  int
		want int
	}{
		{"tcp", 0, 65536}, {"tls", 0, 65536}, {"syslog", 0, 8096}, {"relp", 0, 8096},
		{"splunkhec", 0, 0}, {"syslog", 65536, 65536},
	}
	for _, tt := range tests {
		c := Config{Name: "s", MaxFrameBytes: config.ByteSize(tt.set)}
		c.SetDefaults()
		fc := c.Forwarder(tt.kind, nil, nil, nil)
		if fc.MaxFrameBytes != tt.want || fc.Oversize != OversizeDeadLetter {
			t.Errorf("%s with max_frame_bytes %d: limit %d, policy %q; want %d, dead_letter", tt.kind, tt.set, fc.MaxFrameBytes, fc.Oversize, tt.want)
		}
	}
}
