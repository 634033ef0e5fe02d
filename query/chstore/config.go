package chstore

import (
	"fmt"
	"regexp"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// Config says how to reach ClickHouse. The zero value, with Addr set, is
// a working configuration.
type Config struct {
	// Addr lists the servers' native-protocol addresses (host:9000).
	Addr []string `yaml:"addr"`
	// Database holds Vigil's tables (default "vigil"); Open creates it.
	Database string `yaml:"database"`
	// Username and Password authenticate (default user "default").
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Retention is how long events are kept; DropExpired drops the whole
	// months older than that. Zero keeps everything.
	Retention time.Duration `yaml:"retention"`
	// DialTimeout bounds connecting (default 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// TLS, when set, connects over TLS (the servers' secure native port,
	// 9440 by default).
	TLS *config.ClientTLS `yaml:"tls"`
}

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "vigil"

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate reports every invalid key at once.
func (c Config) Validate() error {
	var p config.Problems
	if len(c.Addr) == 0 {
		p.Add("addr", "at least one address is required")
	}
	for i, a := range c.Addr {
		if err := config.CheckHostPort(a); err != nil {
			p.Add(fmt.Sprintf("addr[%d]", i), "%v", err)
		}
	}
	if c.Database != "" && !identRE.MatchString(c.Database) {
		p.Add("database", "%q is not a valid database name", c.Database)
	}
	p.NotNegative("retention", int64(c.Retention))
	p.NotNegative("dial_timeout", int64(c.DialTimeout))
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}

// SetDefaults names the default database when none is set.
func (c *Config) SetDefaults() {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
}

func (c Config) withDefaults() Config {
	c.SetDefaults()
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	return c
}
