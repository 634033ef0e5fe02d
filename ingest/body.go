package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// BodyError is a request body that cannot be split into events: not a
// JSON array or NDJSON, or over a limit. Code is the error code of the
// response; Status its HTTP status.
type BodyError struct {
	Status  int
	Code    string
	Message string
}

func (e *BodyError) Error() string { return e.Message }

// Limit error codes.
const (
	CodeBodyTooLarge  = "body_too_large"
	CodeTooManyEvents = "too_many_events"
	CodeMalformed     = "malformed_body"
	CodeBadEncoding   = "bad_encoding"
)

// readBody reads a request body, gunzipping it when gzipped is set, and
// refuses more than max bytes after decompression (so a small gzip bomb
// cannot grow past the limit).
func readBody(r io.Reader, gzipped bool, max int64) ([]byte, error) {
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, &BodyError{Status: 400, Code: CodeBadEncoding, Message: "body is not valid gzip"}
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, bodyTooLarge(max)
		}
		if gzipped {
			return nil, &BodyError{Status: 400, Code: CodeBadEncoding, Message: "body is not valid gzip"}
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > max {
		return nil, bodyTooLarge(max)
	}
	return data, nil
}

func bodyTooLarge(max int64) *BodyError {
	return &BodyError{Status: 413, Code: CodeBodyTooLarge,
		Message: fmt.Sprintf("request body over %d bytes (limit max_body_bytes)", max)}
}

// splitEvents splits a body into the raw bytes of its events: a JSON
// array of values, or newline-delimited JSON (blank lines skipped). It
// checks the structure only: each element is validated on its own later,
// so one bad event does not spoil the batch. More than maxEvents events
// is a BodyError.
func splitEvents(body []byte, maxEvents int) ([][]byte, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return splitArray(trimmed, maxEvents)
	}
	return splitLines(body, maxEvents)
}

func tooManyEvents(max int) *BodyError {
	return &BodyError{Status: 413, Code: CodeTooManyEvents,
		Message: fmt.Sprintf("more than %d events in one request (limit max_events)", max)}
}

func malformed(msg string) *BodyError {
	return &BodyError{Status: 400, Code: CodeMalformed, Message: msg}
}

// splitLines splits NDJSON. Every non-blank line must at least start like
// a JSON object; anything else means the body is not NDJSON at all.
func splitLines(body []byte, maxEvents int) ([][]byte, error) {
	var out [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			if len(out) == 0 {
				return nil, malformed("body is neither a JSON array nor newline-delimited JSON objects")
			}
			// A line that is not an object inside NDJSON is one bad
			// event, rejected on its own.
		}
		if len(out) == maxEvents {
			return nil, tooManyEvents(maxEvents)
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, malformed("body holds no events")
	}
	return out, nil
}

// splitArray splits a JSON array into its elements by tracking strings
// and nesting; it does not validate the elements.
func splitArray(b []byte, maxEvents int) ([][]byte, error) {
	var out [][]byte
	depth := 0
	start := -1
	inString := false
	for i := 1; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				if c == '}' {
					return nil, malformed("unbalanced '}' in the JSON array")
				}
				if start >= 0 {
					if len(out) == maxEvents {
						return nil, tooManyEvents(maxEvents)
					}
					out = append(out, bytes.TrimRight(b[start:i], " \t\r\n"))
				} else if len(out) > 0 {
					return nil, malformed("trailing comma in the JSON array")
				}
				if rest := bytes.TrimSpace(b[i+1:]); len(rest) > 0 {
					return nil, malformed("data after the JSON array")
				}
				if len(out) == 0 {
					return nil, malformed("body holds no events")
				}
				return out, nil
			}
			depth--
		case ',':
			if depth == 0 {
				if start < 0 {
					return nil, malformed("empty element in the JSON array")
				}
				if len(out) == maxEvents {
					return nil, tooManyEvents(maxEvents)
				}
				out = append(out, bytes.TrimRight(b[start:i], " \t\r\n"))
				start = -1
				continue
			}
		}
		if start < 0 {
			start = i
		}
	}
	return nil, malformed("unterminated JSON array")
}
