package config

import (
	"fmt"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"
)

// ByteSize is a size in bytes. In YAML it is a number of bytes (1000) or a
// number with a unit: binary (256MiB, 10GiB) or decimal (500MB, 2GB); case
// and a space before the unit do not matter.
type ByteSize uint64

// ParseByteSize reads a size such as "256MiB", "10 GB" or "1000".
func ParseByteSize(s string) (ByteSize, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("invalid byte size %q: want a number of bytes, optionally with a unit such as MiB, GiB or GB", truncate(s))
	}
	return ByteSize(n), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "invalid byte size: want a number of bytes, optionally with a unit, not %s", describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return typeError(n, "%v", err)
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) {
	return b.String(), nil
}

// String returns the size with a binary unit, exact when the size is a
// whole number of that unit ("256MiB"), in bytes otherwise.
func (b ByteSize) String() string {
	units := []string{"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"}
	for i, u := range units {
		size := uint64(1) << (10 * (len(units) - i))
		if b != 0 && uint64(b)%size == 0 {
			return fmt.Sprintf("%d%s", uint64(b)/size, u)
		}
	}
	return fmt.Sprintf("%d", uint64(b))
}

// typeError reports a bad value the way the YAML decoder reports its own,
// so that all such errors in a document are collected together.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}
