package metadb

import (
	"strconv"
	"strings"
)

// Rebind returns query with its placeholders written for d. Queries are
// written once, for SQLite: ? takes the next argument, ?N the Nth (so one
// argument can appear twice). For PostgreSQL, each becomes $N, numbered as
// SQLite numbers them (a bare ? is one more than the highest number before
// it). Question marks inside string literals, quoted identifiers,
// comments and dollar-quoted strings stay as they are. (PostgreSQL's
// jsonb operators ?, ?| and ?& cannot be written; Vigil uses none.)
func Rebind(d Dialect, query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	highest := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				if v, err := strconv.Atoi(query[i+1 : j]); err == nil {
					n = v
				}
			}
			highest = max(highest, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j
		case c == '\'' || c == '"':
			j := quoted(query, i, c)
			b.WriteString(query[i:j])
			i = j
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end
		case c == '$':
			end := dollarQuoted(query, i)
			b.WriteString(query[i:end])
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// quoted returns the end of the literal or identifier that starts at i
// with quote q; a doubled quote inside it is one quote character.
func quoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] != q {
			continue
		}
		if j+1 < len(s) && s[j+1] == q {
			j++
			continue
		}
		return j + 1
	}
	return len(s)
}

// dollarQuoted returns the end of the dollar-quoted string ($$...$$ or
// $tag$...$tag$) that starts at i, or i+1 when the $ starts none.
func dollarQuoted(s string, i int) int {
	j := i + 1
	for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1
	}
	tag := s[i : j+1]
	k := strings.Index(s[j+1:], tag)
	if k < 0 {
		return len(s)
	}
	return j + 1 + k + len(tag)
}
