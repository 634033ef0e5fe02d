package kafkalog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
)

// Defaults for the zero values of Config.
const (
	DefaultTopic        = "vigil-events"
	DefaultPartitions   = 12
	DefaultReplication  = 3
	DefaultBatchTimeout = 5 * time.Millisecond
)

// Config configures a Kafka event log. The zero value of every field but
// Brokers is a sensible default.
type Config struct {
	// Brokers are the bootstrap brokers, host:port each.
	Brokers []string `yaml:"brokers"`
	// Topic holds the events (default "vigil-events").
	Topic string `yaml:"topic"`

	// CreateTopic lets Open create a missing topic with Partitions
	// partitions and ReplicationFactor replicas; without it a missing
	// topic is an error.
	CreateTopic bool `yaml:"create_topic"`
	// Partitions is the partition count of a topic Open creates (default
	// 12). More partitions let more consumers of a group work at once;
	// order holds per key whatever the count.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor is the replica count of a topic Open creates.
	// Zero means 3, or every broker when the cluster has fewer (a
	// development cluster of one broker); a topic with 3 or more replicas
	// is created with min.insync.replicas=2 so that an acknowledged
	// append is on two brokers at least.
	ReplicationFactor int `yaml:"replication_factor"`

	// TLS, when set, encrypts the connections to the brokers.
	TLS *TLSConfig `yaml:"tls"`
	// SASL, when set, authenticates to the brokers.
	SASL *SASLConfig `yaml:"sasl"`

	// BatchTimeout is how long the writer waits for more messages to a
	// partition before it sends them (default 5ms). Append returns only
	// after the send, so this adds to its latency.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// SessionTimeout, RebalanceTimeout and HeartbeatInterval are the
	// consumer groups' timings; zero means kafka-go's defaults (30s, 30s
	// and 3s). A consumer that stops heart-beating for SessionTimeout
	// loses its partitions to the rest of its group. A HeartbeatInterval
	// under 5s also shortens the wait before a failed join is retried
	// (kafka-go's 5s) to HeartbeatInterval.
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`

	// Logger receives the Kafka client's messages (debug) and errors
	// (warn). Nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// TLSConfig is how the log dials brokers over TLS: which CAs to trust and,
// for mutual TLS, its own certificate.
type TLSConfig struct {
	// CAFile or CAPEM (not both) holds the PEM certificates of the CAs
	// to trust; with neither, the system's roots are trusted.
	CAFile string `yaml:"ca_file"`
	CAPEM  string `yaml:"ca_pem"`
	// CertFile and KeyFile (both or neither) hold the client certificate
	// and key, in PEM.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the brokers' certificates
	// (default: the host dialled).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASLConfig authenticates the log to the brokers.
type SASLConfig struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512 (case does not
	// matter). Use plain only over TLS.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// Kafka's topic name rule.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Validate checks the configuration without touching the network or the
// file system. Each problem is reported with its key, all at once.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		add("brokers", "at least one required")
	}
	for i, b := range c.Brokers {
		if err := checkHostPort(b); err != nil {
			add(fmt.Sprintf("brokers[%d]", i), "%v", err)
		}
	}
	if c.Topic != "" && (!topicName.MatchString(c.Topic) || c.Topic == "." || c.Topic == "..") {
		add("topic", "%q is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)", c.Topic)
	}
	if c.Partitions < 0 || c.Partitions > math.MaxInt32 {
		add("partitions", "must be between 1 and %d, or 0 for %d", math.MaxInt32, DefaultPartitions)
	}
	if c.ReplicationFactor < 0 || c.ReplicationFactor > math.MaxInt16 {
		add("replication_factor", "must be between 1 and %d, or 0 for the default", math.MaxInt16)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"batch_timeout", c.BatchTimeout},
		{"session_timeout", c.SessionTimeout},
		{"rebalance_timeout", c.RebalanceTimeout},
		{"heartbeat_interval", c.HeartbeatInterval},
	} {
		if d.v < 0 {
			add(d.key, "must not be negative")
		}
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		add("heartbeat_interval", "must be shorter than session_timeout")
	}
	if c.TLS != nil {
		for _, err := range c.TLS.problems() {
			errs = append(errs, fmt.Errorf("tls.%w", err))
		}
	}
	if c.SASL != nil {
		for _, err := range c.SASL.problems() {
			errs = append(errs, fmt.Errorf("sasl.%w", err))
		}
	}
	return errors.Join(errs...)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}

func (c TLSConfig) problems() []error {
	var errs []error
	if c.CAFile != "" && c.CAPEM != "" {
		errs = append(errs, errors.New("ca_pem: cannot be set together with ca_file"))
	} else if c.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CAPEM)) {
		errs = append(errs, errors.New("ca_pem: no PEM certificate found"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		if c.CertFile == "" {
			errs = append(errs, errors.New("cert_file: required with key_file"))
		} else {
			errs = append(errs, errors.New("key_file: required with cert_file"))
		}
	}
	return errs
}

// config reads the files TLSConfig names and returns the client TLS
// configuration.
func (c TLSConfig) config() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, // opt-in; documented as for tests
	}
	pem := []byte(c.CAPEM)
	if c.CAFile != "" {
		var err error
		if pem, err = os.ReadFile(c.CAFile); err != nil {
			return nil, fmt.Errorf("read tls.ca_file: %w", err)
		}
	}
	if len(pem) > 0 {
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls.cert_file and tls.key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// The SASL mechanisms, in the spelling Validate accepts (any case).
const (
	mechPlain       = "plain"
	mechScramSHA256 = "scram-sha-256"
	mechScramSHA512 = "scram-sha-512"
)

func (c SASLConfig) problems() []error {
	var errs []error
	switch strings.ToLower(c.Mechanism) {
	case mechPlain, mechScramSHA256, mechScramSHA512:
	default:
		errs = append(errs, errors.New("mechanism: must be plain, scram-sha-256 or scram-sha-512"))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("username: required"))
	}
	if c.Password == "" {
		errs = append(errs, errors.New("password: required"))
	}
	return errs
}

// mechanism returns the kafka-go SASL mechanism; c must be valid.
func (c SASLConfig) mechanism() sasl.Mechanism {
	switch strings.ToLower(c.Mechanism) {
	case mechScramSHA256:
		return newScram(scramSHA256, c.Username, c.Password)
	case mechScramSHA512:
		return newScram(scramSHA512, c.Username, c.Password)
	default:
		return plain.Mechanism{Username: c.Username, Password: c.Password}
	}
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
