package schema

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// appendField appends the canonical JSON of v, read as type t. path names
// the field in errors.
func (n *Normalizer) appendField(dst []byte, t Type, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	switch t {
	case TypeSOID:
		return appendSOID(dst, v, path)
	case TypeSID, TypeOID, TypeDID:
		return appendHexValue(dst, v, path, "")
	case TypeTime:
		ts, err := timeValue(v, path)
		if err != nil {
			return dst, err
		}
		dst = append(dst, '"')
		dst = AppendTime(dst, ts)
		return append(dst, '"'), nil
	case TypeOperations:
		return appendSet(dst, v, path, enumOperations, false)
	case TypeRole:
		return appendSet(dst, v, path, enumRole, true)
	case TypeUserID:
		return n.appendUser(dst, v, path, "", true)
	case TypeEmail:
		return n.appendUser(dst, v, path, "", false)
	case TypeOrgID:
		return n.appendOrg(dst, v, path)
	case TypePath:
		return n.appendPath(dst, v, path)
	case TypeCaller:
		return n.appendCaller(dst, v, path)
	case TypeSharedFolder:
		return n.appendFolder(dst, v, path)
	case TypeIP:
		return appendIP(dst, v, path)
	case TypeString:
		s, err := n.text(v, path, "")
		if err != nil {
			return dst, err
		}
		return appendString(dst, s), nil
	case TypeLinkKey:
		s, err := n.text(v, path, "")
		if err != nil {
			return dst, err
		}
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " \t\r\n/?#") {
			return dst, invalid(path, CodeFormat, "not a link key")
		}
		return appendString(dst, s), nil
	case TypeInteger:
		i, err := intValue(v, path)
		if err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, i, 10), nil
	case TypeLinkExpiry:
		i, err := intValue(v, path)
		if err != nil {
			return dst, err
		}
		if i > 1e11 {
			// An absolute time in epoch milliseconds: store the seconds it
			// leaves from the event's timestamp.
			i = (i - n.ts.UnixMilli()) / 1000
			i = max(i, 0)
		}
		return strconv.AppendInt(dst, i, 10), nil
	case TypeBoolean:
		b, err := boolValue(v, path)
		if err != nil {
			return dst, err
		}
		return strconv.AppendBool(dst, b), nil
	case TypeSubmitter:
		// Handled in the envelope; never reached.
		return dst, invalid(path, CodeForbidden, "set by the server")
	}
	if e := enumOf(t); e != nil {
		s, err := n.text(v, path, "")
		if err != nil {
			return dst, err
		}
		i, ok := e.match(s)
		if !ok {
			return dst, invalid(path, CodeEnum, "invalid "+e.name+" "+quote(s)+" (one of "+strings.Join(e.values, ", ")+")")
		}
		return appendString(dst, e.values[i]), nil
	}
	return dst, invalid(path, CodeUnknown, "no normalizer for type "+string(t))
}

// text reads a JSON string, checking its encoding and length.
func (n *Normalizer) text(v *fastjson.Value, path, member string) (string, *ValidationError) {
	b, err := v.StringBytes()
	if err != nil {
		return "", invalid(subpath(path, member), CodeType, "must be a string")
	}
	if len(b) > n.limits.MaxStringLen {
		return "", invalid(subpath(path, member), CodeTooLong, "longer than "+itoa(n.limits.MaxStringLen)+" bytes")
	}
	if !utf8.Valid(b) {
		return "", invalid(subpath(path, member), CodeUTF8, "invalid UTF-8")
	}
	return b2s(b), nil
}

// unwrap returns the inner value of the original's {"_i": value} wrapping.
func unwrap(v *fastjson.Value) *fastjson.Value {
	if v.Type() == fastjson.TypeObject {
		if o, _ := v.Object(); o.Len() == 1 {
			if in := o.Get("_i"); in != nil {
				return in
			}
		}
	}
	return v
}

// appendUser appends a user id (pseudo allowed) or an email address:
// trimmed and lower-cased; pseudo-users (":2a3f") are kept as they are.
func (n *Normalizer) appendUser(dst []byte, v *fastjson.Value, path, member string, pseudo bool) ([]byte, *ValidationError) {
	s, err := n.text(unwrap(v), path, member)
	if err != nil {
		return dst, err
	}
	s = strings.TrimSpace(s)
	if pseudo && strings.HasPrefix(s, ":") {
		if len(s) == 1 || strings.ContainsAny(s, " \"\\") || hasControl(s) {
			return dst, invalid(subpath(path, member), CodeFormat, "not a pseudo-user id")
		}
		return appendString(dst, s), nil
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>,;\"\\") || hasControl(s) {
		if pseudo {
			return dst, invalid(subpath(path, member), CodeFormat, "not an email address or pseudo-user id: "+quote(s))
		}
		return dst, invalid(subpath(path, member), CodeFormat, "not an email address: "+quote(s))
	}
	start := len(dst)
	dst = appendString(dst, s)
	lowerASCII(dst[start:])
	return dst, nil
}

