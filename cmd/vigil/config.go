package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilaudit/vigil/internal/config"
)

// Config is the whole configuration file. Each section will move to the
// package that owns it (the event log, the query store, the sinks) as
// those packages land; the binary only composes them.
//
// A section that chooses a kind (log, store, each sink) does so by which
// one of its kind keys is present.
type Config struct {
	Listen  string          `yaml:"listen"`
	DataDir string          `yaml:"data_dir"`
	TLS     ServerTLSConfig `yaml:"tls"`
	Ingest  IngestConfig    `yaml:"ingest"`
	Log     LogConfig       `yaml:"log"`
	Store   StoreConfig     `yaml:"store"`
	Sinks   []SinkConfig    `yaml:"sinks"`
}

// Defaults that are not the zero value.
const (
	defaultListen       = "127.0.0.1:8080"
	defaultDataDir      = "./vigil-data"
	defaultMaxBytes     = 10 << 30
	defaultSegmentBytes = 256 << 20
	defaultKafkaTopic   = "vigil-events"
	defaultCHDatabase   = "vigil"
)

// overrides are command-line flags that replace values from the file; nil
// means the flag was not given.
type overrides struct {
	Listen  *string
	DataDir *string
}

// loadConfig reads the file at path (none if empty), applies the flag
// overrides and the defaults, and validates the result.
func loadConfig(path string, o overrides) (Config, error) {
	c := Config{Listen: defaultListen, DataDir: defaultDataDir}
	if path != "" {
		if err := config.Load(path, &c); err != nil {
			return Config{}, err
		}
	}
	if o.Listen != nil {
		c.Listen = *o.Listen
	}
	if o.DataDir != nil {
		c.DataDir = *o.DataDir
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, &listError{title: "invalid config", err: err}
	}
	return c, nil
}

// listError shows the problems in err, one per line, under a title.
type listError struct {
	title string
	err   error
}

func (e *listError) Error() string {
	return e.title + ":\n  " + strings.ReplaceAll(e.err.Error(), "\n", "\n  ")
}

func (e *listError) Unwrap() error { return e.err }

// setDefaults fills in what the file left out: absent log and store
// sections mean the embedded file log and DuckDB.
func (c *Config) setDefaults() {
	if c.Log.File == nil && c.Log.Kafka == nil {
		c.Log.File = &FileLogConfig{}
	}
	if f := c.Log.File; f != nil {
		if f.MaxBytes == 0 {
			f.MaxBytes = defaultMaxBytes
		}
		if f.SegmentBytes == 0 {
			f.SegmentBytes = defaultSegmentBytes
		}
	}
	if k := c.Log.Kafka; k != nil && k.Topic == "" {
		k.Topic = defaultKafkaTopic
	}
	if c.Store.DuckDB == nil && c.Store.ClickHouse == nil {
		c.Store.DuckDB = &DuckDBConfig{}
	}
	if ch := c.Store.ClickHouse; ch != nil && ch.Database == "" {
		ch.Database = defaultCHDatabase
	}
	for i := range c.Sinks {
		if c.Sinks[i].Required == nil {
			required := true
			c.Sinks[i].Required = &required
		}
	}
}

// Validate reports every problem in the configuration, each naming its key
// path. It expects the defaults to have been set.
func (c *Config) Validate() error {
	var p problems
	if c.Listen == "" {
		p.add("listen", "required")
	} else if err := checkHostPort(c.Listen); err != nil {
		p.add("listen", "%v", err)
	}
	if c.DataDir == "" {
		p.add("data_dir", "required")
	}
	p.nest("tls", c.TLS.Validate())
	p.nest("ingest", c.Ingest.Validate())
	p.nest("log", c.Log.Validate())
	p.nest("store", c.Store.Validate())
	first := make(map[string]int)
	for i, s := range c.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		p.nest(path, s.Validate())
		if s.Name == "" {
			continue
		}
		if _, dup := first[s.Name]; dup {
			p.add(path+".name", "duplicate %q", s.Name)
			continue
		}
		first[s.Name] = i
	}
	return p.err()
}

// ServerTLSConfig turns on TLS for the HTTP listener.
type ServerTLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, if set, makes the listener ask for client
	// certificates and trust those this CA signed: a device may then
	// submit events with a certificate whose common name is its id.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the listener serves TLS.
