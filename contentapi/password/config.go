package password

import (
	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults: OWASP's first argon2id setting (19 MiB, 2 passes, 1 lane).
const (
	DefaultMemory      = 19 * config.ByteSize(1<<20)
	DefaultIterations  = 2
	DefaultParallelism = 1
)

// Bounds of a configured (and of a stored) cost.
const (
	minMemory = 8 * config.ByteSize(1<<10)
	// maxMemory is argon2's limit of 2^32-1 KiB, rounded down.
	maxMemory     = 4*config.ByteSize(1<<30) - config.ByteSize(1<<10)
	maxIterations = 1 << 10
)

// Config is the argon2id cost of new hashes, the content.password
// section.
type Config struct {
	// Memory per hash, a size such as 19MiB (default); at least 8 KiB
	// per lane.
	Memory config.ByteSize `yaml:"memory"`
	// Iterations is the number of passes over the memory (default 2).
	Iterations uint32 `yaml:"iterations"`
	// Parallelism is the number of lanes (default 1, at most 255).
	Parallelism uint8 `yaml:"parallelism"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.Memory == 0 {
		c.Memory = DefaultMemory
	}
	if c.Iterations == 0 {
		c.Iterations = DefaultIterations
	}
	if c.Parallelism == 0 {
		c.Parallelism = DefaultParallelism
	}
}

// Validate checks a configuration after SetDefaults, reporting every
// problem at its key.
func (c Config) Validate() error {
	var p config.Problems
	p1 := max(config.ByteSize(c.Parallelism), 1)
	switch {
	case c.Memory < minMemory*p1:
		p.Add("memory", "%s is too little: at least 8KiB per lane (%s here)", c.Memory, minMemory*p1)
	case c.Memory > maxMemory:
		p.Add("memory", "%s is too much: at most %s", c.Memory, maxMemory)
	case c.Memory%(1<<10) != 0:
		p.Add("memory", "%s is not a whole number of KiB", c.Memory)
	}
	if c.Iterations < 1 || c.Iterations > maxIterations {
		p.Add("iterations", "%d is out of range (1 to %d)", c.Iterations, maxIterations)
	}
	if c.Parallelism < 1 {
		p.Add("parallelism", "must be at least 1")
	}
	return p.Err()
}

// params is the cost c gives.
func (c Config) params() Params {
	return Params{Memory: uint32(c.Memory >> 10), Iterations: c.Iterations, Parallelism: c.Parallelism}
}
