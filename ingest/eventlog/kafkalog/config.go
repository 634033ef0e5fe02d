package kafkalog

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/vigilaudit/vigil/internal/config"
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
	TLS *config.ClientTLS `yaml:"tls"`
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

// SASLConfig authenticates the log to the brokers.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (case does not
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
	var p config.Problems
	if len(c.Brokers) == 0 {
		p.Add("brokers", "at least one broker is required")
	}
	for i, b := range c.Brokers {
		if err := checkHostPort(b); err != nil {
			p.Add(fmt.Sprintf("brokers[%d]", i), "%v", err)
		}
	}
	if c.Topic != "" && (!topicName.MatchString(c.Topic) || c.Topic == "." || c.Topic == "..") {
		p.Add("topic", "%q is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)", c.Topic)
	}
	if c.Partitions < 0 || c.Partitions > math.MaxInt32 {
		p.Add("partitions", "must be between 1 and %d, or 0 for %d", math.MaxInt32, DefaultPartitions)
	}
	if c.ReplicationFactor < 0 || c.ReplicationFactor > math.MaxInt16 {
		p.Add("replication_factor", "must be between 1 and %d, or 0 for the default", math.MaxInt16)
	}
	p.NotNegative("batch_timeout", int64(c.BatchTimeout))
	p.NotNegative("session_timeout", int64(c.SessionTimeout))
	p.NotNegative("rebalance_timeout", int64(c.RebalanceTimeout))
	p.NotNegative("heartbeat_interval", int64(c.HeartbeatInterval))
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		p.Add("heartbeat_interval", "must be shorter than session_timeout")
	}
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	if c.SASL != nil {
		p.Nest("sasl", c.SASL.Validate())
	}
	return p.Err()
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

// The SASL mechanisms, in the spelling Validate accepts (any case).
const (
	mechPlain       = "plain"
	mechScramSHA256 = "scram-sha-256"
	mechScramSHA512 = "scram-sha-512"
)

// Validate checks the mechanism and that the credentials are present.
func (c SASLConfig) Validate() error {
	var p config.Problems
	switch strings.ToLower(c.Mechanism) {
	case mechPlain, mechScramSHA256, mechScramSHA512:
	default:
		p.Add("mechanism", "must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got %q", c.Mechanism)
	}
	if c.Username == "" {
		p.Add("username", "required")
	}
	if c.Password == "" {
		p.Add("password", "required")
	}
	return p.Err()
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

// SetDefaults names the default topic when none is set; the other zero
// values are defaults as they are.
func (c *Config) SetDefaults() {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	c.SetDefaults()
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
