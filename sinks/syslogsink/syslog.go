package syslogsink

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// Defaults for the zero values of Config.
const (
	DefaultFacility = "user"
	DefaultAppName  = "vigil"
)

// Severities (RFC 5424 section 6.2.1) of the messages the sink sends.
const (
	SeverityNotice        = 5
	SeverityInformational = 6
)

// alertTopic is the topic of Vigil's own detections, sent as notices.
const alertTopic = "ALERT"

// facilities maps the facility names of RFC 5424 section 6.2.1 (as
// syslog(3) spells them; audit, alert and clock for 13 to 15) to their
// codes.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "audit": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Config configures a syslog sink. Only Address is required.
type Config struct {
	// Address is the receiver's host:port.
	Address string `yaml:"address"`
	// TLS, when set, makes the sink speak TLS (RFC 5425).
	TLS *config.ClientTLS `yaml:"tls"`
	// Facility is a facility name: kern, user, mail, daemon, auth,
	// syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert,
	// clock, local0 to local7 (default user).
	Facility string `yaml:"facility"`
	// AppName is the APP-NAME of every message (default vigil): 1 to 48
	// printable ASCII characters.
	AppName string `yaml:"app_name"`
	// Hostname is the HOSTNAME of every message (default: the machine's
	// name): 1 to 255 printable ASCII characters.
	Hostname string `yaml:"hostname"`
	// Settle is how long the connection must stay open after the
	// receiver acknowledged a batch before the batch counts as delivered
	// (default 2s); see tcp.Config.Settle.
	Settle time.Duration `yaml:"settle"`
}

// Validate checks the configuration without touching the network or the
// file system; it reports every problem at its key.
func (c Config) Validate() error {
	var p config.Problems
	p.Nest("", (tcp.Config{Address: c.Address, Settle: c.Settle}).Validate())
	p.Nest("", CheckHeader(c.Facility, c.AppName, c.Hostname))
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}

// Facilities lists the facility names, in the order of their codes.
func Facilities() []string {
	names := slices.Collect(maps.Keys(facilities))
	slices.SortFunc(names, func(a, b string) int { return facilities[a] - facilities[b] })
	return names
}

func facility(name string) (int, error) {
	if name == "" {
		name = DefaultFacility
	}
	code, ok := facilities[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("unknown facility %q (want one of %s)", name, strings.Join(Facilities(), ", "))
	}
	return code, nil
}

// New returns a syslog sink for cfg: the tcp sink with RFC 5424 framing.
// It makes no network call; with TLS it reads the certificate files.
func New(cfg Config) (*tcp.Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := NewFormatter(cfg.Facility, cfg.AppName, cfg.Hostname)
	if err != nil {
		return nil, err
	}
	return tcp.New(tcp.Config{Address: cfg.Address, TLS: cfg.TLS, Settle: cfg.Settle, Frame: f.frame, FrameSize: f.frameSize})
}

// CheckHeader reports the problems of a facility, an APP-NAME and a
// HOSTNAME as Config takes them (empty for the defaults), each at its key
// (facility, app_name, hostname): for the kinds that carry RFC 5424
// messages in another framing.
func CheckHeader(facilityName, appName, hostname string) error {
	var p config.Problems
	if _, err := facility(facilityName); err != nil {
		p.Add("facility", "%v", err)
	}
	if appName != "" && !headerField(appName, 48) {
		p.Add("app_name", "must be at most 48 printable ASCII characters without spaces")
	}
	if hostname != "" && !headerField(hostname, 255) {
		p.Add("hostname", "must be at most 255 printable ASCII characters without spaces")
	}
	return p.Err()
}

// Formatter builds the RFC 5424 message of an event (see the package
// comment for its fields), for this kind's octet-counted stream and for
// the kinds that carry syslog messages in another framing (RELP).
type Formatter struct {
	// info and notice are "<PRI>1 " for the two severities.
	info, notice string
	// middle is " HOSTNAME APP-NAME - ", between TIMESTAMP and MSGID.
	middle string
}

// NewFormatter returns the formatter of messages with that facility name,
// APP-NAME and HOSTNAME; empty ones take the defaults (user, vigil, the
// machine's name).
func NewFormatter(facilityName, appName, hostname string) (*Formatter, error) {
	if err := CheckHeader(facilityName, appName, hostname); err != nil {
		return nil, err
	}
	fac, err := facility(facilityName)
	if err != nil {
		return nil, err
	}
	if appName == "" {
		appName = DefaultAppName
	}
	if hostname == "" {
		hostname = localHostname()
	}
	return &Formatter{
		info:   "<" + strconv.Itoa(fac*8+SeverityInformational) + ">1 ",
		notice: "<" + strconv.Itoa(fac*8+SeverityNotice) + ">1 ",
		middle: " " + hostname + " " + appName + " - ",
	}, nil
}

// localHostname is the machine's name as a HOSTNAME, or the NILVALUE
// when it has none that fits.
func localHostname() string {
	h, err := os.Hostname()
	if err != nil || !headerField(h, 255) {
		return "-"
	}
	return h
}

// timestampLen is the length of a TIMESTAMP as written:
// 2006-01-02T15:04:05.000Z.
const timestampLen = 24

// header is what a message takes from its event.
type header struct {
	prefix           string
	topic, event, ts []byte
}

