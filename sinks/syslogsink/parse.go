package syslogsink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Message is an RFC 5424 SYSLOG-MSG taken apart. The NILVALUE ("-")
// reads as the empty string, or the zero time.
type Message struct {
	Facility, Severity int
	Version            int
	Timestamp          time.Time
	Hostname           string
	AppName            string
	ProcID             string
	MsgID              string
	// StructuredData is the STRUCTURED-DATA as sent, such as
	// [id@32473 a="1"].
	StructuredData string
	// Msg is the MSG (nil when absent); it aliases the parsed bytes.
	Msg []byte
}

// ReadFrame reads one octet-counted frame, "MSG-LEN SP SYSLOG-MSG" (RFC
// 6587 section 3.4.1, RFC 5425 section 4.3), and returns its SYSLOG-MSG,
// which aliases r's buffer until r is read again when it fits there. It
// returns io.EOF when r ends before a frame starts, io.ErrUnexpectedEOF
// when it ends inside one, and an error for a malformed MSG-LEN or one
// above maxLen.
func ReadFrame(r *bufio.Reader, maxLen int) ([]byte, error) {
	n, err := readLen(r, maxLen)
	if err != nil {
		return nil, err
	}
	if n <= r.Size() {
		msg, err := r.Peek(n)
		if err != nil {
			return nil, truncated(err)
		}
		if _, err := r.Discard(n); err != nil {
			return nil, truncated(err)
		}
		return msg, nil
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, truncated(err)
	}
	return msg, nil
}

// readLen reads MSG-LEN (NONZERO-DIGIT *DIGIT) and the space after it.
func readLen(r *bufio.Reader, maxLen int) (int, error) {
	n := 0
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		switch {
		case err != nil && i == 0:
			return 0, err // io.EOF between frames is the stream's clean end
		case err != nil:
			return 0, truncated(err)
		case c == ' ' && i > 0:
			return n, nil
		case c < '0' || c > '9' || (i == 0 && c == '0'):
			return 0, fmt.Errorf("frame length: unexpected byte %q", c)
		}
		n = n*10 + int(c-'0')
		if n > maxLen {
			return 0, fmt.Errorf("frame length: more than %d bytes", maxLen)
		}
	}
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseMessage parses an RFC 5424 SYSLOG-MSG.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	p := parser{b: b}
	pri, err := p.pri()
	if err != nil {
		return m, err
	}
	m.Facility, m.Severity = pri/8, pri%8
	if m.Version, err = p.version(); err != nil {
		return m, err
	}
	ts, err := p.field("timestamp", 64)
	if err != nil {
		return m, err
	}
	if ts != "-" {
		if m.Timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return m, fmt.Errorf("parse syslog timestamp: %w", err)
		}
	}
	for _, f := range []struct {
		name string
		max  int
		dst  *string
	}{
		{"hostname", 255, &m.Hostname},
		{"app-name", 48, &m.AppName},
		{"procid", 128, &m.ProcID},
		{"msgid", 32, &m.MsgID},
	} {
		v, err := p.field(f.name, f.max)
		if err != nil {
			return m, err
		}
		if v != "-" {
			*f.dst = v
		}
	}
	if m.StructuredData, err = p.structuredData(); err != nil {
		return m, err
	}
	switch {
	case p.i == len(b):
	case b[p.i] == ' ':
		m.Msg = b[p.i+1:]
	default:
		return m, fmt.Errorf("parse syslog message: unexpected %q after structured data", b[p.i])
	}
	return m, nil
}

type parser struct {
	b []byte
	i int
}

// pri reads "<PRIVAL>", PRIVAL 0 to 191 in at most three digits.
func (p *parser) pri() (int, error) {
	if p.i >= len(p.b) || p.b[p.i] != '<' {
		return 0, errors.New("parse syslog message: want <PRI> first")
	}
	p.i++
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	digits := p.b[start:p.i]
	if len(digits) == 0 || len(digits) > 3 || (len(digits) > 1 && digits[0] == '0') || p.i >= len(p.b) || p.b[p.i] != '>' {
		return 0, errors.New("parse syslog message: malformed PRI")
	}
	p.i++
	pri, err := strconv.Atoi(string(digits))
	if err != nil || pri > 191 {
		return 0, fmt.Errorf("parse syslog message: PRI %s out of range", digits)
	}
	return pri, nil
}

// version reads VERSION (NONZERO-DIGIT 0*2DIGIT) and the space after it.
func (p *parser) version() (int, error) {
	v, err := p.field("version", 3)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || v[0] == '0' || v[0] == '+' || v[0] == '-' {
		return 0, fmt.Errorf("parse syslog message: malformed version %q", v)
	}
	return n, nil
}

// field reads 1 to maxLen PRINTUSASCII characters and the space after
// them.
func (p *parser) field(name string, maxLen int) (string, error) {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '!' && p.b[p.i] <= '~' {
		p.i++
	}
	v := p.b[start:p.i]
	switch {
	case len(v) == 0 || len(v) > maxLen:
		return "", fmt.Errorf("parse syslog message: %s: want 1 to %d printable characters", name, maxLen)
	case p.i >= len(p.b) || p.b[p.i] != ' ':
		return "", fmt.Errorf("parse syslog message: want a space after the %s", name)
	}
	p.i++
	return string(v), nil
}

// structuredData reads STRUCTURED-DATA: the NILVALUE or SD-ELEMENTs,
// "[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]", values escaping '"', '\'
// and ']' with a backslash.
func (p *parser) structuredData() (string, error) {
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
		return "", nil
	}
	start := p.i
	for p.i < len(p.b) && p.b[p.i] == '[' {
		p.i++
		if err := p.sdName("SD-ID"); err != nil {
			return "", err
		}
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
			if err := p.sdName("PARAM-NAME"); err != nil {
				return "", err
			}
			if err := p.sdValue(); err != nil {
				return "", err
			}
		}
		if p.i >= len(p.b) || p.b[p.i] != ']' {
			return "", errors.New("parse syslog message: structured data: want ']'")
		}
		p.i++
	}
	if p.i == start {
		return "", errors.New("parse syslog message: want structured data or '-'")
	}
	return string(p.b[start:p.i]), nil
}

// sdName reads an SD-NAME: 1 to 32 PRINTUSASCII but '=', ' ', ']', '"'.
func (p *parser) sdName(what string) error {
	start := p.i
	for p.i < len(p.b) && p.i-start <= 32 {
		c := p.b[p.i]
		if c < '!' || c > '~' || c == '=' || c == ']' || c == '"' {
			break
		}
		p.i++
	}
	if n := p.i - start; n == 0 || n > 32 {
		return fmt.Errorf("parse syslog message: structured data: malformed %s", what)
	}
	return nil
}

// sdValue reads ="PARAM-VALUE".
func (p *parser) sdValue() error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(`="`)) {
		return errors.New(`parse syslog message: structured data: want ="value"`)
	}
	p.i += 2
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
		case '"':
			p.i++
			return nil
		case ']':
			return errors.New("parse syslog message: structured data: unescaped ']' in a value")
		default:
			p.i++
		}
	}
	return errors.New("parse syslog message: structured data: unterminated value")
}