// appendOrg appends an organization id, which the original sent as a
// string, a number or wrapped; it is emitted as a string.
func (n *Normalizer) appendOrg(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	v = unwrap(v)
	if v.Type() == fastjson.TypeNumber {
		i, err := intValue(v, path)
		if err != nil {
			return dst, err
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, i, 10)
		return append(dst, '"'), nil
	}
	if v.Type() != fastjson.TypeString {
		return dst, invalid(path, CodeType, "must be a string or a number")
	}
	s, err := n.text(v, path, "")
	if err != nil {
		return dst, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return dst, invalid(path, CodeFormat, "must not be empty")
	}
	return appendString(dst, s), nil
}

// appendHexValue appends a 32-hex identifier (SID, OID, DID) in lower case.
// member names the member of path in errors ("" for path itself); the
// path is joined only when there is an error to report.
func appendHexValue(dst []byte, v *fastjson.Value, path, member string) ([]byte, *ValidationError) {
	b, err := v.StringBytes()
	if err != nil {
		return dst, invalid(subpath(path, member), CodeType, "must be a string of 32 hex digits")
	}
	return appendHex(dst, b, path, member)
}

func appendHex(dst, b []byte, path, member string) ([]byte, *ValidationError) {
	if len(b) != 32 {
		return dst, invalid(subpath(path, member), CodeFormat, "must be 32 hex digits")
	}
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return dst, invalid(subpath(path, member), CodeFormat, "must be 32 hex digits")
		}
		dst = append(dst, c)
	}
	return append(dst, '"'), nil
}

// members reads a typed object: the named members in order, and an error
// for any other member.
func members(v *fastjson.Value, path string, names ...string) (out [3]*fastjson.Value, _ *ValidationError) {
	o, err := v.Object()
	if err != nil {
		return out, invalid(path, CodeType, "must be an object")
	}
	found := 0
	for i, name := range names {
		out[i] = o.Get(name)
		if out[i] != nil {
			found++
		}
	}
	if found != o.Len() {
		var verr *ValidationError
		seen := map[string]bool{}
		o.Visit(func(k []byte, _ *fastjson.Value) {
			if verr != nil {
				return
			}
			if seen[string(k)] {
				verr = invalid(subpath(path, string(k)), CodeDuplicate, "member given twice")
			}
			seen[string(k)] = true
			for _, name := range names {
				if string(k) == name {
					return
				}
			}
			verr = invalid(subpath(path, string(k)), CodeUnknown, "unknown member (expected "+strings.Join(names, ", ")+")")
		})
		return out, verr
	}
	return out, nil
}

// appendSOID appends {"sid","oid"} from an object or one 64-hex string.
func appendSOID(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	var sid, oid []byte
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		if len(b) != 64 {
			return dst, invalid(path, CodeFormat, "must be {sid, oid} or 64 hex digits")
		}
		sid, oid = b[:32], b[32:]
	} else {
		m, err := members(v, path, "sid", "oid")
		if err != nil {
			return dst, err
		}
		for i, name := range [2]string{"sid", "oid"} {
			if m[i] == nil {
				return dst, invalid(subpath(path, name), CodeMissing, "required")
			}
			b, err := m[i].StringBytes()
			if err != nil {
				return dst, invalid(subpath(path, name), CodeType, "must be a string of 32 hex digits")
			}
			if i == 0 {
				sid = b
			} else {
				oid = b
			}
		}
	}
	var verr *ValidationError
	dst = append(dst, `{"sid":`...)
	if dst, verr = appendHex(dst, sid, path, "sid"); verr != nil {
		return dst, verr
	}
	dst = append(dst, `,"oid":`...)
	if dst, verr = appendHex(dst, oid, path, "oid"); verr != nil {
		return dst, verr
	}
	return append(dst, '}'), nil
}

