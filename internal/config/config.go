package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// LookupFunc returns the value of an environment variable and whether it is
// set, like os.LookupEnv.
type LookupFunc func(name string) (string, bool)

// Option changes how Decode and Load work.
type Option func(*options)

type options struct {
	lookup LookupFunc
}

// WithLookup makes ${VAR} expand from lookup instead of os.LookupEnv.
func WithLookup(lookup LookupFunc) Option {
	return func(o *options) { o.lookup = lookup }
}

// Load reads the YAML file at path into dst; see Decode.
func Load(path string, dst any, opts ...Option) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := Decode(data, dst, opts...); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Decode reads one YAML document into dst, which must be a non-nil pointer.
//
// Fields of dst that the document does not mention keep their values, so
// callers set defaults before decoding. Scalar values have ${VAR} and $$
// expanded first. Keys dst does not declare are errors, as are type
// mismatches; each error names the line. A section key given with no value
// (`duckdb:`) decodes as an empty section, so that its presence counts. An
// empty document leaves dst unchanged.
func Decode(data []byte, dst any, opts ...Option) error {
	o := options{lookup: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		if bytes.Contains(data, []byte("${")) {
			// In {...} and [...], a brace ends a plain value.
			return fmt.Errorf("%w (inside {...} or [...], quote values that use ${VAR}: \"${VAR}\")", yamlError(err))
		}
		return yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return yamlError(err)
		}
		return fmt.Errorf("config line %d: only one yaml document is allowed", extra.Line)
	}

	if err := expandEnv(&doc, o.lookup); err != nil {
		return err
	}
	if err := checkKeys(&doc, dst); err != nil {
		return err
	}
	if err := doc.Decode(dst); err != nil {
		return yamlError(err)
	}
	return nil
}

// yamlError rewords the YAML library's errors to match ours:
// "config line 3: ..." instead of "yaml: line 3: ...".
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, e := range te.Errors {
			errs = append(errs, errors.New("config "+e))
		}
		return errors.Join(errs...)
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "yaml: "); ok {
		if strings.HasPrefix(rest, "line ") {
			return errors.New("config " + rest)
		}
		return errors.New("config: " + rest)
	}
	return fmt.Errorf("config: %w", err)
}

// expandEnv replaces ${VAR} and $$ in every scalar value under n. Keys are
// left alone. Alias nodes are skipped: their anchor is expanded where it is
// defined, and expanding twice would turn $$ into a reference.
func expandEnv(n *yaml.Node, lookup LookupFunc) error {
	var missing []string
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "$") {
				return
			}
			v, miss, err := expand(n.Value, lookup)
			if err != nil {
				errs = append(errs, fmt.Errorf("config line %d: %w", n.Line, err))
				return
			}
			missing = append(missing, miss...)
			setScalar(n, v)
		}
	}
	walk(n)
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		errs = append(errs, fmt.Errorf("config: undefined environment variables: %s", strings.Join(missing, ", ")))
	}
	return errors.Join(errs...)
}

// setScalar stores an expanded value. A plain scalar is resolved again, so
// "port: ${PORT}" still decodes into an int; a quoted or tagged one stays
// what it was. A value that would resolve to null (empty, "~", "null")
// stays a string, so a variable set to one of those is not dropped.
func setScalar(n *yaml.Node, v string) {
	n.Value = v
	if n.Style != 0 {
		return
	}
	n.Tag = ""
	if n.ShortTag() == "!!null" {
		n.Tag = "!!str"
	}
}

// expand returns s with ${VAR} and $$ replaced, and the names of the
// variables that lookup does not know. A $ followed by anything else is
// kept as it is.
func expand(s string, lookup LookupFunc) (string, []string, error) {
	var b strings.Builder
	var missing []string
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), missing, nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, fmt.Errorf("unterminated ${ in %q", truncate(s[i:]))
			}
			name := s[i+2 : i+2+end]
			if !validName(name) {
				return "", nil, fmt.Errorf("invalid environment variable name %q", truncate(name))
			}
			v, ok := lookup(name)
			if !ok {
				missing = append(missing, name)
			}
			b.WriteString(v)
			s = s[i+2+end+1:]
		default:
			b.WriteByte('$')
			s = s[i+1:]
		}
	}
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// truncate keeps error messages about outside input short.
func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
