package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfig_MailAndSecurity: content.mail and content.security are
// read, defaulted, and their errors name the key.
func TestLoadConfig_MailAndSecurity(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "vigil.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("SMTP_PASSWORD", "smtp-pw-Yy3")
	cfg, err := loadConfig(write(`content:
  mail:
    smtp: {address: "smtp.example.com:587", from: vigil@example.com, username: vigil, password: "${SMTP_PASSWORD}"}
  security:
    reset_url: https://files.example.com/reset
    codes: {limit: 3}
`), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Content.Mail.SMTP
	if s == nil || s.TLS != "starttls" || s.Password != "smtp-pw-Yy3" || cfg.Content.Security.Codes.Limit != 3 ||
		cfg.Content.Security.Codes.Window == 0 || cfg.Content.Security.Issuer != "Vigil" {
		t.Errorf("loaded %+v %+v", s, cfg.Content.Security)
	}
	_, err = loadConfig(write(`content:
  mail:
    smtp: {address: smtp.example.com, from: "x", tls: ssl, password: "${SMTP_PASSWORD}"}
  security:
    reset_url: ftp://x
`), overrides{})
	if err == nil {
		t.Fatal("bad mail config accepted")
	}
	for _, key := range []string{"content.mail.smtp.address", "content.mail.smtp.from", "content.mail.smtp.tls", "content.mail.smtp.username", "content.security.reset_url"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error does not name %s: %v", key, err)
		}
	}
	if strings.Contains(err.Error(), "smtp-pw-Yy3") {
		t.Errorf("the error holds the password: %v", err)
	}
}
