package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/contentapi/blob/s3blob"
	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/splunkhec"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

func ptr[T any](v T) *T { return &v }

// sinkDefaults is a sink's common section as loading leaves it.
func sinkDefaults(name string, f sinks.Filter, required bool) sinks.Config {
	return sinks.Config{Name: name, Filter: f, Required: ptr(required),
		Loop:     eventlog.ConsumerConfig{BatchSize: sinks.DefaultBatchSize, Linger: sinks.DefaultLinger},
		Oversize: sinks.OversizeDeadLetter}
}

// writeConfig writes a config file into a fresh temporary directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	defaults := Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "./vigil-data",
		Log:     LogConfig{File: &filelog.Config{MaxBytes: 10 << 30, SegmentBytes: 256 << 20}},
		Store:   StoreConfig{DuckDB: &duckstore.Config{}},
	}
	defaults.Content.Password.SetDefaults()
	defaults.Content.SignIn.SetDefaults()
	defaults.Content.Session.SetDefaults()
	defaults.Content.Security.SetDefaults()
	defaults.Content.Org.SetDefaults()
	defaults.Content.Blobs.Disk = &diskblob.Config{}
	defaults.Content.OAuth.SetDefaults()
	defaults.Content.Sweep.SetDefaults()
	defaults.Content.Revisions.Keep = 10
	tests := []struct {
		name string
		yaml string // no file when empty
		o    overrides
		want Config
	}{
		{
			name: "NoFileMeansDefaults",
			want: defaults,
		},
		{
			name: "EmptyFileMeansDefaults",
			yaml: "# nothing\n",
			want: defaults,
		},
		{
			name: "FlagsOverrideDefaults",
			o:    overrides{Listen: ptr("127.0.0.1:0"), DataDir: ptr("/tmp/v")},
			want: func() Config {
				c := defaults
				c.Listen, c.DataDir = "127.0.0.1:0", "/tmp/v"
				return c
			}(),
		},
		{
			name: "FileOverridesDefaults",
			yaml: "listen: 0.0.0.0:9000\ndata_dir: /var/lib/vigil\n",
			want: func() Config {
				c := defaults
				c.Listen, c.DataDir = "0.0.0.0:9000", "/var/lib/vigil"
				return c
			}(),
		},
		{
			name: "FlagsOverrideFile",
			yaml: "listen: 0.0.0.0:9000\ndata_dir: /var/lib/vigil\n",
			o:    overrides{Listen: ptr("127.0.0.1:0")},
			want: func() Config {
				c := defaults
				c.Listen, c.DataDir = "127.0.0.1:0", "/var/lib/vigil"
				return c
			}(),
		},
		{
			name: "FileLogSizesAndRetention",
			yaml: "log:\n  file: {max_bytes: 1GiB, segment_bytes: 64MiB, retention: 30d}\n",
			want: func() Config {
				c := defaults
				c.Log.File = &filelog.Config{MaxBytes: 1 << 30, SegmentBytes: 64 << 20, Retention: 30 * 24 * time.Hour}
				return c
			}(),
		},
		{
			name: "FileLogMaxBytesAlone",
			yaml: "log:\n  file: {max_bytes: 64MiB}\n",
			want: func() Config {
				c := defaults
				c.Log.File = &filelog.Config{MaxBytes: 64 << 20, SegmentBytes: 16 << 20}
				return c
			}(),
		},
		{
			name: "FileLogSectionWithoutValue",
			yaml: "log:\n  file:\nstore:\n  duckdb:\n",
			want: defaults,
		},
		{
			name: "FullScaleConfig",
			yaml: `
listen: 0.0.0.0:8443
data_dir: /data
tls: {cert_file: server.pem, key_file: server-key.pem}
log:
  kafka:
    brokers: [kafka:9092]
    tls: {ca_file: kafka-ca.pem}
    sasl: {mechanism: SCRAM-SHA-512, username: vigil, password: "${KAFKA_PASSWORD}"}
store:
  clickhouse: {addr: [clickhouse:9000], username: vigil, password: "${CLICKHOUSE_PASSWORD}"}
sinks:
  - name: siem
    tls: {address: siem.example.com:6514, ca_file: siem-ca.pem}
    filter: {topics: [file], events: [file.transfer]}
  - name: splunk
    splunkhec: {url: "https://splunk:8088", token: "${HEC_TOKEN}", index: audit, sourcetype: vigil, ack: true}
    required: false
  - name: raw
    tcp: {address: "collector:5170"}
  - name: syslog
    syslog: {address: "syslog:6514", facility: audit, app_name: vigil, tls: {server_name: syslog.example.com}}
`,
			want: Config{
				Listen:  "0.0.0.0:8443",
				DataDir: "/data",
				TLS:     ServerTLSConfig{CertFile: "server.pem", KeyFile: "server-key.pem"},
				Log: LogConfig{Kafka: &kafkalog.Config{
					Brokers: []string{"kafka:9092"},
					Topic:   "vigil-events",
					TLS:     &config.ClientTLS{CAFile: "kafka-ca.pem"},
					SASL:    &kafkalog.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "vigil", Password: "kafka-secret"},
				}},
				Store: StoreConfig{ClickHouse: &chstore.Config{
					Addr: []string{"clickhouse:9000"}, Database: "vigil", Username: "vigil", Password: "ch $ecret",
				}},
				Content: defaults.Content,
				Sinks: []SinkConfig{
					{
						Config: sinkDefaults("siem", sinks.Filter{Topics: []string{"file"}, Events: []string{"file.transfer"}}, true),
						TLS:    &tcp.TLSKind{Config: tcp.Config{Address: "siem.example.com:6514"}, ClientTLS: config.ClientTLS{CAFile: "siem-ca.pem"}},
					},
					{
						Config:    sinkDefaults("splunk", sinks.Filter{}, false),
						SplunkHEC: &splunkhec.Config{URL: "https://splunk:8088", Token: "hec-token", Index: "audit", SourceType: "vigil", Ack: true},
					},
					{Config: sinkDefaults("raw", sinks.Filter{}, true), TCP: &tcp.Config{Address: "collector:5170"}},
					{
						Config: sinkDefaults("syslog", sinks.Filter{}, true),
						Syslog: &syslogsink.Config{Address: "syslog:6514", Facility: "audit", AppName: "vigil", TLS: &config.ClientTLS{ServerName: "syslog.example.com"}},
					},
				},
			},
		},
	}
	t.Setenv("KAFKA_PASSWORD", "kafka-secret")
	t.Setenv("CLICKHOUSE_PASSWORD", "ch $ecret")
	t.Setenv("HEC_TOKEN", "hec-token")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			got, err := loadConfig(path, tt.o)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("loadConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig_Errors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the error after the file name
	}{
		{
			name: "UnknownKeyWithPath",
			yaml: "store:\n  clickhouse:\n    addr: [ch:9000]\n    adress: [x]\n",
			want: `config line 4: unknown key "store.clickhouse.adress"`,
		},
		{
			name: "UnknownKeyInSink",
			yaml: "sinks:\n  - name: a\n    tcp: {address: x:1}\n    requird: false\n",
			want: `config line 4: unknown key "sinks[0].requird" (did you mean "required"?)`,
		},
		{
			name: "UnknownKeyInInlineTLS",
			yaml: "sinks:\n  - name: a\n    tls: {address: x:1, ca: y}\n",
			want: `config line 3: unknown key "sinks[0].tls.ca"`,
		},
		{
			name: "UnknownTopLevelKey",
			yaml: "lisen: 0.0.0.0:1\n",
			want: `config line 1: unknown key "lisen" (did you mean "listen"?)`,
		},
		{
			name: "MissingEnvAllNamed",
			yaml: "store:\n  clickhouse:\n    addr: [\"${CH_HOST}:9000\"]\n    password: ${CH_PASSWORD}\nsinks:\n  - name: s\n    splunkhec: {url: \"https://s\", token: \"${HEC_TOKEN_UNSET}\"}\n",
			want: "config: undefined environment variables: CH_HOST, CH_PASSWORD, HEC_TOKEN_UNSET",
		},
		{
			name: "UnknownKeyInContent",
			yaml: "content:\n  postgres: {dns: x}\n",
			want: `config line 2: unknown key "content.postgres.dns" (did you mean "dsn"?)`,
		},
		{
			name: "BadByteSize",
			yaml: "log:\n  file: {max_bytes: lots}\n",
			want: `config line 2: invalid byte size "lots": want a number of bytes, optionally with a unit such as MiB, GiB or GB`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := loadConfig(path, overrides{})
			if err == nil {
				t.Fatal("loadConfig succeeded")
			}
			if diff := cmp.Diff(path+": "+tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig_Invalid(t *testing.T) {
	path := writeConfig(t, "store: {duckdb: {}, clickhouse: {addr: [ch:9000]}}\nsinks:\n  - {name: siem, tcp: {address: a:1}}\n  - {name: siem, tcp: {address: b:1}}\n")
	_, err := loadConfig(path, overrides{Listen: ptr("nonsense")})
	want := `invalid config:
  listen: "nonsense" is not host:port
  store: exactly one of duckdb, clickhouse must be set, got 2
  sinks[1].name: duplicate "siem"`
	if err == nil || err.Error() != want {
		t.Errorf("loadConfig error:\n%v\nwant:\n%s", err, want)
	}
	var le *listError
	if !errors.As(err, &le) {
		t.Errorf("error is %T, want *listError", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	valid := func() Config {
		c := Config{Listen: defaultListen, DataDir: defaultDataDir}
		c.setDefaults()
		return c
	}
	tlsSink := func(s tcp.TLSKind) []SinkConfig {
		return []SinkConfig{{Config: sinks.Config{Name: "s"}, TLS: &s}}
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // one line per problem; none means valid
	}{
		{name: "Defaults", change: func(*Config) {}},
		{name: "EmptyListen", change: func(c *Config) { c.Listen = "" }, want: []string{"listen: required"}},
		{name: "ListenNoPort", change: func(c *Config) { c.Listen = "localhost" }, want: []string{`listen: "localhost" is not host:port`}},
		{name: "ListenBadPort", change: func(c *Config) { c.Listen = "localhost:http" }, want: []string{`listen: "localhost:http" has an invalid port`}},
		{name: "ListenAllInterfaces", change: func(c *Config) { c.Listen = ":8080" }},
		{name: "EmptyDataDir", change: func(c *Config) { c.DataDir = "" }, want: []string{"data_dir: required"}},
		{name: "Postgres", change: func(c *Config) {
			c.Content.Postgres = &metadb.PostgresConfig{DSN: "postgres://vigil:pw@db:5432/vigil"}
		}},
		{name: "PostgresNoDSN", change: func(c *Config) { c.Content.Postgres = &metadb.PostgresConfig{} }, want: []string{"content.postgres.dsn: required"}},
		{name: "Org", change: func(c *Config) {
			c.Content.Org = contentapi.OrgConfig{Name: "Acme", OpenSignup: true, Quota: 10 << 30}
		}},
		{name: "OrgBadNameAndQuota", change: func(c *Config) {
			c.Content.Org = contentapi.OrgConfig{Name: "Ac\nme", Quota: 1 << 63}
		}, want: []string{"content.org.name: contains control characters", "content.org.quota: larger than 4 EiB"}},
		{
			name: "PostgresBadDSN",
			change: func(c *Config) {
				c.Content.Postgres = &metadb.PostgresConfig{DSN: "postgres://vigil:s3cret@db:port/vigil"}
			},
			want: []string{"content.postgres.dsn: the PostgreSQL DSN cannot be parsed (a URL postgres://... or key=value pairs)"},
		},
		{name: "BlobsS3", change: func(c *Config) {
			c.Content.Blobs = BlobsConfig{S3: &s3blob.Config{Endpoint: "https://s3.example.com", Bucket: "vigil", AccessKey: "AK", SecretKey: "SK", PartSize: 16 << 20}}
		}},
		{name: "BlobsTwoKinds", change: func(c *Config) {
			c.Content.Blobs.S3 = &s3blob.Config{Endpoint: "https://s3.example.com", Bucket: "vigil", AccessKey: "AK", SecretKey: "SK", PartSize: 16 << 20}
		}, want: []string{"content.blobs: exactly one of disk, s3 must be set, got 2"}},
		{name: "BlobsS3Problems", change: func(c *Config) {
			c.Content.Blobs = BlobsConfig{S3: &s3blob.Config{Endpoint: "https://s3.example.com", PartSize: 16 << 20}}
		}, want: []string{"content.blobs.s3.bucket: required", "content.blobs.s3.access_key: required", "content.blobs.s3.secret_key: required (or secret_key_file)"}},
		{name: "TLSCertWithoutKey", change: func(c *Config) { c.TLS.CertFile = "c.pem" }, want: []string{"tls.key_file: required when cert_file is set"}},
		{name: "TLSKeyWithoutCert", change: func(c *Config) { c.TLS.KeyFile = "k.pem" }, want: []string{"tls.cert_file: required when key_file is set"}},
		{
			name:   "TwoLogs",
			change: func(c *Config) { c.Log.Kafka = &kafkalog.Config{Brokers: []string{"k:9092"}, Topic: "t"} },
			want:   []string{"log: exactly one of file, kafka must be set, got 2"},
		},
		{name: "NoLog", change: func(c *Config) { c.Log.File = nil }, want: []string{"log: exactly one of file, kafka must be set, got 0"}},
		{
			name:   "SegmentNotSmallerThanMax",
			change: func(c *Config) { c.Log.File.SegmentBytes = c.Log.File.MaxBytes },
			want:   []string{"log.file.segment_bytes: must be smaller than max_bytes"},
		},
		{name: "NegativeMaxBytes", change: func(c *Config) { c.Log.File.MaxBytes = -1 }, want: []string{"log.file.max_bytes: must not be negative"}},
		{name: "TinySegment", change: func(c *Config) { c.Log.File.SegmentBytes = 100 }, want: []string{"log.file.segment_bytes: must be at least 1024"}},
		{name: "NegativeRetention", change: func(c *Config) { c.Log.File.Retention = -1 }, want: []string{"log.file.retention: must not be negative"}},
		{
			name: "KafkaProblems",
			change: func(c *Config) {
				c.Log.File = nil
				c.Log.Kafka = &kafkalog.Config{
					Brokers: []string{"kafka"},
					Topic:   "bad topic",
					TLS:     &config.ClientTLS{CertFile: "c.pem"},
					SASL:    &kafkalog.SASLConfig{Mechanism: "GSSAPI"},
				}
			},
			want: []string{
				`log.kafka.brokers[0]: "kafka" is not host:port`,
				`log.kafka.topic: "bad topic" is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)`,
				"log.kafka.tls.key_file: required when cert_file is set",
				`log.kafka.sasl.mechanism: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got "GSSAPI"`,
				"log.kafka.sasl.username: required",
				"log.kafka.sasl.password: required",
			},
		},
		{
			name:   "KafkaNoBrokers",
			change: func(c *Config) { c.Log.File, c.Log.Kafka = nil, &kafkalog.Config{Topic: "t"} },
			want:   []string{"log.kafka.brokers: at least one broker is required"},
		},
		{
			name:   "TwoStores",
			change: func(c *Config) { c.Store.ClickHouse = &chstore.Config{Addr: []string{"ch:9000"}, Database: "vigil"} },
			want:   []string{"store: exactly one of duckdb, clickhouse must be set, got 2"},
		},
		{name: "NoStore", change: func(c *Config) { c.Store.DuckDB = nil }, want: []string{"store: exactly one of duckdb, clickhouse must be set, got 0"}},
		{
			name:   "ClickHouseProblems",
			change: func(c *Config) { c.Store = StoreConfig{ClickHouse: &chstore.Config{Database: "vigil; drop"}} },
			want: []string{
				"store.clickhouse.addr: at least one address is required",
				`store.clickhouse.database: "vigil; drop" is not a valid database name`,
			},
		},
		{
			name: "ClickHouseBadAddr",
			change: func(c *Config) {
				c.Store = StoreConfig{ClickHouse: &chstore.Config{Addr: []string{"ch:9000", "ch"}, Database: "v"}}
			},
			want: []string{`store.clickhouse.addr[1]: "ch" is not host:port`},
		},
		{
			name: "DuplicateSinkName",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "siem"}, TCP: &tcp.Config{Address: "a:1"}}, {Config: sinks.Config{Name: "siem"}, TCP: &tcp.Config{Address: "b:1"}}}
			},
			want: []string{`sinks[1].name: duplicate "siem"`},
		},
		{
			name:   "SinkWithoutNameOrKind",
			change: func(c *Config) { c.Sinks = []SinkConfig{{}} },
			want:   []string{"sinks[0].name: required", "sinks[0]: exactly one of tcp, tls, splunkhec, syslog, relp must be set, got 0"},
		},
		{
			name: "SinkTwoKinds",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, TCP: &tcp.Config{Address: "a:1"}, Syslog: &syslogsink.Config{Address: "b:1"}}}
			},
			want: []string{"sinks[0]: exactly one of tcp, tls, splunkhec, syslog, relp must be set, got 2"},
		},
		{
			name: "SinkBadName",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "my siem"}, TCP: &tcp.Config{Address: "a:1"}}}
			},
			want: []string{`sinks[0].name: "my siem" must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		},
		{
			name:   "TCPSinkNoAddress",
			change: func(c *Config) { c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, TCP: &tcp.Config{}}} },
			want:   []string{"sinks[0].tcp.address: required"},
		},
		{
			name: "TLSSinkTwoCAs",
			change: func(c *Config) {
				c.Sinks = tlsSink(tcp.TLSKind{Config: tcp.Config{Address: "a:1"}, ClientTLS: config.ClientTLS{CAFile: "ca.pem", CAPEM: "x"}})
			},
			want: []string{"sinks[0].tls.ca_pem: cannot be set together with ca_file"},
		},
		{
			name: "TLSSinkBadCAPEM",
			change: func(c *Config) {
				c.Sinks = tlsSink(tcp.TLSKind{Config: tcp.Config{Address: "a:1"}, ClientTLS: config.ClientTLS{CAPEM: "not pem"}})
			},
			want: []string{"sinks[0].tls.ca_pem: no PEM certificate found"},
		},
		{
			name:   "TLSSinkKeyWithoutCert",
			change: func(c *Config) { c.Sinks = tlsSink(tcp.TLSKind{ClientTLS: config.ClientTLS{KeyFile: "k.pem"}}) },
			want:   []string{"sinks[0].tls.address: required", "sinks[0].tls.cert_file: required when key_file is set"},
		},
		{
			name: "SplunkHECProblems",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, SplunkHEC: &splunkhec.Config{URL: "splunk:8088"}}}
			},
			want: []string{`sinks[0].splunkhec.url: "splunk:8088" is not an http or https URL`, "sinks[0].splunkhec.token: required (or token_file)"},
		},
		{
			name: "SplunkHECNoURL",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, SplunkHEC: &splunkhec.Config{Token: "t"}}}
			},
			want: []string{"sinks[0].splunkhec.url: required"},
		},
		{
			name: "SyslogProblems",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, Syslog: &syslogsink.Config{Address: "s:514", Facility: "local9", AppName: "my app", TLS: &config.ClientTLS{CertFile: "c"}}}}
			},
			want: []string{
				`sinks[0].syslog.facility: unknown facility "local9" (want one of ` + strings.Join(syslogsink.Facilities(), ", ") + ")",
				"sinks[0].syslog.app_name: must be at most 48 printable ASCII characters without spaces",
				"sinks[0].syslog.tls.key_file: required when cert_file is set",
			},
		},
		{
			name: "FilterEmptyEntries",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s", Filter: sinks.Filter{Topics: []string{"file", ""}, Events: []string{" "}}}, TCP: &tcp.Config{Address: "a:1"}}}
			},
			want: []string{"sinks[0].filter.topics[1]: must not be empty", "sinks[0].filter.events[0]: must not be empty"},
		},
		{
			name: "FilterTyposAgainstTheCatalog",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s", Filter: sinks.Filter{Topics: []string{"FIEL"}, Events: []string{"file.transfr"}}}, TCP: &tcp.Config{Address: "a:1"}}}
			},
			want: []string{
				`sinks[0].filter.topics[0]: unknown topic "FIEL" (did you mean "FILE"?)`,
				`sinks[0].filter.events[0]: unknown event "file.transfr" (did you mean "file.transfer"?)`,
			},
		},
		{
			name: "FilterMatchAndBatch",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s", Loop: eventlog.ConsumerConfig{BatchSize: -1, Linger: -1},
					Filter: sinks.Filter{Match: map[string]string{"caller..email": "x", "": "y"}}}, TCP: &tcp.Config{Address: "a:1"}}}
			},
			want: []string{
				`sinks[0].filter.match: "" is not a field path (names joined by '.')`,
				`sinks[0].filter.match: "caller..email" is not a field path (names joined by '.')`,
				"sinks[0].batch_size: -1 is out of range (1 to 100000; 0 for the default)",
				"sinks[0].linger: must not be negative",
			},
		},
		{
			name: "SplunkHECProblems",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s"}, SplunkHEC: &splunkhec.Config{URL: "https://s:8088", Token: "t", AckTimeout: -1, TLS: &config.ClientTLS{KeyFile: "k"}}}}
			},
			want: []string{"sinks[0].splunkhec.ack_timeout: must not be negative", "sinks[0].splunkhec.tls.cert_file: required when key_file is set"},
		},
		{
			name: "FrameLimitProblems",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{
					{Config: sinks.Config{Name: "a", MaxFrameBytes: 100, Oversize: "drop"}, Syslog: &syslogsink.Config{Address: "a:1"}},
					{Config: sinks.Config{Name: "b", MaxFrameBytes: 128 << 20}, TCP: &tcp.Config{Address: "a:1"}},
					{Config: sinks.Config{Name: "c", MaxFrameBytes: 65536, Oversize: sinks.OversizeTruncate}, TCP: &tcp.Config{Address: "a:1"}},
				}
			},
			want: []string{
				"sinks[0].max_frame_bytes: 100 is out of range (512 to 67108864; 0 for the kind's default)",
				`sinks[0].oversize: unknown policy "drop" (want dead_letter, truncate or send)`,
				"sinks[1].max_frame_bytes: 134217728 is out of range (512 to 67108864; 0 for the kind's default)",
			},
		},
		{
			name: "SplunkHECHasNoFrameLimit",
			change: func(c *Config) {
				c.Sinks = []SinkConfig{{Config: sinks.Config{Name: "s", MaxFrameBytes: 8096, Oversize: sinks.OversizeTruncate}, SplunkHEC: &splunkhec.Config{URL: "https://s:8088", Token: "t"}}}
			},
			want: []string{
				"sinks[0].max_frame_bytes: splunkhec sends batches, bounded by splunkhec.max_batch_bytes",
				"sinks[0].oversize: splunkhec sends batches, bounded by splunkhec.max_batch_bytes",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfig_Kind(t *testing.T) {
	c := Config{Listen: defaultListen, DataDir: defaultDataDir}
	c.setDefaults()
	if got := config.Kind(c.Log); got != "file" {
		t.Errorf("default log kind = %q, want file", got)
	}
	if got := config.Kind(c.Store); got != "duckdb" {
		t.Errorf("default store kind = %q, want duckdb", got)
	}
	s := SinkConfig{TCP: &tcp.Config{}, TLS: &tcp.TLSKind{}}
	if got := s.kind(); got != "" {
		t.Errorf("kind of a sink with two kinds = %q, want empty", got)
	}
}

// TestShippedConfigs: the config docker-compose uses, and the sink
// example in the README, are valid configs.
func TestShippedConfigs(t *testing.T) {
	t.Setenv("CLICKHOUSE_PASSWORD", "secret")
	t.Setenv("SPLUNK_HEC_TOKEN", "0000-token")
	if _, err := loadConfig(filepath.Join("..", "..", "deploy", "vigil.yaml"), overrides{}); err != nil {
		t.Errorf("deploy/vigil.yaml: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Forwarding to sinks")
	if !ok {
		t.Fatal("README has no sinks section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README's sinks section has no yaml block")
	}
	cfg, err := loadConfig(writeConfig(t, block), overrides{})
	if err != nil {
		t.Fatalf("README sinks example: %v", err)
	}
	var kinds []string
	for _, s := range cfg.Sinks {
		kinds = append(kinds, s.kind())
	}
	if diff := cmp.Diff([]string{"tcp", "tls", "splunkhec", "syslog", "relp"}, kinds); diff != "" {
		t.Errorf("README example kinds (-want +got):\n%s", diff)
	}
}
