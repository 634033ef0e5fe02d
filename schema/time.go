package schema

import (
	"strconv"
	"time"
)

// minTime and maxTime bound the timestamps Vigil accepts.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// parseTime reads the textual timestamp forms Vigil accepts:
//
//	2016-03-30T21:18:19.123Z          RFC 3339, any offset
//	2016-03-30T21:18:19.123+0000      offset without a colon
//	2014-02-21 23:59:52.044           space separator, no zone = UTC
//	2015-06-17T10:14:34.123456        up to nanoseconds, no zone = UTC
//	1459372699123                     epoch milliseconds as a string
//
// The result is UTC, truncated to milliseconds. Epoch values before
// 1973-03-03 (10^11 ms) are refused: they are seconds or dates sent as
// digits, not milliseconds.
func parseTime(s string) (time.Time, bool) {
	if len(s) > 0 && len(s) <= 16 && isDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return fromMillis(ms)
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	minute, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		digits := rest[1:n]
		if len(digits) == 0 || len(digits) > 9 {
			return time.Time{}, false
		}
		for i := 0; i < 9; i++ {
			nsec *= 10
			if i < len(digits) {
				nsec += int(digits[i] - '0')
			}
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case rest == "", rest == "Z", rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		var hh, mm int
		var ok bool
		switch len(rest) {
		case 3: // +hh
			hh, ok = atoi(rest[1:3])
		case 5: // +hhmm
			hh, ok = atoi(rest[1:3])
			if ok {
				mm, ok = atoi(rest[3:5])
			}
		case 6: // +hh:mm
			if rest[3] != ':' {
				return time.Time{}, false
			}
			hh, ok = atoi(rest[1:3])
			if ok {
				mm, ok = atoi(rest[4:6])
			}
		}
		if !ok || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	return bound(t.Truncate(time.Millisecond))
}

func fromMillis(ms int64) (time.Time, bool) {
	if ms < minMillis || ms > maxTime.UnixMilli() {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// minMillis is the smallest epoch-milliseconds value taken as a time.
const minMillis = 1e11

func bound(t time.Time) (time.Time, bool) {
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, false
	}
	return t, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi parses a short run of decimal digits.
func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// AppendTime appends t in the canonical form: RFC 3339, UTC, with
// milliseconds, for example 2016-03-30T21:18:19.123Z.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

// timeLen is the length of AppendTime's output.
const timeLen = len("2016-03-30T21:18:19.123Z")

// FormatTime returns t in the canonical form.
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, 24), t))
}
