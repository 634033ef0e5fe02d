package splunkhec

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults for the zero values of Config.
const (
	DefaultAckTimeout      = 300 * time.Second
	DefaultAckPollInterval = time.Second
	DefaultTimeout         = 30 * time.Second
	DefaultMaxBatchBytes   = 1 << 20
	DefaultMaxInFlight     = 4
	// DefaultRefusedRetryInterval is how often a sink whose token the
	// collector refuses (disabled or invalid) asks it again.
	DefaultRefusedRetryInterval = time.Minute
)

// firstAckPoll is the wait before the first acknowledgement poll; later
// waits double up to AckPollInterval, so that a quick indexer is seen
// quickly and a slow one is not polled too often.
const firstAckPoll = 50 * time.Millisecond

// Paths of the collector's endpoints, below the configured URL.
const (
	eventPath = "/services/collector/event"
	ackPath   = "/services/collector/ack"
)

// Config configures a Sink. The zero value of every field but URL and
// Token is a sensible default.
type Config struct {
	// URL is the collector's base URL, such as
	// https://splunk.example.com:8088; the event and ack paths are added
	// to it. A URL that already ends in /services/collector or
	// /services/collector/event is accepted too.
	URL string `yaml:"url"`
	// Token is the HEC token, sent as "Authorization: Splunk <token>".
	// Exactly one of Token and TokenFile is set.
	Token string `yaml:"token"`
	// TokenFile is a file holding the token (surrounding white space is
	// ignored). It is read before each batch and the new token used as
	// soon as the file's contents change, so a rotated token takes effect
	// without a restart.
	TokenFile string `yaml:"token_file"`
	// Index, Source, SourceType and Host are set on every event when not
	// empty; otherwise the token's defaults apply.
	Index      string `yaml:"index"`
	Source     string `yaml:"source"`
	SourceType string `yaml:"sourcetype"`
	Host       string `yaml:"host"`
	// Fields are event fields (a name, or a dotted path into an object
	// such as verified_submitter.user_id) sent as HEC indexed fields
	// under the same name. A field an event lacks, or whose value is an
	// object, is left out; numbers and booleans are sent as text.
	Fields []string `yaml:"fields"`

	// Ack waits for indexer acknowledgement of every request before Write
	// returns; the token must have indexer acknowledgement enabled.
	Ack bool `yaml:"ack"`
	// AckTimeout is how long Write waits, after the last request of a
	// batch was accepted, for all of the batch's acknowledgements before
	// it fails so that the batch is sent again (default 300s).
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// AckPollInterval is the longest wait between two acknowledgement
	// polls (default 1s). The first poll comes after 50ms (or
	// AckPollInterval when shorter) and the waits double from there.
	AckPollInterval time.Duration `yaml:"ack_poll_interval"`
	// Channel is the HEC channel of the first connection, a GUID
	// (default: a random one chosen by New); the other connections get
	// random ones. Acknowledgements belong to a channel.
	Channel string `yaml:"channel"`
	// MaxInFlight is how many batches may wait for their acknowledgement
	// at once (default 4), each on its own connection, with its own
	// channel and cookies, so that a load balancer keeps the polls of a
	// batch's acknowledgement on the indexer that took it.
	MaxInFlight int `yaml:"max_in_flight"`
	// RefusedRetryInterval is how often a sink whose token the collector
	// disabled or does not know (HEC codes 1 and 4), or that needs
	// acknowledgements the token does not give, asks the collector again
	// (default 1m). The events wait meanwhile; a change of the token file
	// is tried at once.
	RefusedRetryInterval time.Duration `yaml:"refused_retry_interval"`

	// TLS is how an https URL is verified (nil: against the system roots)
	// and, for mutual TLS, the client certificate. It requires an https
	// URL.
	TLS *config.ClientTLS `yaml:"tls"`
	// Timeout bounds each HTTP request, connection included (default
	// 30s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxBatchBytes is the largest request body, before compression
	// (default 1 MiB). A batch beyond it is sent as several requests; an
	// event larger than it goes alone.
	MaxBatchBytes int `yaml:"max_batch_bytes" size:"bytes"`
	// Gzip compresses request bodies (Content-Encoding: gzip).
	Gzip bool `yaml:"gzip"`
}

// Validate checks the configuration without touching the network or the
// file system. Each problem is reported with its key, all at once.
func (c Config) Validate() error {
	var p config.Problems
	if c.URL == "" {
		p.Add("url", "required")
	} else if _, err := baseURL(c.URL); err != nil {
		p.Add("url", "%v", err)
	} else if c.TLS != nil && !strings.HasPrefix(strings.ToLower(c.URL), "https:") {
		p.Add("tls", "requires an https url")
	}
	switch {
	case c.Token == "" && c.TokenFile == "":
		p.Add("token", "required (or token_file)")
	case c.Token != "" && c.TokenFile != "":
		p.Add("token_file", "must not be set with token")
	case c.Token != "" && !validToken(c.Token):
		p.Add("token", "must not contain spaces or control characters")
	}
	seen := make(map[string]bool, len(c.Fields))
	for i, f := range c.Fields {
		key := fmt.Sprintf("fields[%d]", i)
		switch {
		case f == "" || slices.Contains(strings.Split(f, "."), ""):
			p.Add(key, "%q is not a field name or a dotted path", f)
		case seen[f]:
			p.Add(key, "%q is listed twice", f)
		}
		seen[f] = true
	}
	if c.Channel != "" && !isGUID(c.Channel) {
		p.Add("channel", "%q is not a GUID such as 0ee5a24c-6ba7-4cd5-b16c-1aa7e6a2c1f0", c.Channel)
	}
	p.NotNegative("ack_timeout", int64(c.AckTimeout))
	p.NotNegative("ack_poll_interval", int64(c.AckPollInterval))
	p.NotNegative("timeout", int64(c.Timeout))
	p.NotNegative("max_batch_bytes", int64(c.MaxBatchBytes))
	p.NotNegative("max_in_flight", int64(c.MaxInFlight))
	p.NotNegative("refused_retry_interval", int64(c.RefusedRetryInterval))
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}

// withDefaults returns c with its zero values replaced by the defaults and
// a channel chosen when none is set.
func (c Config) withDefaults() Config {
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.AckPollInterval == 0 {
		c.AckPollInterval = DefaultAckPollInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.RefusedRetryInterval == 0 {
		c.RefusedRetryInterval = DefaultRefusedRetryInterval
	}
	if c.Channel == "" {
		c.Channel = newGUID()
	}
	return c
}

// validToken reports whether s can be sent as a token: not empty, no
// white space or control characters.
func validToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// baseURL parses raw and returns it without a trailing slash and without
// the collector paths, ready for eventPath and ackPath to be appended.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", raw)
	}
	if u.User != nil {
		return nil, errors.New("must not hold credentials; use token")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not have a query or fragment")
	}
	p := strings.TrimRight(u.Path, "/")
	if q, ok := strings.CutSuffix(p, eventPath); ok {
		p = q
	} else {
		p = strings.TrimSuffix(p, "/services/collector")
	}
	u.Path, u.RawPath = p, ""
	return u, nil
}

// newGUID returns a random (version 4) GUID in lowercase.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, per crypto/rand
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isGUID reports whether s has the form of a GUID: 8-4-4-4-12 hex digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
