package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is RFC 6238's SHA-1 key.
var rfcSecret = []byte("12345678901234567890")

// TestHOTP_RFC6238Vectors checks RFC 6238 appendix B (SHA-1, 8 digits)
// and the 6-digit codes apps show for the same times.
func TestHOTP_RFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix  int64
		eight string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		step := Step(time.Unix(tt.unix, 0))
		if got := hotp(rfcSecret, step, 8); got != tt.eight {
			t.Errorf("t=%d: hotp 8 = %s, want %s", tt.unix, got, tt.eight)
		}
		if got := Code(rfcSecret, step); got != tt.eight[2:] {
			t.Errorf("t=%d: Code = %s, want %s", tt.unix, got, tt.eight[2:])
		}
	}
}

// TestHOTP_RFC4226Vectors checks RFC 4226 appendix D's first counters.
func TestHOTP_RFC4226Vectors(t *testing.T) {
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676"} {
		if got := hotp(rfcSecret, int64(i), 6); got != want {
			t.Errorf("counter %d = %s, want %s", i, got, want)
		}
	}
}

func TestVerify_SkewAndReplay(t *testing.T) {
	now := time.Unix(1111111111, 0)
	cur := Step(now)
	tests := []struct {
		name string
		step int64
		last int64
		ok   bool
	}{
		{"current", cur, 0, true},
		{"one step back", cur - 1, 0, true},
		{"one step ahead", cur + 1, 0, true},
		{"two steps back", cur - 2, 0, false},
		{"two steps ahead", cur + 2, 0, false},
		{"replayed", cur, cur, false},
		{"older than last used", cur - 1, cur, false},
		{"after last used", cur + 1, cur, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := Verify(rfcSecret, Code(rfcSecret, tt.step), now, tt.last)
			if ok != tt.ok || (ok && step != tt.step) {
				t.Errorf("Verify = %d, %v; want %d, %v", step, ok, tt.step, tt.ok)
			}
		})
	}
	// The step returned makes the same code fail next time.
	code := Code(rfcSecret, cur)
	step, ok := Verify(rfcSecret, code, now, 0)
	if !ok {
		t.Fatal("first use refused")
	}
	if _, ok := Verify(rfcSecret, code, now.Add(20*time.Second), step); ok {
		t.Error("code accepted twice")
	}
}

func TestVerify_Input(t *testing.T) {
	now := time.Unix(1111111111, 0)
	code := Code(rfcSecret, Step(now)) // "050471"
	for in, want := range map[string]bool{
		code:                      true,
		code[:3] + " " + code[3:]: true,
		code[1:]:                  false,
		code + "0":                false,
		"":                        false,
		"０50471":                  false,
		"-50471":                  false,
		"abcdef":                  false,
	} {
		if _, ok := Verify(rfcSecret, in, now, 0); ok != want {
			t.Errorf("Verify(%q) = %v, want %v", in, ok, want)
		}
	}
}

func TestSecret_EncodeDecode(t *testing.T) {
	s := NewSecret()
	if len(s) != 20 {
		t.Fatalf("NewSecret: %d bytes", len(s))
	}
	enc := EncodeSecret(s)
	if len(enc) != 32 || strings.ToUpper(enc) != enc || strings.Contains(enc, "=") {
		t.Fatalf("EncodeSecret = %q", enc)
	}
	for _, in := range []string{enc, strings.ToLower(enc), enc[:4] + " " + enc[4:], enc + "===="} {
		got, err := DecodeSecret(in)
		if err != nil || string(got) != string(s) {
			t.Errorf("DecodeSecret(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "AAAA", "1AAAAAAAAAAAAAAAA", enc + "\n", strings.Repeat("A", 200)} {
		if _, err := DecodeSecret(in); err == nil {
			t.Errorf("DecodeSecret(%q) accepted", in)
		} else if strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

func TestURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	got := URI("Vigil Corp", "alice@example.com", secret)
	const want = "otpauth://totp/Vigil%20Corp:alice@example.com?algorithm=SHA1&digits=6&issuer=Vigil+Corp&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if got != want {
		t.Fatalf("URI =\n %s\nwant\n %s", got, want)
	}
	u, err := url.Parse(URI("a:b", "c:d", secret))
	if err != nil {
		t.Fatal(err)
	}
	if u.EscapedPath() != "/a%3Ab:c%3Ad" {
		t.Errorf("label %q: a colon in a part is not escaped", u.EscapedPath())
	}
}

func FuzzDecodeSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("gezd gnbv gy3t qojq")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeSecret(s)
		if err != nil {
			return
		}
		if len(b) < 10 || len(b) > 64 {
			t.Fatalf("DecodeSecret(%q): %d bytes", s, len(b))
		}
		again, err := DecodeSecret(EncodeSecret(b))
		if err != nil || string(again) != string(b) {
			t.Fatalf("round trip of %q: %x, %v", s, again, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("050471", int64(0))
	f.Add(" 0 5 0 4 7 1 ", int64(37037036))
	f.Add("", int64(-1))
	now := time.Unix(1111111111, 0)
	f.Fuzz(func(t *testing.T, code string, last int64) {
		step, ok := Verify(rfcSecret, code, now, last)
		if !ok {
			return
		}
		if step <= last || step < Step(now)-Skew || step > Step(now)+Skew {
			t.Fatalf("Verify(%q, last %d) accepted step %d", code, last, step)
		}
		if strings.ReplaceAll(code, " ", "") != Code(rfcSecret, step) {
			t.Fatalf("Verify(%q) accepted another step's code", code)
		}
	})
}
