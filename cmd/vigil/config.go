package main

import (
	"fmt"
	"strings"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/contentapi/blob/s3blob"
	"github.com/vigilaudit/vigil/contentapi/ldapauth"
	"github.com/vigilaudit/vigil/contentapi/mail"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/splunkhec"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// Config is the whole configuration file, composed of the packages' own
// configs: each section's keys, defaults and checks belong to the package
// that uses them.
//
// A section that chooses a kind (log, store, each sink) does so by which
// one of its kind keys is present; a kind is a pointer field (see
// config.Kind).
type Config struct {
	Listen  string          `yaml:"listen"`
	DataDir string          `yaml:"data_dir"`
	TLS     ServerTLSConfig `yaml:"tls"`
	Ingest  ingest.Config   `yaml:"ingest"`
	Log     LogConfig       `yaml:"log"`
	Store   StoreConfig     `yaml:"store"`
	Sinks   []SinkConfig    `yaml:"sinks"`
	Content ContentConfig   `yaml:"content"`
	Detect  detect.Config   `yaml:"detect"`
}

// ContentConfig is the content API's section. Its metadata database
// (embedded SQLite in the data directory unless content.postgres is set)
// also holds the credential store.
type ContentConfig struct {
	metadb.Config `yaml:",inline"`
	// Password is the argon2id cost of new password hashes.
	Password password.Config `yaml:"password"`
	// SignIn limits failed sign-ins per (address, user) and per address.
	SignIn contentapi.SignInConfig `yaml:"signin"`
	// Session is the web sign-in's cookie sessions.
	Session session.Config `yaml:"session"`
	// LDAP signs in, after the local password, users of an LDAP
	// directory, provisioning them on their first sign-in; absent is
	// none.
	LDAP *ldapauth.Config `yaml:"ldap"`
	// OIDC signs users in through an OpenID Connect issuer, provisioning
	// them on their first sign-in; absent is none.
	OIDC *contentapi.OIDCConfig `yaml:"oidc"`
	// Security limits password reset requests and second-factor codes.
	Security contentapi.SecurityConfig `yaml:"security"`
	// Mail delivers the mail outbox by SMTP; without it mail stays in
	// the outbox.
	Mail mail.Config `yaml:"mail"`
	// Org is the organization: its name, open sign-up, per-user quota.
	Org contentapi.OrgConfig `yaml:"org"`
	// OAuth is the OAuth 2.0 authorization server: the registration
	// JSON's hostname and cert, the longest token lifetime.
	OAuth contentapi.OAuthConfig `yaml:"oauth"`
	// Sweep is how often expired sessions, tokens and codes are deleted.
	Sweep contentapi.SweepConfig `yaml:"sweep"`
	// Blobs is where file contents are kept: disk (the default,
	// DATA_DIR/content/blobs) or s3; uploads are staged in
	// DATA_DIR/content/uploads.
	Blobs BlobsConfig `yaml:"blobs"`
	// Revisions bounds the earlier contents kept per file.
	Revisions RevisionsConfig `yaml:"revisions"`
}

// RevisionsConfig is the content.revisions section.
type RevisionsConfig struct {
	// Keep is how many earlier contents of each file are kept (default
	// 10); the oldest goes when a change would keep one more.
	Keep int `yaml:"keep"`
}

// BlobsConfig chooses the blob store: local disk (the default) or an
// S3-compatible object store.
type BlobsConfig struct {
	Disk *diskblob.Config `yaml:"disk"`
	S3   *s3blob.Config   `yaml:"s3"`
}

// LogConfig chooses the durable event log.
type LogConfig struct {
	File  *filelog.Config  `yaml:"file"`
	Kafka *kafkalog.Config `yaml:"kafka"`
}

// StoreConfig chooses the query store, and tunes the store group's
// consume loop and the store's expiry.
type StoreConfig struct {
	DuckDB     *duckstore.Config       `yaml:"duckdb"`
	ClickHouse *chstore.Config         `yaml:"clickhouse"`
	Consumer   eventlog.ConsumerConfig `yaml:"consumer"`
	Expiry     query.ExpiryConfig      `yaml:"expiry"`
}

// SinkConfig is one downstream system that receives a copy of the events:
// what every sink has, and one kind.
type SinkConfig struct {
	sinks.Config `yaml:",inline"`
	TCP          *tcp.Config        `yaml:"tcp"`
	TLS          *tcp.TLSKind       `yaml:"tls"`
	SplunkHEC    *splunkhec.Config  `yaml:"splunkhec"`
	Syslog       *syslogsink.Config `yaml:"syslog"`
	Relp         *relp.Config       `yaml:"relp"`
}

// kind is the key of the sink's kind.
func (c SinkConfig) kind() string { return config.Kind(c) }

// Defaults that are not the zero value.
const (
	defaultListen  = "127.0.0.1:8080"
	defaultDataDir = "./vigil-data"
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
// sections mean the embedded file log and DuckDB; each section then fills
// in its own.
func (c *Config) setDefaults() {
	if c.Log.File == nil && c.Log.Kafka == nil {
		c.Log.File = &filelog.Config{}
	}
	if c.Store.DuckDB == nil && c.Store.ClickHouse == nil {
		c.Store.DuckDB = &duckstore.Config{}
	}
	if f := c.Log.File; f != nil {
		f.SetDefaults()
	}
	if k := c.Log.Kafka; k != nil {
		k.SetDefaults()
	}
	if ch := c.Store.ClickHouse; ch != nil {
		ch.SetDefaults()
	}
	c.Content.Config.SetDefaults()
	c.Content.Password.SetDefaults()
	c.Content.SignIn.SetDefaults()
	c.Content.Session.SetDefaults()
	if c.Content.LDAP != nil {
		c.Content.LDAP.SetDefaults()
	}
	if c.Content.OIDC != nil {
		c.Content.OIDC.SetDefaults()
	}
	c.Content.Security.SetDefaults()
	c.Content.Mail.SetDefaults()
	c.Content.Org.SetDefaults()
	c.Content.OAuth.SetDefaults()
	if c.Content.Blobs.Disk == nil && c.Content.Blobs.S3 == nil {
		c.Content.Blobs.Disk = &diskblob.Config{}
	}
	if s := c.Content.Blobs.S3; s != nil {
		s.SetDefaults()
	}
	c.Content.Sweep.SetDefaults()
	if c.Content.Revisions.Keep == 0 {
		c.Content.Revisions.Keep = 10
	}
	for i := range c.Sinks {
		c.Sinks[i].Config.SetDefaults()
		if r := c.Sinks[i].Relp; r != nil {
			r.SetDefaults()
		}
	}
}

// Validate reports every problem in the configuration, each naming its key
// path. It expects the defaults to have been set.
func (c *Config) Validate() error {
	var p config.Problems
	if c.Listen == "" {
		p.Add("listen", "required")
	} else if err := config.CheckHostPort(c.Listen); err != nil {
		p.Add("listen", "%v", err)
	}
	if c.DataDir == "" {
		p.Add("data_dir", "required")
	}
	p.Nest("tls", c.TLS.Validate())
	p.Nest("ingest", c.Ingest.Validate())
	p.Nest("log", oneKind(c.Log))
	p.Nest("store", oneKind(c.Store))
	p.Nest("store.consumer", c.Store.Consumer.Validate())
	p.Nest("store.expiry", c.Store.Expiry.Validate())
	p.Nest("content", c.Content.Validate())
	p.Nest("detect", c.Detect.Validate())
	p.Nest("content.password", c.Content.Password.Validate())
	p.Nest("content.signin", c.Content.SignIn.Validate())
	p.Nest("content.session", c.Content.Session.Validate())
	if c.Content.LDAP != nil {
		p.Nest("content.ldap", c.Content.LDAP.Validate())
	}
	if c.Content.OIDC != nil {
		p.Nest("content.oidc", c.Content.OIDC.Validate())
	}
	p.Nest("content.security", c.Content.Security.Validate())
	p.Nest("content.mail", c.Content.Mail.Validate())
	p.Nest("content.org", c.Content.Org.Validate())
	p.Nest("content.oauth", c.Content.OAuth.Validate())
	p.Nest("content.blobs", oneKind(c.Content.Blobs))
	p.Nest("content.sweep", c.Content.Sweep.Validate())
	if c.Content.Revisions.Keep < 1 {
		p.Add("content.revisions.keep", "must be at least 1")
	}
	first := make(map[string]bool)
	for i, s := range c.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		p.Nest(path, s.Config.Validate())
		p.Nest(path, oneKind(s))
		p.Nest(path, s.Config.CheckKind(s.kind()))
		if s.Name != "" && first[s.Name] {
			p.Add(path+".name", "duplicate %q", s.Name)
		}
		first[s.Name] = true
	}
	return p.Err()
}

func oneKind(section any) error {
	var p config.Problems
	p.OneKind(section)
	return p.Err()
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
	var p config.Problems
	p.Pair("cert_file", c.CertFile, "key_file", c.KeyFile)
	if c.ClientCAFile != "" && !c.Enabled() {
		p.Add("client_ca_file", "needs cert_file and key_file: client certificates need TLS")
	}
	return p.Err()
}
