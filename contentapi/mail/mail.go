package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
)

// Config is the content.mail section.
type Config struct {
	// SMTP delivers the outbox; nil keeps mail in the outbox.
	SMTP *SMTPConfig `yaml:"smtp"`
}

// The TLS modes of SMTPConfig.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// SMTPConfig is how mail leaves: the relay and the sender's address.
type SMTPConfig struct {
	// Address is the relay's host:port.
	Address string `yaml:"address"`
	// From is the envelope and header sender, an address.
	From string `yaml:"from"`
	// Username and Password authenticate (PLAIN) when Username is set;
	// the password belongs in ${VAR}.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS is starttls (the default: the relay must offer it), tls
	// (implicit, usually port 465) or none (a relay on a trusted
	// network; PLAIN then only to localhost).
	TLS string `yaml:"tls"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.SMTP != nil && c.SMTP.TLS == "" {
		c.SMTP.TLS = TLSStartTLS
	}
}

// Validate checks a configuration after SetDefaults.
func (c Config) Validate() error {
	var p config.Problems
	if s := c.SMTP; s != nil {
		if _, _, err := net.SplitHostPort(s.Address); s.Address == "" || err != nil {
			p.Add("smtp.address", "must be host:port")
		}
		if a, err := mail.ParseAddress(s.From); s.From == "" || err != nil || a.Name != "" {
			p.Add("smtp.from", "must be an email address")
		}
		switch s.TLS {
		case TLSStartTLS, TLSImplicit, TLSNone:
		default:
			p.Add("smtp.tls", "%q: must be starttls, tls or none", s.TLS)
		}
		if s.Password != "" && s.Username == "" {
			p.Add("smtp.username", "required with smtp.password")
		}
	}
	return p.Err()
}

// Outbox is the mail outbox a Sender works through; *auth.Store is one.
type Outbox interface {
	PendingMail(ctx context.Context, now time.Time, limit int) ([]auth.Mail, error)
	MailSent(ctx context.Context, id int64, at time.Time) error
	MailFailed(ctx context.Context, id int64, next time.Time, reason string) error
}

// Defaults of a Sender's timing.
const (
	DefaultPoll       = 5 * time.Second
	DefaultMinBackoff = 30 * time.Second
	DefaultMaxBackoff = time.Hour
	batch             = 20
	dialTimeout       = 30 * time.Second
)

// Sender sends the outbox's pending mail over SMTP.
type Sender struct {
	cfg    SMTPConfig
	outbox Outbox
	log    *slog.Logger
	// Poll is how often the outbox is read; MinBackoff and MaxBackoff
	// bound the delay before a failed message is tried again. Now is the
	// clock. Zero values are the defaults.
	Poll, MinBackoff, MaxBackoff time.Duration
	Now                          func() time.Time
	// TLSConfig, when set, is the TLS client configuration (tests give
	// their own roots).
	TLSConfig *tls.Config
}

// NewSender returns a sender of outbox's mail by cfg (after
// SetDefaults). It makes no network call.
func NewSender(cfg SMTPConfig, outbox Outbox, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, outbox: outbox, log: log}
}

// Run sends pending mail until ctx is done, then returns nil.
func (s *Sender) Run(ctx context.Context) error {
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := s.SendPending(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("mail outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SendPending sends every message due now, once each; a failed one is
// rescheduled with its backoff. It returns the outbox's errors, not the
// deliveries'.
func (s *Sender) SendPending(ctx context.Context) error {
	ms, err := s.outbox.PendingMail(ctx, s.now(), batch)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.send(ctx, m); err != nil {
			next := s.now().Add(s.backoff(m.Attempts))
			s.log.Warn("send mail", "id", m.ID, "attempts", m.Attempts+1, "retry_at", next, "err", err)
			if err := s.outbox.MailFailed(ctx, m.ID, next, err.Error()); err != nil {
				return err
			}
			continue
		}
		if err := s.outbox.MailSent(ctx, m.ID, s.now()); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the delay after a message's attempts+1-th failure.
func (s *Sender) backoff(attempts int) time.Duration {
	lo, hi := s.MinBackoff, s.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	d := lo
	for range min(attempts, 30) {
		d *= 2
		if d >= hi {
			return hi
		}
	}
	return min(d, hi)
}

// send delivers one message. Its errors name the step, never the
// message's body or the password.
func (s *Sender) send(ctx context.Context, m auth.Mail) error {
	host, _, _ := net.SplitHostPort(s.cfg.Address)
	tc := s.TLSConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	d := net.Dialer{Timeout: dialTimeout}
	var (
		conn net.Conn
		err  error
	)
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tc}).DialContext(ctx, "tcp", s.cfg.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Address)
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.cfg.Address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * dialTimeout))
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("starttls: the relay does not offer it")
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, host)); err != nil {
			return fmt.Errorf("auth as %s: %w", s.cfg.Username, err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(message(s.cfg.From, m)); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// message is m as an RFC 5322 message: plain UTF-8 text, CRLF lines.
func message(from string, m auth.Mail) []byte {
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", m.To)
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", m.CreatedAt.Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<outbox-%d-%d@%s>", m.ID, m.CreatedAt.UnixMilli(), domain(from)))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

func domain(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[at+1:]
	}
	return "localhost"
}
