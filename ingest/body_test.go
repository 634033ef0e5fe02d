package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitEvents(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
		code string // BodyError code, "" for success
	}{
		{"array", `[{"a":1}, {"b":"x,]}"} ,{"c":[1,{"d":2}]}]`, []string{`{"a":1}`, `{"b":"x,]}"}`, `{"c":[1,{"d":2}]}`}, ""},
		{"array with escaped quote", `[{"a":"q\"],"}]`, []string{`{"a":"q\"],"}`}, ""},
		{"array with a non-object element", `[{"a":1},42,"s"]`, []string{`{"a":1}`, `42`, `"s"`}, ""},
		{"array with whitespace", " \n[ {\"a\":1}\n ,\n{\"b\":2} ]\n", []string{`{"a":1}`, `{"b":2}`}, ""},
		{"ndjson", "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}", []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, ""},
		{"ndjson with a bad line", "{\"a\":1}\nnot json\n", []string{`{"a":1}`, `not json`}, ""},
		{"single object", `{"a":1}`, []string{`{"a":1}`}, ""},
		{"empty", "", nil, CodeMalformed},
		{"blank", " \n\n", nil, CodeMalformed},
		{"empty array", "[]", nil, CodeMalformed},
		{"not json", "hello", nil, CodeMalformed},
		{"unterminated array", `[{"a":1}`, nil, CodeMalformed},
		{"trailing comma", `[{"a":1},]`, nil, CodeMalformed},
		{"empty element", `[{"a":1},,{"b":2}]`, nil, CodeMalformed},
		{"data after array", `[{"a":1}] x`, nil, CodeMalformed},
		{"too many (array)", `[{},{},{},{}]`, nil, CodeTooManyEvents},
		{"too many (ndjson)", "{}\n{}\n{}\n{}", nil, CodeTooManyEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitEvents([]byte(tt.body), 3)
			if tt.code != "" {
				var be *BodyError
				if !errors.As(err, &be) || be.Code != tt.code {
					t.Fatalf("got %q, %v; want a %s error", got, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, string(g))
			}
			if diff := cmp.Diff(tt.want, gotS); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Repeat("a", 1000)))
	zw.Close()

	if got, err := readBody(bytes.NewReader(gz.Bytes()), true, 1000); err != nil || len(got) != 1000 {
		t.Errorf("gzip within the limit: %d bytes, %v", len(got), err)
	}
	// The limit applies after decompression.
	var be *BodyError
	if _, err := readBody(bytes.NewReader(gz.Bytes()), true, 999); !errors.As(err, &be) || be.Status != 413 {
		t.Errorf("gzip over the limit: %v", err)
	}
	if _, err := readBody(strings.NewReader("plain"), true, 100); !errors.As(err, &be) || be.Code != CodeBadEncoding {
		t.Errorf("not gzip: %v", err)
	}
	if _, err := readBody(strings.NewReader("12345"), false, 4); !errors.As(err, &be) || be.Code != CodeBodyTooLarge {
		t.Errorf("plain over the limit: %v", err)
	}
}

// FuzzSplitEvents: the splitter never panics, and what it returns are
// sub-slices of the body, non-empty, at most the limit.
func FuzzSplitEvents(f *testing.F) {
	for _, s := range []string{`[{"a":1},{"b":"]"}]`, "{}\n{}", `[`, `["\`, `[{"a":"\\"}]`, "[1,2]", "{\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := splitEvents(body, 100)
		if err != nil {
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BodyError", err)
			}
			return
		}
		if len(got) == 0 || len(got) > 100 {
			t.Fatalf("%d events", len(got))
		}
		for _, g := range got {
			if len(g) == 0 || !bytes.Contains(body, g) {
				t.Fatalf("event %q is not a non-empty part of the body", g)
			}
		}
	})
}