// head reads the event's envelope. It fails when the envelope cannot be
// read: the log holds only canonical events, so such a record is
// damaged, and is better parked for an admin than sent without its time
// and name.
func (f *Formatter) head(r eventlog.Record) (header, error) {
	topic, event, ts, ok := canonicalHead(r.Value)
	if !ok {
		env, err := sinks.ParseEnvelope(r.Value)
		if err != nil {
			return header{}, err
		}
		t := env.Timestamp.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return header{}, fmt.Errorf("timestamp %s: the year does not fit syslog's four digits", t.Format(time.RFC3339))
		}
		topic, event = []byte(env.Topic), []byte(env.Event)
		ts = t.AppendFormat(make([]byte, 0, timestampLen), timestampLayout)
	}
	prefix := f.info
	if string(topic) == alertTopic {
		prefix = f.notice
	}
	return header{prefix: prefix, topic: topic, event: event, ts: ts}, nil
}

func (f *Formatter) size(h header, r eventlog.Record) int {
	return len(h.prefix) + len(h.ts) + len(f.middle) + msgIDLen(h.event) + len(" - ") + len(r.Value)
}

func (f *Formatter) appendMessage(dst []byte, h header, r eventlog.Record) []byte {
	dst = append(dst, h.prefix...)
	dst = append(dst, h.ts...)
	dst = append(dst, f.middle...)
	dst = appendMsgID(dst, h.event)
	dst = append(dst, " - "...)
	return append(dst, r.Value...)
}

// AppendMessage appends the SYSLOG-MSG of r, without framing. It fails
// when the event's envelope cannot be read.
func (f *Formatter) AppendMessage(dst []byte, r eventlog.Record) ([]byte, error) {
	h, err := f.head(r)
	if err != nil {
		return dst, err
	}
	return f.appendMessage(dst, h, r), nil
}

// MessageLen returns the length of the SYSLOG-MSG AppendMessage appends
// for r, without building it.
func (f *Formatter) MessageLen(r eventlog.Record) (int, error) {
	h, err := f.head(r)
	if err != nil {
		return 0, err
	}
	return f.size(h, r), nil
}

// frame appends r as "LEN SP SYSLOG-MSG".
func (f *Formatter) frame(dst []byte, r eventlog.Record) ([]byte, error) {
	h, err := f.head(r)
	if err != nil {
		return dst, err
	}
	dst = strconv.AppendInt(dst, int64(f.size(h, r)), 10)
	dst = append(dst, ' ')
	return f.appendMessage(dst, h, r), nil
}

// frameSize returns the length of the frame of r, octet count included,
// without making it; for a record frame refuses, its bare length.
func (f *Formatter) frameSize(r eventlog.Record) int {
	h, err := f.head(r)
	if err != nil {
		return len(r.Value)
	}
	n := f.size(h, r)
	return len(strconv.Itoa(n)) + 1 + n
}

// timestampLayout is the TIMESTAMP as written, the form of the wire's
// timestamps: RFC 3339, UTC, milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// canonicalHead reads topic, event and timestamp from the canonical
// prefix {"topic":"T","event":"E","timestamp":"2006-01-02T15:04:05.000Z"
// without allocating, when the timestamp is already in the form a
// TIMESTAMP takes. Otherwise ok is false and the caller parses the
// envelope.
func canonicalHead(b []byte) (topic, event, ts []byte, ok bool) {
	if b, ok = cut(b, `{"topic":"`); !ok {
		return nil, nil, nil, false
	}
	if topic, b, ok = plain(b); !ok {
		return nil, nil, nil, false
	}
	if b, ok = cut(b, `,"event":"`); !ok {
		return nil, nil, nil, false
	}
	if event, b, ok = plain(b); !ok {
		return nil, nil, nil, false
	}
	if b, ok = cut(b, `,"timestamp":"`); !ok || len(b) < timestampLen+1 || b[timestampLen] != '"' {
		return nil, nil, nil, false
	}
	ts = b[:timestampLen]
	if !wireTimestamp(ts) {
		return nil, nil, nil, false
	}
	return topic, event, ts, true
}

// wireTimestamp reports whether ts is a UTC time with milliseconds in
// the wire form, 2006-01-02T15:04:05.000Z, with fields in range.
func wireTimestamp(ts []byte) bool {
	const pattern = "dddd-dd-ddTdd:dd:dd.dddZ"
	if len(ts) != len(pattern) {
		return false
	}
	for i := range len(pattern) {
		if pattern[i] == 'd' {
			if ts[i] < '0' || ts[i] > '9' {
				return false
			}
		} else if ts[i] != pattern[i] {
			return false
		}
	}
	num := func(i int) int { return int(ts[i]-'0')*10 + int(ts[i+1]-'0') }
	month, day, hour, minute, sec := num(5), num(8), num(11), num(14), num(17)
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, num(0)*100+num(2)) &&
		hour < 24 && minute < 60 && sec < 60
}

func daysIn(month, year int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// plain returns the bytes up to the closing quote of a non-empty JSON
// string without escapes, and what follows the quote.
func plain(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '"')
	if i <= 0 || bytes.IndexByte(b[:i], '\\') >= 0 {
		return nil, b, false
	}
	return b[:i], b[i+1:], true
}

// A MSGID is the event's name: at most 32 printable ASCII characters,
// any other byte replaced by '_', or the NILVALUE for none.

func msgIDLen(name []byte) int {
	if len(name) == 0 {
		return 1
	}
	return min(len(name), 32)
}

func appendMsgID(dst, name []byte) []byte {
	if len(name) == 0 {
		return append(dst, '-')
	}
	for _, c := range name[:min(len(name), 32)] {
		if c < '!' || c > '~' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// headerField reports whether s is 1 to maxLen characters of PRINTUSASCII
// (RFC 5424: '!' to '~').
func headerField(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := range len(s) {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}
