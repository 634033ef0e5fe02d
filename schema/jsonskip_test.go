package schema_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/schema"
)

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in   string
		at   int
		want int
		ok   bool
	}{
		{`"a"`, 0, 3, true},
		{`"a\"b",1`, 0, 6, true},
		{`"a\\"x`, 0, 5, true},
		{`"open`, 0, 0, false},
		{`{"a":[1,{"b":"}"}]},2`, 0, 19, true},
		{`[1,2]]`, 0, 5, true},
		{`[1,2`, 0, 0, false},
		{`{"a":"}`, 0, 0, false},
		{`-1.5e3,`, 0, 6, true},
		{`true}`, 0, 4, true},
		{`x:null]`, 2, 6, true},
		{`,`, 0, 0, false},
		{``, 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := schema.SkipValue([]byte(tt.in), tt.at)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SkipValue(%q, %d) = %d, %v; want %d, %v", tt.in, tt.at, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSkipString(t *testing.T) {
	b := []byte(`{"k\"ey":"v"}`)
	if end, ok := schema.SkipString(b, 1); !ok || string(b[1:end]) != `"k\"ey"` {
		t.Errorf("SkipString = %d, %v", end, ok)
	}
	if _, ok := schema.SkipString([]byte(`"\"`), 0); ok {
		t.Error("SkipString read an unterminated string")
	}
}

func TestSplitObject(t *testing.T) {
	type member struct{ Key, Value string }
	split := func(s string) ([]member, error) {
		ms, err := schema.SplitObject([]byte(s))
		var out []member
		for _, m := range ms {
			out = append(out, member{string(m.Key), string(m.Value)})
		}
		return out, err
	}
	got, err := split(`{"a":1,"b\"c":{"d":[1,"]"]},"e":"x,y","f":null}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []member{{"a", "1"}, {`b\"c`, `{"d":[1,"]"]}`}, {"e", `"x,y"`}, {"f", "null"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SplitObject (-want +got):\n%s", diff)
	}
	if got, err := split(`{}`); err != nil || len(got) != 0 {
		t.Errorf("SplitObject({}) = %v, %v", got, err)
	}
	for _, bad := range []string{``, `{`, `[]`, `{}}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}}`, `{a:1}`} {
		if _, err := split(bad); err == nil {
			t.Errorf("SplitObject(%q) accepted it", bad)
		}
	}
}
