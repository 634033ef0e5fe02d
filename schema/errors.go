package schema

// Reasons a ValidationError gives, for callers that count or branch on
// them.
const (
	CodeSyntax    = "syntax"    // not a JSON object
	CodeUTF8      = "utf8"      // invalid UTF-8
	CodeMissing   = "missing"   // a required field is absent
	CodeType      = "type"      // a value of the wrong JSON type
	CodeFormat    = "format"    // a value of the right type in a wrong form
	CodeEnum      = "enum"      // a value outside its enumeration
	CodeTooLong   = "too_long"  // a string over the configured limit
	CodeUnknown   = "unknown"   // an unknown event, topic or nested field
	CodeDuplicate = "duplicate" // the same field twice
	CodeForbidden = "forbidden" // a field only the server may set
	CodeTooMany   = "too_many"  // too many extra fields
)

// ValidationError says why an event was rejected: which field (a dotted
// path such as "soid.sid" or "role[1]", empty for the event as a whole),
// a machine-readable code, and a short reason.
type ValidationError struct {
	Event  string `json:"event,omitempty"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

func (e *ValidationError) Error() string {
	msg := e.Reason
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Event != "" {
		msg = e.Event + ": " + msg
	}
	return msg
}

func invalid(field, code, reason string) *ValidationError {
	return &ValidationError{Field: field, Code: code, Reason: reason}
}

// subpath joins a field path and a member name.
func subpath(path, name string) string {
	if name == "" {
		return path
	}
	if path == "" {
		return name
	}
	return path + "." + name
}
