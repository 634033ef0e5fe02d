package kafkalog

import (
	"context"
	"strings"
	"testing"
)

// TestScram_RFC7677 replays the SCRAM-SHA-256 exchange of RFC 7677,
// section 3.
func TestScram_RFC7677(t *testing.T) {
	const (
		serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	m := newScram(scramSHA256, "user", "pencil")
	m.nonce = func() (string, error) { return "rOprNGfwEbeRWgbNEkqO", nil }
	ctx := context.Background()

	sess, first, err := m.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(first), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"; got != want {
		t.Errorf("client-first = %q, want %q", got, want)
	}
	done, final, err := sess.Next(ctx, []byte(serverFirst))
	if err != nil || done {
		t.Fatalf("Next(server-first) = %v, %v", done, err)
	}
	if string(final) != clientFinal {
		t.Errorf("client-final = %q, want %q", final, clientFinal)
	}
	done, _, err = sess.Next(ctx, []byte(serverFinal))
	if err != nil || !done {
		t.Errorf("Next(server-final) = %v, %v; want done", done, err)
	}
}

func TestScram_Refusals(t *testing.T) {
	const nonce = "abc"
	tests := []struct {
		name        string
		serverFirst string
		serverFinal string // checked only when serverFirst is accepted
		want        string
	}{
		{name: "ForeignNonce", serverFirst: "r=xyz123,s=c2FsdA==,i=4096", want: "does not extend the client nonce"},
		{name: "SameNonce", serverFirst: "r=abc,s=c2FsdA==,i=4096", want: "does not extend the client nonce"},
		{name: "NoSalt", serverFirst: "r=abc123,i=4096", want: "no valid salt"},
		{name: "FewIterations", serverFirst: "r=abc123,s=c2FsdA==,i=1", want: `asks for "1" iterations`},
		{name: "Extension", serverFirst: "m=ext,r=abc123,s=c2FsdA==,i=4096", want: "unsupported extension"},
		{name: "ServerError", serverFirst: "r=abc123,s=c2FsdA==,i=4096", serverFinal: "e=invalid-proof", want: "server refused: invalid-proof"},
		{name: "WrongSignature", serverFirst: "r=abc123,s=c2FsdA==,i=4096", serverFinal: "v=AAAA", want: "server signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newScram(scramSHA512, "user", "pencil")
			m.nonce = func() (string, error) { return nonce, nil }
			ctx := context.Background()
			sess, _, err := m.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = sess.Next(ctx, []byte(tt.serverFirst))
			if err == nil {
				_, _, err = sess.Next(ctx, []byte(tt.serverFinal))
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestScram_EscapesUsername(t *testing.T) {
	m := newScram(scramSHA256, "a=b,c", "p")
	m.nonce = func() (string, error) { return "n0", nil }
	_, first, err := m.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(first), "n,,n=a=3Db=2Cc,r=n0"; got != want {
		t.Errorf("client-first = %q, want %q", got, want)
	}
}
