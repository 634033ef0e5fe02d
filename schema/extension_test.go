package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExtensionFields_SameBytes: the extension fields user_agent and
// bytes are written among the extras, sorted by name, exactly where they
// stood when the catalog did not know them, so the canonical bytes and
// the derived event_id do not change. The wire forms below are what the
// normalizer wrote for these events before the fields joined the catalog.
func TestExtensionFields_SameBytes(t *testing.T) {
	sub := Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}
	tests := []struct {
		name, raw, wire, field, value string
	}{
		{
			name:  "signin user_agent among extras",
			raw:   `{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T09:00:00.000Z","user":"alice@example.com","authority":"Credential","ip":"203.0.113.9","user_agent":"Mozilla/5.0 (X11)","zz":1,"aa":true}`,
			wire:  `{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T09:00:00.000Z","event_id":"01M83T4CM0GR108TRPRD3AJ8WX","verified_submitter":{"user_id":"alice@example.com","device_id":"40f9cddab98a432b9c60d734f5f63e7e"},"user":"alice@example.com","authority":"Credential","ip":"203.0.113.9","aa":true,"user_agent":"Mozilla/5.0 (X11)","zz":1}`,
			field: "user_agent", value: `"Mozilla/5.0 (X11)"`,
		},
		{
			name:  "password error user_agent",
			raw:   `{"topic":"USER","event":"user.password.error","timestamp":"2026-11-23T09:00:00.000Z","user_agent":"curl/8.5","user":"alice@example.com","ip":"2001:db8::1","rate_limited":true}`,
			wire:  `{"topic":"USER","event":"user.password.error","timestamp":"2026-11-23T09:00:00.000Z","event_id":"01M83T4CM0A9PZ012GGW93DKTB","verified_submitter":{"user_id":"alice@example.com","device_id":"40f9cddab98a432b9c60d734f5f63e7e"},"user":"alice@example.com","ip":"2001:db8::1","rate_limited":true,"user_agent":"curl/8.5"}`,
			field: "user_agent", value: `"curl/8.5"`,
		},
		{
			name:  "transfer bytes among extras",
			raw:   `{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T09:00:00.000Z","bytes":1048576,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"},"event_time":"2026-11-23T09:00:00.000Z","operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","relative_path":"a.pdf"},"destination_device":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","destination_user":"bob@example.com","agent":"x","z":[1]}`,
			wire:  `{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T09:00:00.000Z","event_id":"01M83T4CM0EFBA3R5W4Y6A87V7","verified_submitter":{"user_id":"alice@example.com","device_id":"40f9cddab98a432b9c60d734f5f63e7e"},"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"},"event_time":"2026-11-23T09:00:00.000Z","operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","relative_path":"a.pdf"},"destination_device":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","destination_user":"bob@example.com","agent":"x","bytes":1048576,"z":[1]}`,
			field: "bytes", value: `1048576`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Normalize([]byte(tt.raw), Meta{Trusted: true, Submitter: sub})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wire, string(e.Wire())); diff != "" {
				t.Errorf("wire (-before +now):\n%s", diff)
			}
			if got := string(e.Value(tt.field)); got != tt.value {
				t.Errorf("Value(%s) = %s, want %s", tt.field, got, tt.value)
			}
		})
	}
}

// TestExtensionFields_Checked: an extension field is checked as its type
// (an unknown extra of that name was not), and null is its absence.
func TestExtensionFields_Checked(t *testing.T) {
	const transfer = `{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T09:00:00.000Z","soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"},"event_time":"2026-11-23T09:00:00.000Z","operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","relative_path":"a.pdf"},"destination_device":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","destination_user":"bob@example.com",`
	sub := Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}
	tests := []struct {
		name, tail string
		wantErr    bool
		extras     int
	}{
		{"integer", `"bytes":10}`, false, 0},
		{"null is absence", `"bytes":null}`, false, 0},
		{"not a number", `"bytes":"ten"}`, true, 0},
		{"negative", `"bytes":-1}`, true, 0},
		{"twice", `"bytes":1,"bytes":2}`, true, 0},
		{"with an unknown extra", `"bytes":1,"note":"x"}`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Normalize([]byte(transfer+tt.tail), Meta{Trusted: true, Submitter: sub})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Normalize() error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && e.Extras() != tt.extras {
				t.Errorf("Extras() = %d, want %d", e.Extras(), tt.extras)
			}
		})
	}
}
