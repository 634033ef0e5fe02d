package contentapi

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// suite is what the whole package's tests logged and every secret their
// fixtures used (passwords, tokens, codes, client secrets, credentials),
// checked by TestMain once all tests ran: no log line may hold a secret.
var suite = struct {
	sync.Mutex
	logs    bytes.Buffer
	secrets map[string]bool
}{secrets: map[string]bool{}}

type suiteWriter struct{}

func (suiteWriter) Write(p []byte) (int, error) {
	suite.Lock()
	defer suite.Unlock()
	return suite.logs.Write(p)
}

// testLogger logs to w and to the suite's log.
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(w, suiteWriter{}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noteSecrets adds to the suite's secrets.
func noteSecrets(ss ...string) {
	suite.Lock()
	defer suite.Unlock()
	for _, s := range ss {
		suite.secrets[s] = true
	}
}

// checkSuiteSecrets says which secrets the suite's log holds, without
// naming them; a secret shorter than 6 bytes could appear by chance and
// is not looked for.
func checkSuiteSecrets() []string {
	suite.Lock()
	defer suite.Unlock()
	var out []string
	logs := suite.logs.Bytes()
	for s := range suite.secrets {
		if len(s) >= 6 && bytes.Contains(logs, []byte(s)) {
			out = append(out, fmt.Sprintf("the log of the tests holds a secret of %d bytes starting %q", len(s), s[:2]))
		}
	}
	if len(suite.secrets) == 0 {
		out = append(out, "no fixture noted a secret")
	}
	return out
}
