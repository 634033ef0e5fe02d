package chstore

import (
	"errors"
	"fmt"
	"regexp"
	"time"
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
}

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "vigil"

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate reports every invalid key at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("addr: at least one server is required"))
	}
	for i, a := range c.Addr {
		if a == "" {
			errs = append(errs, fmt.Errorf("addr[%d]: empty", i))
		}
	}
	if c.Database != "" && !identRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database: %q is not a plain identifier (letters, digits, _)", c.Database))
	}
	if c.Retention < 0 {
		errs = append(errs, errors.New("retention: must not be negative"))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, errors.New("dial_timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	return c
}
