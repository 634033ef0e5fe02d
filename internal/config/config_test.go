package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type testConfig struct {
	Listen  string              `yaml:"listen"`
	Port    int                 `yaml:"port"`
	Enabled bool                `yaml:"enabled"`
	Store   testStore           `yaml:"store"`
	Sinks   []testSink          `yaml:"sinks"`
	Labels  map[string]string   `yaml:"labels"`
	Limits  map[string]testSize `yaml:"limits"`
	Size    ByteSize            `yaml:"size"`
	Every   Duration            `yaml:"every"`
	Extra   any                 `yaml:"extra"`
}

type testStore struct {
	DuckDB     *testDuckDB     `yaml:"duckdb"`
	ClickHouse *testClickHouse `yaml:"clickhouse"`
}

type testDuckDB struct{}

type testClickHouse struct {
	Addr     []string `yaml:"addr"`
	Password string   `yaml:"password"`
}

type testSink struct {
	Name string   `yaml:"name"`
	TLS  *testTLS `yaml:"tls"`
}

type testTLS struct {
	Address string `yaml:"address"`
	testCA  `yaml:",inline"`
}

type testCA struct {
	CAFile string `yaml:"ca_file"`
}

type testSize struct {
	Max ByteSize `yaml:"max"`
}

func testEnv(vars map[string]string) Option {
	return WithLookup(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
}

var env = testEnv(map[string]string{
	"HOST":  "0.0.0.0",
	"PORT":  "9090",
	"PW":    "s3cr$t #1",
	"NULL":  "null",
	"YES":   "true",
	"EMPTY": "",
})

func TestDecode(t *testing.T) {
	defaults := func() testConfig { return testConfig{Listen: "127.0.0.1:8080", Size: 10 << 30} }
	tests := []struct {
		name string
		yaml string
		want testConfig
	}{
		{
			name: "EmptyDocumentKeepsDefaults",
			yaml: "",
			want: defaults(),
		},
		{
			name: "CommentsOnlyKeepsDefaults",
			yaml: "# nothing here\n",
			want: defaults(),
		},
		{
			name: "Full",
			yaml: `
listen: 0.0.0.0:80
port: 80
enabled: true
store:
  clickhouse: {addr: [ch1:9000, ch2:9000], password: pw}
sinks:
  - name: siem
    tls: {address: siem:6514, ca_file: ca.pem}
labels: {team: sec}
limits:
  a: {max: 1KiB}
size: 256MiB
every: 7d
extra: {anything: [goes, 1]}
`,
			want: testConfig{
				Listen:  "0.0.0.0:80",
				Port:    80,
				Enabled: true,
				Store:   testStore{ClickHouse: &testClickHouse{Addr: []string{"ch1:9000", "ch2:9000"}, Password: "pw"}},
				Sinks:   []testSink{{Name: "siem", TLS: &testTLS{Address: "siem:6514", testCA: testCA{CAFile: "ca.pem"}}}},
				Labels:  map[string]string{"team": "sec"},
				Limits:  map[string]testSize{"a": {Max: 1024}},
				Size:    256 << 20,
				Every:   Duration(7 * day),
				Extra:   map[string]any{"anything": []any{"goes", 1}},
			},
		},
		{
			name: "EnvInValues",
			yaml: `
listen: ${HOST}:${PORT}
port: ${PORT}
enabled: ${YES}
store: {clickhouse: {password: "${PW}"}}
`,
			want: func() testConfig {
				c := defaults()
				c.Listen, c.Port, c.Enabled = "0.0.0.0:9090", 9090, true
				c.Store.ClickHouse = &testClickHouse{Password: "s3cr$t #1"}
				return c
			}(),
		},
		{
			name: "EnvNotInKeys",
			yaml: "labels:\n  ${HOST}: ${HOST}\n",
			want: func() testConfig {
				c := defaults()
				c.Labels = map[string]string{"${HOST}": "0.0.0.0"}
				return c
			}(),
		},
		{
			name: "DollarEscapesAndLoneDollars",
			yaml: "listen: $${HOST} costs $5 $ and $$$$\n",
			want: func() testConfig {
				c := defaults()
				c.Listen = "${HOST} costs $5 $ and $$"
				return c
			}(),
		},
		{
			name: "EnvNullStaysString",
			yaml: "store: {clickhouse: {password: \"${NULL}\"}}\nlisten: ${NULL}\n",
			want: func() testConfig {
				c := defaults()
				c.Store.ClickHouse = &testClickHouse{Password: "null"}
				c.Listen = "null"
				return c
			}(),
		},
		{
			name: "EnvEmptyIsSetButEmpty",
			yaml: "listen: ${EMPTY}\n",
			want: func() testConfig {
				c := defaults()
				c.Listen = ""
				return c
			}(),
		},
		{
			name: "SectionWithoutValueIsPresent",
			yaml: "store:\n  duckdb:\n",
			want: func() testConfig {
				c := defaults()
				c.Store.DuckDB = &testDuckDB{}
				return c
			}(),
		},
		{
			name: "MergeKeys",
			yaml: `
base: &base {address: a:1}
sinks:
  - name: x
    tls:
      <<: *base
      ca_file: ca.pem
`,
			// "base" is unknown, so use it via a label map instead below.
		},
	}
	// The merge case above needs a place for its anchor that the struct
	// accepts; Extra takes anything.
	tests[len(tests)-1].yaml = `
extra: &base {address: a:1}
sinks:
  - name: x
    tls:
      <<: *base
      ca_file: ca.pem
`
	tests[len(tests)-1].want = func() testConfig {
		c := defaults()
		c.Extra = map[string]any{"address": "a:1"}
		c.Sinks = []testSink{{Name: "x", TLS: &testTLS{Address: "a:1", testCA: testCA{CAFile: "ca.pem"}}}}
		return c
	}()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			if err := Decode([]byte(tt.yaml), &got, env); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(testTLS{})); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "UnknownNestedKey",
			yaml: "store:\n  clickhouse:\n    adress: [x]\n",
			want: `config line 3: unknown key "store.clickhouse.adress"`,
		},
		{
			name: "UnknownNestedKeyWithSuggestion",
			yaml: "store:\n  clickhouse:\n    addres: [x]\n",
			want: `config line 3: unknown key "store.clickhouse.addres" (did you mean "addr"?)`,
		},
		{
			name: "UnknownTopLevelKey",
			yaml: "listen: x\nlisen: y\n",
			want: `config line 2: unknown key "lisen" (did you mean "listen"?)`,
		},
		{
			name: "UnknownKeyNoSuggestion",
			yaml: "frobnicate: true\n",
			want: `config line 1: unknown key "frobnicate"`,
		},
		{
			name: "UnknownKeyInListItem",
			yaml: "sinks:\n  - name: a\n  - name: b\n    tls: {address: x, ca_fil: y}\n",
			want: `config line 4: unknown key "sinks[1].tls.ca_fil" (did you mean "ca_file"?)`,
		},
		{
			name: "UnknownKeyInMapValue",
			yaml: "limits:\n  a:\n    maximum: 1\n",
			want: `config line 3: unknown key "limits.a.maximum"`,
		},
		{
			name: "UnknownKeyInEmptySection",
			yaml: "store:\n  duckdb: {path: x}\n",
			want: `config line 2: unknown key "store.duckdb.path"`,
		},
		{
			name: "UnknownKeyThroughMerge",
			yaml: "extra: &b {nope: 1}\nsinks:\n  - <<: *b\n",
			want: `config line 1: unknown key "sinks[0].nope"`,
		},
		{
			name: "EveryUnknownKeyReported",
			yaml: "a: 1\nstore:\n  b: 2\n",
			want: "config line 1: unknown key \"a\"\nconfig line 3: unknown key \"store.b\"",
		},
		{
			name: "MissingEnvAllAtOnce",
			yaml: "listen: ${B}:${A}\nstore: {clickhouse: {password: \"${B}\", addr: [\"${C}\"]}}\n",
			want: "config: undefined environment variables: A, B, C",
		},
		{
			name: "MissingEnvBeforeUnknownKeys",
			yaml: "listen: ${A}\nnope: 1\n",
			want: "config: undefined environment variables: A",
		},
		{
			name: "UnterminatedReference",
			yaml: "listen: ${HOST\n",
			want: `config line 1: unterminated ${ in "${HOST"`,
		},
		{
			name: "InvalidVariableName",
			yaml: "listen: ${1X}\n",
			want: `config line 1: invalid environment variable name "1X"`,
		},
		{
			name: "DefaultSyntaxNotSupported",
			yaml: "listen: ${X:-y}\n",
			want: `config line 1: invalid environment variable name "X:-y"`,
		},
		{
			name: "SectionNotMapping",
			yaml: "store: duckdb\n",
			want: `config line 1: "store" must be a mapping, not a string`,
		},
		{
			name: "ListNotList",
			yaml: "sinks: {name: x}\n",
			want: `config line 1: "sinks" must be a list, not a mapping`,
		},
		{
			name: "DocumentNotMapping",
			yaml: "- a\n",
			want: `config line 1: the document must be a mapping, not a list`,
		},
		{
			name: "BadByteSize",
			yaml: "size: 10XB\n",
			want: `config line 1: invalid byte size "10XB": want a number of bytes, optionally with a unit such as MiB, GiB or GB`,
		},
		{
			name: "BadDuration",
			yaml: "every: 30\n",
			want: `config line 1: invalid duration "30": want a number with a unit such as 30s, 5m, 12h or 7d`,
		},
		{
			name: "EveryBadValueReported",
			yaml: "size: x\nevery: y\nport: z\n",
			want: "config line 1: invalid byte size \"x\": want a number of bytes, optionally with a unit such as MiB, GiB or GB\n" +
				"config line 2: invalid duration \"y\": want a number with a unit such as 30s, 5m, 12h or 7d\n" +
				"config line 3: cannot unmarshal !!str `z` into int",
		},
		{
			name: "DuplicateKey",
			yaml: "listen: a\nlisten: b\n",
			want: `config line 2: mapping key "listen" already defined at line 1`,
		},
		{
			name: "SyntaxError",
			yaml: "listen: [a\n",
			want: "config line 1: did not find expected ',' or ']'",
		},
		{
			name: "TwoDocuments",
			yaml: "listen: a\n---\nlisten: b\n",
			want: "config line 2: only one yaml document is allowed",
		},
		{
			name: "UnquotedReferenceInFlowMapping",
			yaml: "store: {clickhouse: {password: ${PW}}}\n",
			want: `config: did not find expected ',' or '}' (inside {...} or [...], quote values that use ${VAR}: "${VAR}")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			err := Decode([]byte(tt.yaml), &got, env)
			if err == nil {
				t.Fatalf("Decode succeeded, want error %q", tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode_NotPointer(t *testing.T) {
	if err := Decode([]byte("listen: x"), testConfig{}); err == nil {
		t.Fatal("Decode into a non-pointer succeeded")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("listen: ${HOST}:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("lissen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var c testConfig
	if err := Load(good, &c, env); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Listen != "0.0.0.0:1" {
		t.Errorf("listen = %q, want %q", c.Listen, "0.0.0.0:1")
	}

	err := Load(bad, &c, env)
	want := bad + `: config line 1: unknown key "lissen" (did you mean "listen"?)`
	if err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}

	if err := Load(filepath.Join(dir, "missing.yaml"), &c); err == nil {
		t.Error("Load(missing) succeeded")
	}
}

func TestDecode_DefaultLookupIsEnvironment(t *testing.T) {
	t.Setenv("VIGIL_CONFIG_TEST_LISTEN", "10.0.0.1:1")
	var c testConfig
	if err := Decode([]byte("listen: ${VIGIL_CONFIG_TEST_LISTEN}"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "10.0.0.1:1" {
		t.Errorf("listen = %q", c.Listen)
	}
}

func TestDecode_AliasCycleTerminates(t *testing.T) {
	var c testConfig
	if err := Decode([]byte("sinks: &a [*a]\n"), &c); err == nil {
		t.Fatal("Decode of a self-containing alias succeeded")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"listen: ${HOST}:${PORT}\nport: ${PORT}\n",
		"store:\n  clickhouse:\n    adress: [x]\n",
		"sinks:\n  - name: a\n    tls: {address: x, ca_file: y}\n",
		"size: 10GiB\nevery: 7d12h\n",
		"extra: &b {address: 1}\nsinks: [{tls: {<<: *b}}]\n",
		"sinks: &a [*a]\n",
		"listen: $$${X}$\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\n",
		"--- !!map\n? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	lookup := WithLookup(func(name string) (string, bool) {
		if name == "X" {
			return "", false
		}
		return "1", true
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c testConfig
		_ = Decode(data, &c, lookup)
		var m map[string]any
		_ = Decode(data, &m, lookup)
	})
}
