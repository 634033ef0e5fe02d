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

func TestSplitLenient(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unterminated array", `[{"a":1}, {"b":"x,]"}, {"c":`, []string{`{"a":1}`, `{"b":"x,]"}`, `{"c":`}},
		{"data after the array", `[{"a":1}] x`, []string{`{"a":1}`, `x`}},
		{"empty elements", `[{"a":1},,{"b":2},]`, []string{`{"a":1}`, `{"b":2}`}},
		{"unbalanced brace", `[{"a":1}},{"b":2}]`, []string{`{"a":1}}`, `{"b":2}`}},
		{"garbage first line", "garbage\n{\"a\":1}\r\n\n{\"b\":2}", []string{"garbage", `{"a":1}`, `{"b":2}`}},
		{"blank", " \n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range splitLenient([]byte(tt.body)) {
				got = append(got, string(p))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSplitLenient: the lenient splitter never panics, returns non-empty
// parts of the body, and agrees with splitEvents on what it accepts.
func FuzzSplitLenient(f *testing.F) {
	for _, s := range []string{`[{"a":1},{"b":"]"}]`, "{}\n{}", `[`, `["\`, `[{"a":"\\"}`, "[1,,2] x", "x\n{\n", `[}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := splitLenient(body)
		for _, g := range got {
			if len(g) == 0 || !bytes.Contains(body, g) {
				t.Fatalf("part %q is not a non-empty part of the body", g)
			}
		}
		if strict, err := splitEvents(body, len(body)+1); err == nil && len(strict) != len(got) {
			t.Fatalf("splitEvents gives %d events, splitLenient %d parts", len(strict), len(got))
		}
	})
}

// TestReceive_BoundedChunks: a body is read in chunks that never take
// more than the limit, every one from the budget and given back.
func TestReceive_BoundedChunks(t *testing.T) {
	mem := newBudget(1 << 30)
	zeros := gzipBytes(t, make([]byte, 10<<20))
	b, err := receive(bytes.NewReader(zeros), "gzip", -1, 1<<20, mem)
	var be *BodyError
	if !errors.As(err, &be) || be.Status != 413 {
		t.Fatalf("bomb: %v", err)
	}
	if used := mem.inUse(); used > 1<<20+int64(len(zeros))+1 {
		t.Errorf("a bomb over a 1 MiB limit holds %d bytes", used)
	}
	var kept int
	for _, k := range b.kept {
		kept += len(k)
	}
	if kept != 1<<20 || !b.truncated {
		t.Errorf("kept %d bytes, truncated %v", kept, b.truncated)
	}
	b.release()
	if used := mem.inUse(); used != 0 {
		t.Errorf("%d bytes still taken after release", used)
	}
	// Within the limit, with a wrong size in the trailer: still whole.
	body := bytes.Repeat([]byte(`{"a":1}`+"\n"), 50_000)
	gz := gzipBytes(t, body)
	copy(gz[len(gz)-4:], []byte{1, 0, 0, 0})
	b, err = receive(bytes.NewReader(gz), "gzip", -1, 1<<20, mem)
	if err == nil {
		t.Error("a wrong size in the trailer passed the gzip check")
	}
	b.release()
	b, err = receive(bytes.NewReader(gzipBytes(t, body)), "gzip", -1, 1<<20, mem)
	if err != nil || !bytes.Equal(b.data, body) {
		t.Fatalf("gzip body: %d bytes, %v", len(b.data), err)
	}
	b.release()
	b, err = receive(bytes.NewReader(body), "", -1, 1<<20, mem)
	if err != nil || !bytes.Equal(b.data, body) {
		t.Fatalf("plain body in chunks: %d bytes, %v", len(b.data), err)
	}
	b.release()
	if used := mem.inUse(); used != 0 {
		t.Errorf("%d bytes still taken", used)
	}
	// Over the budget: errOverloaded.
	small := newBudget(100 << 10)
	b, err = receive(bytes.NewReader(body), "", -1, 1<<20, small)
	if !errors.Is(err, errOverloaded) {
		t.Errorf("over the budget: %v", err)
	}
	b.release()
	if used := small.inUse(); used != 0 {
		t.Errorf("%d bytes still taken", used)
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
