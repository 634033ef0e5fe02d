package detect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/vigilaudit/vigil/schema"
)

// Test runs cfg's effective rules over events, in order, as the engine
// does over the log, and returns the alerts they raise: for tuning rules
// without a server.
func Test(cfg Config, events []*schema.Event) ([]Alert, error) {
	eng, err := cfg.engine()
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, e := range events {
		out = append(out, eng.Event(e)...)
	}
	return out, nil
}

// maxLine bounds one line of an events file.
const maxLine = 1 << 20

// ReadEvents reads newline-delimited JSON events, in the forms ingest
// accepts or Vigil's wire form (verified_submitter and received_at are
// taken as they are). Blank lines are skipped; an error names the line.
func ReadEvents(r io.Reader) ([]*schema.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := schema.NewNormalizer(schema.Limits{})
	var out []*schema.Event
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		e, err := n.Normalize(b, schema.Meta{Trusted: true})
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
