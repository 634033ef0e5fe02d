package auth

import (
	"encoding/json"
	"fmt"
)

// Actor is who acts and from where, as the audit events record it: the
// catalog's caller object (Email may be a pseudo-user: ":local",
// ":token:NAME") and the client's address.
type Actor struct {
	Email, Device, ActingAs string
	IP                      string
}

// caller is a's caller object as an event field.
func (a Actor) caller() (json.RawMessage, error) {
	email, err := checkCaller(a.Email)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(struct {
		Email    string `json:"email"`
		Device   string `json:"device,omitempty"`
		ActingAs string `json:"acting_as,omitempty"`
	}{email, a.Device, a.ActingAs})
	if err != nil {
		return nil, fmt.Errorf("encode caller: %w", err)
	}
	return b, nil
}
