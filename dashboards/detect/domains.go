package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/vigilaudit/vigil/internal/config"
)

// Partner is a domain outside the organization that its users may share
// with, until the end of AllowedUntil (a UTC date, 2027-06-30) if set.
type Partner struct {
	Domain       string `yaml:"domain"`
	AllowedUntil string `yaml:"allowed_until"`
}

// domains tells the organization's addresses, and its partners', from
// external ones.
type domains struct {
	org      map[string]bool
	partners map[string]int64 // domain -> allowed before (ms), 0: always
}

// newDomains checks and indexes the org_domains and partners keys.
func newDomains(org []string, partners []Partner) (*domains, error) {
	var p config.Problems
	d := &domains{org: map[string]bool{}, partners: map[string]int64{}}
	for i, s := range org {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" || strings.ContainsAny(s, "@ ") {
			p.Add(fmt.Sprintf("org_domains[%d]", i), "must be a domain name, got %q", org[i])
		}
		d.org[s] = true
	}
	for i, pt := range partners {
		path := fmt.Sprintf("partners[%d]", i)
		dom := strings.ToLower(strings.TrimSpace(pt.Domain))
		if dom == "" || strings.ContainsAny(dom, "@ ") {
			p.Add(path+".domain", "must be a domain name, got %q", pt.Domain)
		}
		var until int64
		if pt.AllowedUntil != "" {
			t, err := time.Parse(time.DateOnly, pt.AllowedUntil)
			if err != nil {
				p.Add(path+".allowed_until", "must be a date (2006-01-02), got %q", pt.AllowedUntil)
			}
			until = t.Add(day).UnixMilli()
		}
		d.partners[dom] = until
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// external reports whether addr is an email address outside the
// organization's domains and not an allowed partner's at time at (an
// RFC 3339 timestamp). Without org_domains nothing is external: the
// engine cannot tell.
func (d *domains) external(addr, at string) bool {
	if d == nil || len(d.org) == 0 {
		return false
	}
	_, dom, ok := strings.Cut(addr, "@")
	if !ok || strings.HasPrefix(addr, ":") {
		return false // a pseudo-user or a name without a domain
	}
	dom = strings.ToLower(dom)
	if d.org[dom] {
		return false
	}
	until, ok := d.partners[dom]
	if !ok {
		return true
	}
	if until == 0 {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return true
	}
	return t.UnixMilli() >= until
}

// externalFunc is the CEL function external(address, timestamp).
func externalFunc(d *domains) cel.EnvOption {
	return cel.Function("external",
		cel.Overload("external_dyn_dyn", []*cel.Type{cel.DynType, cel.DynType}, cel.BoolType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				addr, ok1 := a.Value().(string)
				at, ok2 := b.Value().(string)
				return types.Bool(ok1 && ok2 && d.external(addr, at))
			})))
}

// network is the network an IP address belongs to: its /24 for IPv4,
// its /64 for IPv6, as a prefix; null for what is not an address.
func network(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

// networkFunc is the CEL function network(ip).
func networkFunc() cel.EnvOption {
	return cel.Function("network",
		cel.Overload("network_dyn", []*cel.Type{cel.DynType}, cel.DynType,
			cel.UnaryBinding(func(a ref.Val) ref.Val {
				s, ok := a.Value().(string)
				if !ok {
					return types.NullValue
				}
				n, ok := network(s)
				if !ok {
					return types.NullValue
				}
				return types.String(n)
			})))
}
