package splunkhec

import (
	"bytes"
	"fmt"
	"os"
	"sync"
)

// tokenSource is the HEC token: the configured one, or the contents of
// the token file, read again before each batch and taken when they
// change. The file is small, so it is read and compared rather than
// watched: a rotation is seen even when it keeps the size and the
// modification time.
type tokenSource struct {
	file string

	mu    sync.Mutex
	raw   []byte // the file's contents at the last load
	token string
}

// load reads the token file, if any, and returns the token. On error the
// token read before is kept for the polls of batches in flight, and the
// error names the file.
func (t *tokenSource) load() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file == "" {
		return t.token, nil
	}
	raw, err := os.ReadFile(t.file)
	if err != nil {
		return "", fmt.Errorf("read token_file: %w", err)
	}
	if t.token != "" && bytes.Equal(raw, t.raw) {
		return t.token, nil
	}
	tok := string(bytes.TrimSpace(raw))
	if !validToken(tok) {
		// A rotation may be half written; the next batch reads it again.
		return "", fmt.Errorf("token_file %s holds no token (empty, or with spaces or control characters)", t.file)
	}
	t.raw, t.token = raw, tok
	return tok, nil
}

// current returns the token last loaded, and false when none was.
func (t *tokenSource) current() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token, t.token != ""
}
