package relp

import (
	"time"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

// Defaults for the zero values of Config.
const (
	// DefaultWindow is librelp's: at most 128 frames unacknowledged.
	DefaultWindow      = 128
	DefaultDialTimeout = 10 * time.Second
	// DefaultAckTimeout is how long the receiver may leave frames
	// unanswered (librelp's session timeout is 90s; a batch waits less).
	DefaultAckTimeout = 30 * time.Second
	// maxWindow bounds the window to what a receiver can hold.
	maxWindow = 65536
)

// Config configures a Sink. Only Address is required.
type Config struct {
	// Address is the receiver's host:port (imrelp's port, often 2514 or
	// 20514).
	Address string `yaml:"address"`
	// TLS, when set, makes the sink speak TLS (imrelp's tls="on").
	TLS *config.ClientTLS `yaml:"tls"`
	// Window is the most syslog frames sent and not yet answered
	// (default 128, librelp's).
	Window int `yaml:"window"`
	// Facility, AppName and Hostname are the RFC 5424 header fields of
	// each message, as for the syslog kind (defaults user, vigil and the
	// machine's name).
	Facility string `yaml:"facility"`
	AppName  string `yaml:"app_name"`
	Hostname string `yaml:"hostname"`
	// DialTimeout bounds connecting, TLS handshake and RELP open
	// included (default 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// AckTimeout is how long the receiver may take to answer a frame, or
	// to read what is sent, before the connection counts as dead and the
	// frames not answered are sent again on a new one (default 30s).
	AckTimeout time.Duration `yaml:"ack_timeout"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
}

// Validate checks the configuration without touching the network or the
// file system; it reports every problem at its key.
func (c Config) Validate() error {
	var p config.Problems
	p.Address("address", c.Address)
	if c.Window < 0 || c.Window > maxWindow {
		p.Add("window", "%d is out of range (1 to %d; 0 for the default %d)", c.Window, maxWindow, DefaultWindow)
	}
	p.NotNegative("dial_timeout", int64(c.DialTimeout))
	p.NotNegative("ack_timeout", int64(c.AckTimeout))
	p.Nest("", syslogsink.CheckHeader(c.Facility, c.AppName, c.Hostname))
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}
