package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// FieldError is one configuration problem at a key path ("log.kafka.topic",
// "sinks[2].tls.ca_pem"); an empty path is the section itself.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Problems collects the problems of one section, so that a Validate
// method reports all of them at once, each at its key path. The zero value
// is empty and ready to use.
type Problems []error

// Add records a problem at the key path.
func (p *Problems) Add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Nest records the problems of a subsection found at path, the error
// returned by the subsection's Validate: its key paths are put under path.
// An error that is not a FieldError is recorded at path as it is.
func (p *Problems) Nest(path string, err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			p.Add(path, "%v", e)
			continue
		}
		*p = append(*p, &FieldError{Path: JoinPath(path, fe.Path), Msg: fe.Msg})
	}
}

// JoinPath puts the key path sub under path: "a" and "b" make "a.b", "a"
// and "[1].b" make "a[1].b"; either may be empty.
func JoinPath(path, sub string) string {
	switch {
	case path == "":
		return sub
	case sub == "":
		return path
	case strings.HasPrefix(sub, "["):
		return path + sub
	}
	return path + "." + sub
}

// Pair records a problem when only one of two settings that go together
// is set.
func (p *Problems) Pair(aKey, a, bKey, b string) {
	switch {
	case a != "" && b == "":
		p.Add(bKey, "required when %s is set", aKey)
	case a == "" && b != "":
		p.Add(aKey, "required when %s is set", bKey)
	}
}

// Address records a problem unless v is a host:port.
func (p *Problems) Address(key, v string) {
	if v == "" {
		p.Add(key, "required")
	} else if err := CheckHostPort(v); err != nil {
		p.Add(key, "%v", err)
	}
}

// NotNegative records a problem when v is below zero.
func (p *Problems) NotNegative(key string, v int64) {
	if v < 0 {
		p.Add(key, "must not be negative")
	}
}

// Err returns the problems as one error (nil when there are none); each
// is a *FieldError.
func (p Problems) Err() error {
	return errors.Join(p...)
}

// CheckHostPort checks that s is host:port with a numeric port; the host
// may be empty (all interfaces).
func CheckHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", s)
	}
	return nil
}
