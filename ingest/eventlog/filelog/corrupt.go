package filelog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// corruptSuffix names the file a damaged region's bytes are copied to:
// SEGMENT.corrupt-POSITION, next to the segment.
const corruptSuffix = ".corrupt-"

// Corruption is a damaged region of a segment that readers skip: bytes
// that hold no frame passing its checks, between two that do (or the end
// of a sealed segment).
type Corruption struct {
	Segment     string // the segment file's name
	Pos         int64  // where the region starts in the file, in bytes
	Bytes       int64  // its size
	FirstRecord int64  // the offset of the first record it held
	// Records is how many records it held: they are lost. In a segment
	// of format version 1 that Open found last (its frames carry no
	// offset and its count is not known), it is as many as the region
	// could hold (see the package documentation).
	Records int64
	File    string // the file its bytes were copied to
}

func (c Corruption) String() string {
	return fmt.Sprintf("%s at byte %d: %d bytes, %d records lost from offset %d, copied to %s",
		c.Segment, c.Pos, c.Bytes, c.Records, c.FirstRecord, filepath.Base(c.File))
}

// report handles a damaged region found for the first time since Open:
// it copies the bytes aside and, unless an earlier run already had (the
// copy is there), logs it, counts it, keeps it for Damaged and calls
// Config.OnCorrupt.
func (l *Log) report(s *segment, d damage) {
	c := Corruption{
		Segment:     filepath.Base(s.path),
		Pos:         d.pos,
		Bytes:       d.end - d.pos,
		FirstRecord: d.first,
		Records:     d.records(),
		File:        s.path + corruptSuffix + strconv.FormatInt(d.pos, 10),
	}
	known, err := copyAside(s.path, c.File, d.pos, c.Bytes)
	if err != nil {
		l.logger.Error("copy the damaged bytes of a segment aside", "segment", c.Segment, "offset", c.Pos, "err", err)
	}
	if known {
		l.logger.Info("skipping a damaged region of the log reported before", "segment", c.Segment, "offset", c.Pos,
			"bytes", c.Bytes, "records_lost", c.Records, "copy", c.File)
		return
	}
	l.logger.Warn("skipping a damaged region of the log; the records after it are kept",
		"segment", c.Segment, "offset", c.Pos, "bytes", c.Bytes, "first_record", c.FirstRecord,
		"records_lost", c.Records, "copy", c.File)
	l.metrics.corruptFrames.Inc()
	l.metrics.corruptBytes.Add(float64(c.Bytes))
	l.metrics.corruptRecords.Add(float64(c.Records))
	l.corruptMu.Lock()
	l.corrupt = append(l.corrupt, c)
	l.corruptMu.Unlock()
	if l.cfg.OnCorrupt != nil {
		l.queueNote(func() { l.cfg.OnCorrupt(c) })
	}
}

// copyAside copies n bytes of the segment at path from pos to dst, unless
// dst already holds that many: then it reports the region known.
func copyAside(path, dst string, pos, n int64) (known bool, err error) {
	if fi, err := os.Stat(dst); err == nil && fi.Size() == n {
		return true, nil
	}
	src, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer src.Close()
	tmp := dst + tmpSuffix
	f, err := os.Create(tmp)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(f, io.NewSectionReader(src, pos, n)); err != nil {
		_ = f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return false, err
	}
	return false, syncDir(filepath.Dir(dst))
}

// Damaged returns nil if no damaged region was found since Open, and
// otherwise an error naming them: the log works, but lost the records they
// held.
func (l *Log) Damaged() error {
	l.corruptMu.Lock()
	defer l.corruptMu.Unlock()
	if len(l.corrupt) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d damaged regions skipped: ", len(l.corrupt))
	for i, c := range l.corrupt {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(l.corrupt)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	return errors.New(b.String())
}
