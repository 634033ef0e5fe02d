package contentapi

import (
	"strconv"
	"strings"
)

// Version is an API version, the v<major>.<minor> of /api/v1.4/...
type Version struct {
	Major, Minor int
}

// V returns the version major.minor, for route tables.
func V(major, minor int) Version { return Version{Major: major, Minor: minor} }

// Latest is the highest version served.
var Latest = V(1, 4)

// versions are the versions served, oldest first: the 0.x minors the
// tutorials use (0.8 to 0.10), then 1.0 to Latest.
var versions = []Version{V(0, 8), V(0, 9), V(0, 10), V(1, 0), V(1, 1), V(1, 2), V(1, 3), V(1, 4)}

func (v Version) String() string { return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) }

// Less says whether v is older than w.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// Known says whether v is served.
func (v Version) Known() bool {
	for _, k := range versions {
		if k == v {
			return true
		}
	}
	return false
}

// ParseVersion reads the version segment of a path, "v1.4", and says
// whether it is a version served. Numbers have no sign and no leading
// zero, so that each version has one spelling.
func ParseVersion(s string) (Version, bool) {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok {
		return Version{}, false
	}
	maj, min, ok := strings.Cut(rest, ".")
	if !ok {
		return Version{}, false
	}
	var v Version
	if v.Major, ok = number(maj); !ok {
		return Version{}, false
	}
	if v.Minor, ok = number(min); !ok {
		return Version{}, false
	}
	return v, v.Known()
}

// number reads a short decimal number without sign or leading zero.
func number(s string) (int, bool) {
	if s == "" || len(s) > 3 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