func (c ServerTLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Validate checks that the certificate and key come together.
func (c ServerTLSConfig) Validate() error {
	var p problems
	p.pair("cert_file", c.CertFile, "key_file", c.KeyFile)
	if c.ClientCAFile != "" && !c.Enabled() {
		p.add("client_ca_file", "needs cert_file and key_file: client certificates need TLS")
	}
	return p.err()
}

// LogConfig chooses the durable event log.
type LogConfig struct {
	File  *FileLogConfig  `yaml:"file"`
	Kafka *KafkaLogConfig `yaml:"kafka"`
}

// Kind returns the chosen kind's key, or "" when none or several are set.
func (c LogConfig) Kind() string {
	return kind(map[string]bool{"file": c.File != nil, "kafka": c.Kafka != nil})
}

// Validate checks that exactly one kind is set, and that kind.
func (c LogConfig) Validate() error {
	var p problems
	p.exactlyOne([]string{"file", "kafka"}, c.File != nil, c.Kafka != nil)
	if c.File != nil {
		p.nest("file", c.File.Validate())
	}
	if c.Kafka != nil {
		p.nest("kafka", c.Kafka.Validate())
	}
	return p.err()
}

// FileLogConfig is the embedded segment log under data_dir.
type FileLogConfig struct {
	// MaxBytes bounds the log on disk; when it is full, ingest answers
	// 503 until consumers catch up or retention frees space.
	MaxBytes     config.ByteSize `yaml:"max_bytes"`
	SegmentBytes config.ByteSize `yaml:"segment_bytes"`
	// Retention, if set, drops segments older than this, except what a
	// required consumer group (the store, required sinks) has not
	// committed; groups that are not required skip ahead.
	Retention config.Duration `yaml:"retention"`
}

// Validate checks the sizes and the retention.
func (c FileLogConfig) Validate() error {
	var p problems
	if c.MaxBytes == 0 {
		p.add("max_bytes", "must be positive")
	}
	if c.SegmentBytes == 0 {
		p.add("segment_bytes", "must be positive")
	} else if c.SegmentBytes >= c.MaxBytes {
		p.add("segment_bytes", "must be smaller than max_bytes")
	}
	if c.Retention < 0 {
		p.add("retention", "must not be negative")
	}
	return p.err()
}

// KafkaLogConfig is an event log on a Kafka topic.
type KafkaLogConfig struct {
	Brokers []string         `yaml:"brokers"`
	Topic   string           `yaml:"topic"`
	TLS     *ClientTLSConfig `yaml:"tls"`
	SASL    *SASLConfig      `yaml:"sasl"`
	// CreateTopic lets serve create a missing topic with Partitions
	// (default 12) and ReplicationFactor (default 3, or the brokers
	// there are) replicas; without it a missing topic is an error.
	CreateTopic       bool `yaml:"create_topic"`
	Partitions        int  `yaml:"partitions"`
	ReplicationFactor int  `yaml:"replication_factor"`
}

var kafkaTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Validate checks the brokers, topic, TLS and SASL settings.
func (c KafkaLogConfig) Validate() error {
	var p problems
	if len(c.Brokers) == 0 {
		p.add("brokers", "at least one broker is required")
	}
	for i, b := range c.Brokers {
		if err := checkHostPort(b); err != nil {
			p.add(fmt.Sprintf("brokers[%d]", i), "%v", err)
		}
	}
	if !kafkaTopic.MatchString(c.Topic) {
		p.add("topic", "%q is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)", c.Topic)
	}
	if c.TLS != nil {
		p.nest("tls", c.TLS.Validate())
	}
	if c.SASL != nil {
		p.nest("sasl", c.SASL.Validate())
	}
	if c.Partitions < 0 {
		p.add("partitions", "must not be negative")
	}
	if c.ReplicationFactor < 0 {
		p.add("replication_factor", "must not be negative")
	}
	return p.err()
}

// SASLConfig authenticates a Kafka client.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Validate checks the mechanism and that the credentials are present.
func (c SASLConfig) Validate() error {
	var p problems
	if !slices.Contains(saslMechanisms, c.Mechanism) {
		p.add("mechanism", "must be one of %s, got %q", strings.Join(saslMechanisms, ", "), c.Mechanism)
	}
	if c.Username == "" {
		p.add("username", "required")
	}
	if c.Password == "" {
		p.add("password", "required")
	}
	return p.err()
}

// ClientTLSConfig is how Vigil dials a TLS server: which CAs to trust and,
// for mutual TLS, its own certificate.
type ClientTLSConfig struct {
	CAFile     string `yaml:"ca_file"`
	CAPEM      string `yaml:"ca_pem"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Validate checks that the CA comes from one place and the client
// certificate and key come together.
func (c ClientTLSConfig) Validate() error {
	var p problems
	if c.CAFile != "" && c.CAPEM != "" {
		p.add("ca_pem", "cannot be set together with ca_file")
	} else if c.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CAPEM)) {
		p.add("ca_pem", "no PEM certificate found")
	}
	p.pair("cert_file", c.CertFile, "key_file", c.KeyFile)
	return p.err()
}

// StoreConfig chooses the query store.
type StoreConfig struct {
	DuckDB     *DuckDBConfig     `yaml:"duckdb"`
	ClickHouse *ClickHouseConfig `yaml:"clickhouse"`
}

// Kind returns the chosen kind's key, or "" when none or several are set.
func (c StoreConfig) Kind() string {
	return kind(map[string]bool{"duckdb": c.DuckDB != nil, "clickhouse": c.ClickHouse != nil})
}

// Validate checks that exactly one kind is set, and that kind.
func (c StoreConfig) Validate() error {
	var p problems
	p.exactlyOne([]string{"duckdb", "clickhouse"}, c.DuckDB != nil, c.ClickHouse != nil)
	if c.ClickHouse != nil {
		p.nest("clickhouse", c.ClickHouse.Validate())
	}
	return p.err()
}

// DuckDBConfig is the embedded DuckDB store under data_dir. It has no
// settings yet.
type DuckDBConfig struct{}

// ClickHouseConfig is a ClickHouse store, reached over the native
// protocol.
type ClickHouseConfig struct {
	Addr     []string `yaml:"addr"`
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// Retention, if set, drops whole months of events older than this
	// (checked at start and every hour).
	Retention config.Duration `yaml:"retention"`
}

var sqlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the addresses and the database name.
func (c ClickHouseConfig) Validate() error {
	var p problems
	if len(c.Addr) == 0 {
		p.add("addr", "at least one address is required")
	}
	for i, a := range c.Addr {
		if err := checkHostPort(a); err != nil {
			p.add(fmt.Sprintf("addr[%d]", i), "%v", err)
		}
	}
	if !sqlIdentifier.MatchString(c.Database) {
		p.add("database", "%q is not a valid database name", c.Database)
	}
	return p.err()
}

// SinkConfig is one downstream system that receives a copy of the events.
type SinkConfig struct {
	// Name identifies the sink in metrics and its log consumer group
	// ("sink.NAME"); renaming a sink restarts it from the oldest event.
	Name      string            `yaml:"name"`
	TCP       *TCPSinkConfig    `yaml:"tcp"`
	TLS       *TLSSinkConfig    `yaml:"tls"`
	SplunkHEC *SplunkHECConfig  `yaml:"splunkhec"`
	Syslog    *SyslogSinkConfig `yaml:"syslog"`
	Filter    FilterConfig      `yaml:"filter"`
	// Required sinks keep the event log from deleting what they have not
	// delivered (when the log is full, ingest answers 503 until they
	// catch up). A sink that is not required is skipped ahead instead,
	// and the skipped records raise an alert.log.skipped event.
	// Defaults to true.
	Required *bool `yaml:"required"`
	// BatchSize is the most events written at once (default 1000);
	// Linger is how long a batch waits to fill once one event is ready
	// (default 100ms).
	BatchSize int             `yaml:"batch_size"`
	Linger    config.Duration `yaml:"linger"`
}

var sinkKinds = []string{"tcp", "tls", "splunkhec", "syslog"}

var sinkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// Kind returns the chosen kind's key, or "" when none or several are set.
func (c SinkConfig) Kind() string {
	return kind(map[string]bool{
		"tcp": c.TCP != nil, "tls": c.TLS != nil, "splunkhec": c.SplunkHEC != nil, "syslog": c.Syslog != nil,
	})
}

// Validate checks the name, that exactly one kind is set, that kind, and
// the filter.
func (c SinkConfig) Validate() error {
	var p problems
	switch {
	case c.Name == "":
		p.add("name", "required")
	case !sinkName.MatchString(c.Name):
		p.add("name", "%q must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Name)
	}
	p.exactlyOne(sinkKinds, c.TCP != nil, c.TLS != nil, c.SplunkHEC != nil, c.Syslog != nil)
	if c.TCP != nil {
		p.nest("tcp", c.TCP.Validate())
	}
	if c.TLS != nil {
		p.nest("tls", c.TLS.Validate())
	}
	if c.SplunkHEC != nil {
		p.nest("splunkhec", c.SplunkHEC.Validate())
	}
	if c.Syslog != nil {
		p.nest("syslog", c.Syslog.Validate())
	}
	p.nest("filter", c.Filter.Validate())
	if c.BatchSize < 0 || c.BatchSize > 100000 {
		p.add("batch_size", "%d is out of range (1 to 100000; 0 for the default)", c.BatchSize)
	}
	if c.Linger < 0 {
		p.add("linger", "must not be negative")
	}
	return p.err()
}

// FilterConfig limits a sink to some events; every condition given must
// hold, and empty lists mean all.
type FilterConfig struct {
	Topics []string `yaml:"topics"`
	Events []string `yaml:"events"`
	// Match keeps events whose field at each path ("user",
	// "caller.email") has the value given.
	Match map[string]string `yaml:"match"`
}

// Validate checks that no entry is empty.
func (c FilterConfig) Validate() error {
	var p problems
	for i, t := range c.Topics {
		if strings.TrimSpace(t) == "" {
			p.add(fmt.Sprintf("topics[%d]", i), "must not be empty")
		}
	}
	for i, e := range c.Events {
		if strings.TrimSpace(e) == "" {
			p.add(fmt.Sprintf("events[%d]", i), "must not be empty")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Match)) {
		if k == "" || slices.Contains(strings.Split(k, "."), "") {
			p.add("match", "%q is not a field path (names joined by '.')", k)
		}
	}
	return p.err()
}

// TCPSinkConfig sends newline-delimited JSON over plain TCP.
type TCPSinkConfig struct {
	Address string `yaml:"address"`
}

// Validate checks the address.
func (c TCPSinkConfig) Validate() error {
	var p problems
	p.address("address", c.Address)
	return p.err()
}

// TLSSinkConfig sends newline-delimited JSON over TLS.
type TLSSinkConfig struct {
	Address         string `yaml:"address"`
	ClientTLSConfig `yaml:",inline"`
}

// Validate checks the address and the TLS settings.
func (c TLSSinkConfig) Validate() error {
	var p problems
	p.address("address", c.Address)
	p.nest("", c.ClientTLSConfig.Validate())
	return p.err()
}

// SplunkHECConfig sends events to a Splunk HTTP Event Collector.
type SplunkHECConfig struct {
	URL        string `yaml:"url"`
	Token      string `yaml:"token"`
	Index      string `yaml:"index"`
	Source     string `yaml:"source"`
	SourceType string `yaml:"sourcetype"`
	Host       string `yaml:"host"`
	// Ack waits for indexer acknowledgement before committing; the batch
	// is sent again when no acknowledgement comes within AckTimeout
	// (default 300s).
	Ack        bool            `yaml:"ack"`
	AckTimeout config.Duration `yaml:"ack_timeout"`
	// Channel is the HEC channel id (a GUID); default: a new one at start.
	Channel string `yaml:"channel"`
	// Gzip compresses request bodies.
	Gzip bool `yaml:"gzip"`
	// TLS sets the CAs (and client certificate) for an https URL;
	// default: the system roots.
	TLS *ClientTLSConfig `yaml:"tls"`
}

// Validate checks the URL and that a token is present.
func (c SplunkHECConfig) Validate() error {
	var p problems
	if c.URL == "" {
		p.add("url", "required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("url", "%q is not an http or https URL", c.URL)
	}
	if c.Token == "" {
		p.add("token", "required")
	}
	if c.AckTimeout < 0 {
		p.add("ack_timeout", "must not be negative")
	}
	if c.TLS != nil {
		p.nest("tls", c.TLS.Validate())
	}
	return p.err()
}

// SyslogSinkConfig sends RFC 5424 syslog messages over TCP, or TLS when
// tls is set.
type SyslogSinkConfig struct {
	Address  string           `yaml:"address"`
	Facility string           `yaml:"facility"`
	AppName  string           `yaml:"app_name"`
	TLS      *ClientTLSConfig `yaml:"tls"`
}

var syslogFacilities = []string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// Validate checks the address, facility, app name and TLS settings.
func (c SyslogSinkConfig) Validate() error {
	var p problems
	p.address("address", c.Address)
	if c.Facility != "" && !slices.Contains(syslogFacilities, c.Facility) {
		p.add("facility", "unknown facility %q (want one of %s)", c.Facility, strings.Join(syslogFacilities, ", "))
	}
	if len(c.AppName) > 48 || strings.ContainsFunc(c.AppName, func(r rune) bool { return r <= ' ' || r > '~' }) {
		p.add("app_name", "must be at most 48 printable ASCII characters without spaces")
	}
	if c.TLS != nil {
		p.nest("tls", c.TLS.Validate())
	}
	return p.err()
}

// checkHostPort checks that s is host:port with a numeric port; the host
// may be empty (all interfaces).
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", s)
	}
	return nil
}

// kind returns the one key set to true, or "".
func kind(set map[string]bool) string {
	k := ""
	for name, ok := range set {
		if !ok {
			continue
		}
		if k != "" {
			return ""
		}
		k = name
	}
	return k
}

// fieldError is one configuration problem at a key path.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// problems collects the configuration problems of one section.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &fieldError{path: path, msg: fmt.Sprintf(format, args...)})
}

// nest adds the problems of a subsection found at path.
func (p *problems) nest(path string, err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *fieldError
		if !errors.As(e, &fe) {
			p.add(path, "%v", e)
			continue
		}
		sub := fe.path
		switch {
		case path == "":
		case sub == "":
			sub = path
		case strings.HasPrefix(sub, "["):
			sub = path + sub
		default:
			sub = path + "." + sub
		}
		*p = append(*p, &fieldError{path: sub, msg: fe.msg})
	}
}

// exactlyOne records a problem unless exactly one of the kinds is set.
func (p *problems) exactlyOne(kinds []string, set ...bool) {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	if n != 1 {
		p.add("", "exactly one of %s must be set, got %d", strings.Join(kinds, ", "), n)
	}
}

// pair records a problem when only one of two settings that go together
// is set.
func (p *problems) pair(aKey, a, bKey, b string) {
	switch {
	case a != "" && b == "":
		p.add(bKey, "required when %s is set", aKey)
	case a == "" && b != "":
		p.add(aKey, "required when %s is set", bKey)
	}
}

// address records a problem unless v is a host:port.
func (p *problems) address(key, v string) {
	if v == "" {
		p.add(key, "required")
	} else if err := checkHostPort(v); err != nil {
		p.add(key, "%v", err)
	}
}

func (p problems) err() error {
	return errors.Join(p...)
}

// IngestConfig holds ingest's limits; zero values are the defaults.
type IngestConfig struct {
	MaxBodyBytes  config.ByteSize `yaml:"max_body_bytes"`  // 64MiB, after decompression
	MaxEvents     int             `yaml:"max_events"`      // 100000 per request
	MaxEventBytes config.ByteSize `yaml:"max_event_bytes"` // 1MiB per event
	MaxStringLen  int             `yaml:"max_string_len"`  // 4096 bytes per string field
	DedupWindow   config.Duration `yaml:"dedup_window"`    // 24h
	DedupMaxIDs   int             `yaml:"dedup_max_ids"`   // 10000000
	DeviceRate    float64         `yaml:"device_rate"`     // events/s per device, 100000
	DeviceBurst   int             `yaml:"device_burst"`    // max_events at least
}

// Validate checks that no limit is negative.
func (c IngestConfig) Validate() error {
	var p problems
	for _, f := range []struct {
		key string
		neg bool
	}{
		{"max_events", c.MaxEvents < 0}, {"max_string_len", c.MaxStringLen < 0},
		{"dedup_window", c.DedupWindow < 0}, {"dedup_max_ids", c.DedupMaxIDs < 0},
		{"device_rate", c.DeviceRate < 0}, {"device_burst", c.DeviceBurst < 0},
	} {
		if f.neg {
			p.add(f.key, "must not be negative")
		}
	}
	if c.MaxEventBytes > 0 && c.MaxBodyBytes > 0 && c.MaxEventBytes > c.MaxBodyBytes {
		p.add("max_event_bytes", "must not exceed max_body_bytes")
	}
	return p.err()
}
