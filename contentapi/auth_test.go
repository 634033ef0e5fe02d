package contentapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	for _, h := range []string{"Bearer " + tokUser, "bearer " + tokUser, "BEARER   " + tokUser + " ", " Bearer " + tokUser} {
		if tok, err := ParseBearer(h); err != nil || tok != tokUser {
			t.Errorf("ParseBearer(%q) = %q, %v", h, tok, err)
		}
	}
	for _, h := range []string{"", "Bearer", "Bearer ", tokUser, "Basic " + tokUser, "Bearer " + strings.ToUpper(folder[:32]),
		"Bearer " + tokUser + " x", "Bearer\t" + tokUser, "Bearer " + tokUser[:31] + "g"} {
		if tok, err := ParseBearer(h); err == nil {
			t.Errorf("ParseBearer(%q) = %q, want an error", h, tok)
		}
	}
}

func TestCredential_Query(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/v1.4/users?token=&x=1", nil)
	r.Header.Set("Authorization", "Bearer "+tokUser)
	if tok, err := Credential(r); err != nil || tok != tokUser {
		t.Errorf("an empty token parameter beside a header: %q, %v; want the header's", tok, err)
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer " + tokUser, "bearer  " + tokUser, "Basic dTpw", "Bearer", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := ParseBearer(h)
		if err != nil {
			if tok != "" {
				t.Fatalf("ParseBearer(%q) returned %q with its error", h, tok)
			}
			return
		}
		if !isToken(tok) || !strings.Contains(h, tok) {
			t.Fatalf("ParseBearer(%q) = %q, not a token of the header", h, tok)
		}
	})
}
