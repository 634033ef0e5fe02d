package kafkalog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/config"
)

func TestValidate(t *testing.T) {
	ok := func(c kafkalog.Config) kafkalog.Config {
		if c.Brokers == nil {
			c.Brokers = []string{"kafka:9092"}
		}
		return c
	}
	tests := []struct {
		name string
		cfg  kafkalog.Config
		want []string // one line per problem
	}{
		{name: "Minimal", cfg: ok(kafkalog.Config{})},
		{name: "Full", cfg: kafkalog.Config{
			Brokers: []string{"kafka-1:9092", "10.0.0.2:9093", "[::1]:9094"}, Topic: "audit.events_v2",
			CreateTopic: true, Partitions: 24, ReplicationFactor: 3,
			TLS:          &config.ClientTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "kafka"},
			SASL:         &kafkalog.SASLConfig{Mechanism: "scram-sha-512", Username: "vigil", Password: "s3cret"},
			BatchTimeout: time.Millisecond, SessionTimeout: 10 * time.Second, RebalanceTimeout: 20 * time.Second,
			HeartbeatInterval: time.Second,
		}},
		{name: "MechanismAnyCase", cfg: ok(kafkalog.Config{SASL: &kafkalog.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p"}})},
		{name: "NoBrokers", cfg: kafkalog.Config{}, want: []string{"brokers: at least one broker is required"}},
		{name: "BadBrokers", cfg: kafkalog.Config{Brokers: []string{"kafka", ":9092", "kafka:http", "kafka:70000"}}, want: []string{
			`brokers[0]: "kafka" is not host:port`,
			`brokers[1]: ":9092" has no host`,
			`brokers[2]: "kafka:http" has no valid port`,
			`brokers[3]: "kafka:70000" has no valid port`,
		}},
		{name: "BadTopic", cfg: ok(kafkalog.Config{Topic: "audit events"}), want: []string{
			`topic: "audit events" is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)`,
		}},
		{name: "TopicDot", cfg: ok(kafkalog.Config{Topic: ".."}), want: []string{
			`topic: ".." is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)`,
		}},
		{name: "NegativeCounts", cfg: ok(kafkalog.Config{Partitions: -1, ReplicationFactor: -3}), want: []string{
			"partitions: must be between 1 and 2147483647, or 0 for 12",
			"replication_factor: must be between 1 and 32767, or 0 for the default",
		}},
		{name: "NegativeDurations", cfg: ok(kafkalog.Config{BatchTimeout: -1, SessionTimeout: -1, RebalanceTimeout: -1, HeartbeatInterval: -1}), want: []string{
			"batch_timeout: must not be negative",
			"session_timeout: must not be negative",
			"rebalance_timeout: must not be negative",
			"heartbeat_interval: must not be negative",
		}},
		{name: "HeartbeatNotShorterThanSession", cfg: ok(kafkalog.Config{SessionTimeout: time.Second, HeartbeatInterval: time.Second}), want: []string{
			"heartbeat_interval: must be shorter than session_timeout",
		}},
		{name: "TLSTwoCAs", cfg: ok(kafkalog.Config{TLS: &config.ClientTLS{CAFile: "ca.pem", CAPEM: "x"}}), want: []string{
			"tls.ca_pem: cannot be set together with ca_file",
		}},
		{name: "TLSBadPEM", cfg: ok(kafkalog.Config{TLS: &config.ClientTLS{CAPEM: "not a certificate"}}), want: []string{
			"tls.ca_pem: no PEM certificate found",
		}},
		{name: "TLSCertWithoutKey", cfg: ok(kafkalog.Config{TLS: &config.ClientTLS{CertFile: "c.pem"}}), want: []string{
			"tls.key_file: required when cert_file is set",
		}},
		{name: "TLSKeyWithoutCert", cfg: ok(kafkalog.Config{TLS: &config.ClientTLS{KeyFile: "k.pem"}}), want: []string{
			"tls.cert_file: required when key_file is set",
		}},
		{name: "SASLBadMechanism", cfg: ok(kafkalog.Config{SASL: &kafkalog.SASLConfig{Mechanism: "gssapi", Username: "u", Password: "p"}}), want: []string{
			"sasl.mechanism: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got \"gssapi\"",
		}},
		{name: "SASLEmpty", cfg: ok(kafkalog.Config{SASL: &kafkalog.SASLConfig{}}), want: []string{
			"sasl.mechanism: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got \"\"",
			"sasl.username: required",
			"sasl.password: required",
		}},
		{name: "AllAtOnce", cfg: kafkalog.Config{Topic: "a/b", SASL: &kafkalog.SASLConfig{Mechanism: "plain", Username: "u"}}, want: []string{
			"brokers: at least one broker is required",
			`topic: "a/b" is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)`,
			"sasl.password: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := tt.cfg.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() problems (-want +got):\n%s", diff)
			}
		})
	}
}