// appendPath appends {"sid","relative_path"} with the path cleaned.
func (n *Normalizer) appendPath(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	m, verr := members(v, path, "sid", "relative_path")
	if verr != nil {
		return dst, verr
	}
	if m[0] == nil {
		return dst, invalid(subpath(path, "sid"), CodeMissing, "required")
	}
	if m[1] == nil {
		return dst, invalid(subpath(path, "relative_path"), CodeMissing, "required")
	}
	dst = append(dst, `{"sid":`...)
	if dst, verr = appendHexValue(dst, m[0], path, "sid"); verr != nil {
		return dst, verr
	}
	rp, verr := n.text(m[1], path, "relative_path")
	if verr != nil {
		return dst, verr
	}
	clean, ok := cleanRelative(rp)
	if !ok {
		return dst, invalid(subpath(path, "relative_path"), CodeFormat, "escapes its store's root")
	}
	dst = append(dst, `,"relative_path":`...)
	dst = appendString(dst, clean)
	return append(dst, '}'), nil
}

// cleanRelative drops empty and "." elements and resolves "..", failing
// when the path would leave its root. It allocates only when it changes
// something.
func cleanRelative(p string) (string, bool) {
	if !needsClean(p) {
		return p, true
	}
	parts := make([]string, 0, strings.Count(p, "/")+1)
	for elem := range strings.SplitSeq(p, "/") {
		switch elem {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", false
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, elem)
		}
	}
	return strings.Join(parts, "/"), true
}

func needsClean(p string) bool {
	if p == "" {
		return false
	}
	if p[0] == '/' || p[len(p)-1] == '/' {
		return true
	}
	// Look at each element's first bytes: "", "." and ".." need work.
	for i := 0; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p) - i
		}
		switch p[i : i+j] {
		case "", ".", "..":
			return true
		}
		i += j + 1
	}
	return false
}

// appendCaller appends {"email","device","acting_as"} from an object or a
// plain user id, remembering the email for derived actor fields.
func (n *Normalizer) appendCaller(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	var verr *ValidationError
	if v.Type() == fastjson.TypeString || isWrapped(v) {
		dst = append(dst, `{"email":`...)
		start := len(dst)
		if dst, verr = n.appendUser(dst, v, path, "email", true); verr != nil {
			return dst, verr
		}
		n.caller = unquote(dst[start:])
		return append(dst, '}'), nil
	}
	m, verr := members(v, path, "email", "device", "acting_as")
	if verr != nil {
		return dst, verr
	}
	if m[0] == nil {
		return dst, invalid(subpath(path, "email"), CodeMissing, "required")
	}
	dst = append(dst, `{"email":`...)
	start := len(dst)
	if dst, verr = n.appendUser(dst, m[0], path, "email", true); verr != nil {
		return dst, verr
	}
	n.caller = unquote(dst[start:])
	if m[1] != nil && m[1].Type() != fastjson.TypeNull {
		dst = append(dst, `,"device":`...)
		if dst, verr = appendHexValue(dst, m[1], path, "device"); verr != nil {
			return dst, verr
		}
	}
	if m[2] != nil && m[2].Type() != fastjson.TypeNull {
		dst = append(dst, `,"acting_as":`...)
		if dst, verr = n.appendUser(dst, m[2], path, "acting_as", true); verr != nil {
			return dst, verr
		}
	}
	return append(dst, '}'), nil
}

func isWrapped(v *fastjson.Value) bool { return unwrap(v) != v }

// appendFolder appends a Shared Folder {"id","name"}.
func (n *Normalizer) appendFolder(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	m, verr := members(v, path, "id", "name")
	if verr != nil {
		return dst, verr
	}
	if m[0] == nil {
		return dst, invalid(subpath(path, "id"), CodeMissing, "required")
	}
	dst = append(dst, `{"id":`...)
	if dst, verr = appendHexValue(dst, m[0], path, "id"); verr != nil {
		return dst, verr
	}
	if m[1] != nil && m[1].Type() != fastjson.TypeNull {
		name, verr := n.text(m[1], path, "name")
		if verr != nil {
			return dst, verr
		}
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, name)
	}
	return append(dst, '}'), nil
}

// appendSet appends an enum array as a sorted set in canonical spelling.
// A string is read as a comma-separated list. For roles, "" and null mean
// unknown and are emitted as null; [] is a viewer.
func appendSet(dst []byte, v *fastjson.Value, path string, e *enum, nullable bool) ([]byte, *ValidationError) {
	var have uint32
	switch v.Type() {
	case fastjson.TypeNull:
		if nullable {
			return append(dst, "null"...), nil
		}
		return dst, invalid(path, CodeType, "must be an array")
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if len(b) == 0 && nullable {
			return append(dst, "null"...), nil
		}
		for s := range strings.SplitSeq(b2s(b), ",") {
			if verr := addEnum(&have, e, s, path, -1); verr != nil {
				return dst, verr
			}
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, el := range a {
			b, err := el.StringBytes()
			if err != nil {
				return dst, invalid(path+"["+itoa(i)+"]", CodeType, "must be a string")
			}
			if verr := addEnum(&have, e, b2s(b), path, i); verr != nil {
				return dst, verr
			}
		}
	default:
		return dst, invalid(path, CodeType, "must be an array of strings")
	}
	if have == 0 && !nullable {
		return dst, invalid(path, CodeFormat, "must name at least one "+e.name)
	}
	dst = append(dst, '[')
	first := true
	for i, name := range e.values {
		if have&(1<<i) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, name)
	}
	return append(dst, ']'), nil
}

