package contentapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/vigilaudit/vigil/schema"
)

// Auditor appends the API's audit events to the one write path and
// returns once they are durable; ingest's Emit is one.
type Auditor interface {
	Emit(ctx context.Context, events ...*schema.Event) error
}

// Caller is the catalog's caller object: who authorized an action.
type Caller struct {
	// Email is the user who authorized the token.
	Email string `json:"email"`
	// Device is the id of the app or mobile device that made the call.
	Device string `json:"device,omitempty"`
	// ActingAs is the administrator authority of a token issued with
	// organization.admin.
	ActingAs string `json:"acting_as,omitempty"`
}

// CallerOf returns the caller of p's requests. acting_as is set only for
// a token that holds organization.admin, as the reference says.
func CallerOf(p Principal) Caller {
	c := Caller{Email: p.Email, Device: p.Device}
	if p.Scopes.Has(ScopeOrgAdmin) {
		c.ActingAs = p.ActingAs
	}
	return c
}

// ClientIP is the address of the peer that sent r. Headers set by
// proxies (X-Forwarded-For) are not trusted: any client can send them.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newEvent builds the named event at at, filling every caller field
// (caller; user.delete's delete) and the ip field that fields leave
// unset from c and ip.
func newEvent(name string, at time.Time, fields schema.Fields, c Caller, ip string) (*schema.Event, error) {
	spec, ok := schema.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("build %s: not in the catalog", name)
	}
	fields = maps.Clone(fields)
	if fields == nil {
		fields = schema.Fields{}
	}
	for _, f := range spec.Fields {
		if fields[f.Name] != nil {
			continue
		}
		switch {
		case f.Type == schema.TypeCaller && c.Email != "":
			b, err := json.Marshal(c)
			if err != nil {
				return nil, fmt.Errorf("build %s: %w", name, err)
			}
			fields[f.Name] = json.RawMessage(b)
		case f.Type == schema.TypeIP && ip != "":
			fields[f.Name] = ip
		}
	}
	e, err := schema.New(name, at, fields)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	return e, nil
}
