package auth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkEmail returns a user's email address as the store keeps it: trimmed
// and lower-cased. It accepts what the event catalog accepts as a user id
// that is not a pseudo-user.
func checkEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", &FieldError{Field: field, Reason: "required"}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;\"\\") || hasControl(s) || !utf8.ValidString(s) {
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("%q is not an email address", s)}
	}
	return s, nil
}

// checkCaller returns the user id recorded as the caller of an admin
// action: an email address, or a pseudo-user such as ":local" or
// ":token:NAME".
func checkCaller(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, ":") {
		if len(s) == 1 || len(s) > 254 || strings.ContainsAny(s, " \"\\") || hasControl(s) || !utf8.ValidString(s) {
			return "", &FieldError{Field: "caller", Reason: fmt.Sprintf("%q is not a pseudo-user id", s)}
		}
		return s, nil
	}
	return checkEmail("caller", s)
}

// checkDeviceName returns a device's name, trimmed: free text of at most
// maxNameLen bytes, on one line.
func checkDeviceName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", &FieldError{Field: "name", Reason: "required"}
	case len(s) > maxNameLen:
		return "", &FieldError{Field: "name", Reason: fmt.Sprintf("longer than %d bytes", maxNameLen)}
	case !utf8.ValidString(s):
		return "", &FieldError{Field: "name", Reason: "invalid UTF-8"}
	case hasControl(s):
		return "", &FieldError{Field: "name", Reason: "contains control characters"}
	}
	return s, nil
}

// checkTokenName accepts an API token's name: 1 to 64 letters, digits, '.',
// '_' and '-', starting with a letter or digit. The name appears in the
// pseudo-user ":token:NAME" and in URL paths, so it is kept plain.
func checkTokenName(s string) error {
	if s == "" {
		return &FieldError{Field: "name", Reason: "required"}
	}
	ok := len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return &FieldError{Field: "name", Reason: fmt.Sprintf("%q: use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", s)}
	}
	return nil
}

// checkRole accepts the known roles.
func checkRole(r Role) error {
	switch r {
	case RoleAdmin, RoleAuditor:
		return nil
	case "":
		return &FieldError{Field: "role", Reason: "required"}
	}
	return &FieldError{Field: "role", Reason: fmt.Sprintf("%q: must be %s or %s", r, RoleAdmin, RoleAuditor)}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