// addEnum adds s to the set have; empty strings are skipped. index is the
// position in an array, or -1.
func addEnum(have *uint32, e *enum, s, path string, index int) *ValidationError {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	i, ok := e.match(s)
	if !ok {
		if index >= 0 {
			path += "[" + itoa(index) + "]"
		}
		return invalid(path, CodeEnum, "invalid "+e.name+" "+quote(s)+" (one of "+strings.Join(e.values, ", ")+")")
	}
	*have |= 1 << i
	return nil
}

// appendIP appends an IP address in its canonical text form.
func appendIP(dst []byte, v *fastjson.Value, path string) ([]byte, *ValidationError) {
	b, err := v.StringBytes()
	if err != nil {
		return dst, invalid(path, CodeType, "must be a string")
	}
	addr, perr := netip.ParseAddr(strings.TrimSpace(b2s(b)))
	if perr != nil {
		return dst, invalid(path, CodeFormat, "not an IP address")
	}
	dst = append(dst, '"')
	dst, _ = addr.Unmap().AppendText(dst)
	return append(dst, '"'), nil
}

// timeValue reads a timestamp: one of parseTime's strings, or epoch
// milliseconds as a number.
func timeValue(v *fastjson.Value, path string) (time.Time, *ValidationError) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if t, ok := parseTime(strings.TrimSpace(b2s(b))); ok {
			return t, nil
		}
		return time.Time{}, invalid(path, CodeFormat, "not a timestamp (RFC 3339, or epoch milliseconds)")
	case fastjson.TypeNumber:
		ms, err := v.Int64()
		if err == nil && isNumberValue(v) {
			if t, ok := fromMillis(ms); ok {
				return t, nil
			}
		}
		return time.Time{}, invalid(path, CodeFormat, "not a timestamp in epoch milliseconds")
	}
	return time.Time{}, invalid(path, CodeType, "must be a string or a number")
}

// intValue reads a non-negative whole number from a number or a string.
func intValue(v *fastjson.Value, path string) (int64, *ValidationError) {
	switch v.Type() {
	case fastjson.TypeNumber:
		if !isNumberValue(v) {
			return 0, invalid(path, CodeSyntax, "not a JSON number")
		}
		if i, err := v.Int64(); err == nil && i >= 0 {
			return i, nil
		}
		f, err := v.Float64()
		if err == nil && f >= 0 && f < math.MaxInt64 && f == math.Trunc(f) {
			return int64(f), nil
		}
		return 0, invalid(path, CodeFormat, "must be a non-negative whole number")
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		i, err := strconv.ParseInt(strings.TrimSpace(b2s(b)), 10, 64)
		if err != nil || i < 0 {
			return 0, invalid(path, CodeFormat, "must be a non-negative whole number")
		}
		return i, nil
	}
	return 0, invalid(path, CodeType, "must be a number")
}

// boolValue reads true or false from a boolean or a string.
func boolValue(v *fastjson.Value, path string) (bool, *ValidationError) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		switch strings.ToLower(strings.TrimSpace(b2s(b))) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, invalid(path, CodeFormat, "must be true or false")
	}
	return false, invalid(path, CodeType, "must be a boolean")
}

// submitterValue reads a verified_submitter from trusted input.
func submitterValue(v *fastjson.Value) (Submitter, *ValidationError) {
	m, verr := members(v, "verified_submitter", "user_id", "device_id")
	if verr != nil {
		return Submitter{}, verr
	}
	var s Submitter
	if m[0] != nil {
		b, _ := m[0].StringBytes()
		s.UserID = string(b)
	}
	if m[1] != nil {
		b, _ := m[1].StringBytes()
		s.DeviceID = string(b)
	}
	if s.UserID == "" || s.DeviceID == "" {
		return Submitter{}, invalid("verified_submitter", CodeMissing, "needs user_id and device_id")
	}
	return s, nil
}

// isNumberValue reports whether a parsed number is spelled as JSON
// spells numbers.
func isNumberValue(v *fastjson.Value) bool {
	var buf [32]byte
	return isJSONNumber(v.MarshalTo(buf[:0]))
}
