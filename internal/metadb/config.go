package metadb

import (
	"github.com/jackc/pgx/v5"

	"github.com/vigilaudit/vigil/internal/config"
)

// Config chooses the metadata database: embedded SQLite, a file in the
// data directory, unless Postgres is set.
type Config struct {
	Postgres *PostgresConfig `yaml:"postgres"`
}

// PostgresConfig says how to reach PostgreSQL.
type PostgresConfig struct {
	// DSN names the database, as a URL
	// (postgres://vigil:${PGPASSWORD}@db.example.com:5432/vigil?sslmode=verify-full)
	// or key=value pairs. It may hold a password: it is never logged.
	DSN string `yaml:"dsn"`
}

// SetDefaults leaves the zero value as it is: SQLite.
func (c *Config) SetDefaults() {}

// Validate reports every invalid key at once, without quoting the DSN.
func (c Config) Validate() error {
	var p config.Problems
	if pg := c.Postgres; pg != nil {
		switch {
		case pg.DSN == "":
			p.Add("postgres.dsn", "required")
		default:
			if _, err := pgx.ParseConfig(pg.DSN); err != nil {
				p.Add("postgres.dsn", "%v", errDSN)
			}
		}
	}
	return p.Err()
}
