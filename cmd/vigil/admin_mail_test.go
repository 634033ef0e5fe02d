package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
)

// TestAdminMail lists the outbox in both modes: a reset mail, unsent.
func TestAdminMail(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	if _, err := f.store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	err := f.store.RequestPasswordReset(ctx, auth.Actor{Email: "alice@example.com"}, "alice@example.com", strings.Repeat("cd", 32),
		time.Now().Add(time.Hour), auth.Mail{Subject: "Reset your password", Body: "the body\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.modes() {
		t.Run(m.name, func(t *testing.T) {
			out, _ := m.run(t, "mail", "list")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "alice@example.com") ||
				!strings.Contains(lines[1], "Reset your password") || strings.Contains(out, "the body") {
				t.Errorf("table:\n%s", out)
			}
			out, _ = m.run(t, "mail", "list", "--format", "json")
			var got struct{ Mail []auth.Mail }
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Mail) != 1 || got.Mail[0].Body != "the body\n" || got.Mail[0].SentAt != nil {
				t.Errorf("json: %v %s", err, out)
			}
		})
	}
}
