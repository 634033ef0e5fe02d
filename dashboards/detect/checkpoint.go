package detect

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkpointName is the state file in the engine's directory.
const checkpointName = "state.gob"

// checkpoint is what the state file holds: the state and, per rule, the
// hop its buckets were counted in (a retuned window starts afresh).
type checkpoint struct {
	State *State
	Hops  map[string]int64
}

// encodeState returns the checkpoint bytes of e's state.
func (e *Engine) encodeState() ([]byte, error) {
	cp := checkpoint{State: e.st, Hops: map[string]int64{}}
	for _, c := range e.rules {
		cp.Hops[c.Name] = c.hop.Milliseconds()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(cp); err != nil {
		return nil, fmt.Errorf("encode detection state: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeState restores e's state from checkpoint bytes, dropping the
// state of rules that are gone or were retuned to another window.
func (e *Engine) decodeState(b []byte) error {
	var cp checkpoint
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&cp); err != nil {
		return fmt.Errorf("decode detection state: %w", err)
	}
	if cp.State == nil {
		cp.State = newState()
	}
	e.Restore(cp.State)
	keep := map[string]bool{}
	for _, c := range e.rules {
		keep[c.Name] = cp.Hops[c.Name] == c.hop.Milliseconds()
	}
	for name := range e.st.Rules {
		if !keep[name] {
			delete(e.st.Rules, name)
		}
	}
	return nil
}

// writeFile replaces path with b durably: a temporary file, fsynced,
// renamed over it, and the directory fsynced.
func writeFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename checkpoint: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync checkpoint directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync checkpoint directory: %w", err)
	}
	return nil
}

// readFile returns the checkpoint at path, or nil when there is none.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	return b, nil
}
