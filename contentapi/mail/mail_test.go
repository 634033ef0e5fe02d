package mail

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/internal/auth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// received is one message the test's SMTP server took.
type received struct {
	From, To, User string
	Data           string
	TLS            bool
}

// smtpServer is a small SMTP receiver: EHLO, STARTTLS (with cert), AUTH
// PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT. failMail answers the first
// so many MAIL commands 451.
type smtpServer struct {
	ln       net.Listener
	cert     *tls.Certificate
	user, pw string
	mu       sync.Mutex
	failMail int
	got      []received
	wg       sync.WaitGroup
}

func startSMTP(t *testing.T, cert *tls.Certificate, user, pw string, failMail int) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, cert: cert, user: user, pw: pw, failMail: failMail}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(l string) { _, _ = w.WriteString(l + "\r\n"); _ = w.Flush() }
	var cur received
	reply("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			if s.cert != nil && !cur.TLS {
				reply("250-test")
				reply("250-STARTTLS")
			} else {
				reply("250-test")
			}
			reply("250 AUTH PLAIN")
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			if tc.Handshake() != nil {
				return
			}
			c, cur.TLS = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if strings.ToUpper(mech) != "PLAIN" || len(parts) != 3 || parts[1] != s.user || parts[2] != s.pw {
				reply("535 authentication failed")
				continue
			}
			cur.User = parts[1]
			reply("235 ok")
		case "MAIL":
			s.mu.Lock()
			fail := s.failMail > 0
			if fail {
				s.failMail--
			}
			s.mu.Unlock()
			if fail || s.user != "" && cur.User == "" {
				reply("451 try later")
				continue
			}
			cur.From = strings.Trim(strings.TrimPrefix(arg, "FROM:"), "<>")
			reply("250 ok")
		case "RCPT":
			cur.To = strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>")
			reply("250 ok")
		case "DATA":
			reply("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = data.String()
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.mu.Unlock()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown")
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and the pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// newOutbox is a store with a user and one queued mail: a reset request.
func newOutbox(t *testing.T) *auth.Store {
	t.Helper()
	s, err := auth.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	err = s.RequestPasswordReset(ctx, auth.Actor{Email: "alice@example.com"}, "alice@example.com", strings.Repeat("ab", 32),
		time.Now().Add(time.Hour), auth.Mail{Subject: "Reset your password", Body: "line one\n.dot line\nthe token\n"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sent(t *testing.T, s *auth.Store) []auth.Mail {
	t.Helper()
	ms, err := s.ListMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestSender_Delivers(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name, mode string
		cert       *tls.Certificate
		wantTLS    bool
	}{
		{"plain", TLSNone, nil, false},
		{"starttls", TLSStartTLS, cert, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.cert, "vigil", "smtp-secret-Q1", 0)
			outbox := newOutbox(t)
			s := NewSender(SMTPConfig{Address: srv.ln.Addr().String(), From: "vigil@example.com", Username: "vigil",
				Password: "smtp-secret-Q1", TLS: tc.mode}, outbox, nil)
			s.TLSConfig = &tls.Config{RootCAs: pool}
			if err := s.SendPending(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := srv.messages()
			if len(got) != 1 {
				t.Fatalf("received %d messages", len(got))
			}
			m := got[0]
			if m.From != "vigil@example.com" || m.To != "alice@example.com" || m.User != "vigil" || m.TLS != tc.wantTLS {
				t.Errorf("received %+v", m)
			}
			for _, want := range []string{"From: vigil@example.com\r\n", "To: alice@example.com\r\n", "Subject: Reset your password\r\n",
				"\r\n\r\nline one\r\n.dot line\r\nthe token\r\n"} {
				if !strings.Contains(m.Data, want) {
					t.Errorf("message lacks %q:\n%s", want, m.Data)
				}
			}
			if ms := sent(t, outbox); len(ms) != 1 || ms[0].SentAt == nil || ms[0].Attempts != 0 {
				t.Errorf("outbox after: %+v", ms)
			}
			// Sent mail is not sent again.
			if err := s.SendPending(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(srv.messages()); n != 1 {
				t.Errorf("sent again: %d messages", n)
			}
		})
	}
}

func TestSender_StartTLSRequired(t *testing.T) {
	srv := startSMTP(t, nil, "", "", 0)
	outbox := newOutbox(t)
	s := NewSender(SMTPConfig{Address: srv.ln.Addr().String(), From: "vigil@example.com", TLS: TLSStartTLS}, outbox, nil)
	if err := s.SendPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := sent(t, outbox)
	if len(srv.messages()) != 0 || ms[0].SentAt != nil || ms[0].Attempts != 1 || !strings.Contains(ms[0].LastError, "starttls") {
		t.Errorf("without STARTTLS: %+v", ms)
	}
}

func TestSender_RetriesWithBackoff(t *testing.T) {
	srv := startSMTP(t, nil, "", "", 2)
	outbox := newOutbox(t)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	s := NewSender(SMTPConfig{Address: srv.ln.Addr().String(), From: "vigil@example.com", TLS: TLSNone}, outbox, nil)
	s.Now, s.MinBackoff, s.MaxBackoff = clock, time.Minute, 90*time.Second
	ctx := context.Background()

	for i, step := range []struct {
		advance  time.Duration
		attempts int
		sent     bool
	}{
		{0, 1, false},                // 451: retry in 1m
		{59 * time.Second, 1, false}, // not due yet
		{time.Second, 2, false},      // 451 again: retry in 2m, capped at 90s
		{89 * time.Second, 2, false}, // not due
		{time.Second, 2, true},       // delivered
		{time.Hour, 2, true},         // and not again
	} {
		advance(step.advance)
		if err := s.SendPending(ctx); err != nil {
			t.Fatal(err)
		}
		ms := sent(t, outbox)
		if ms[0].Attempts != step.attempts || (ms[0].SentAt != nil) != step.sent {
			t.Fatalf("step %d: %+v", i, ms[0])
		}
		if !step.sent && !strings.Contains(ms[0].LastError, "451") {
			t.Errorf("step %d: last error %q", i, ms[0].LastError)
		}
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSender_Run(t *testing.T) {
	srv := startSMTP(t, nil, "", "", 0)
	outbox := newOutbox(t)
	s := NewSender(SMTPConfig{Address: srv.ln.Addr().String(), From: "vigil@example.com", TLS: TLSNone}, outbox, nil)
	s.Poll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(srv.messages()) != 1 {
		t.Fatal("Run delivered nothing")
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		c    SMTPConfig
		want string
	}{
		{SMTPConfig{Address: "smtp.example.com:587", From: "vigil@example.com"}, ""},
		{SMTPConfig{Address: "smtp.example.com", From: "vigil@example.com"}, "smtp.address"},
		{SMTPConfig{Address: "smtp.example.com:25", From: "not an address"}, "smtp.from"},
		{SMTPConfig{Address: "smtp.example.com:25", From: "v@example.com", TLS: "ssl"}, "smtp.tls"},
		{SMTPConfig{Address: "smtp.example.com:25", From: "v@example.com", Password: "x"}, "smtp.username"},
	} {
		c := Config{SMTP: &tc.c}
		c.SetDefaults()
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "x\"") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("no smtp: %v", err)
	}
}
