package filelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A group's offsets file holds the offset of the first record the group
// has not committed:
//
//	0   4  magic "VOFF"
//	4   2  format version (1), big endian
//	6   2  reserved, zero
//	8   8  next offset
//	16  4  CRC-32C of bytes 0..16
const (
	offsetsDirName = "offsets"
	offsetSuffix   = ".offset"
	tmpSuffix      = ".tmp"
	offsetFileSize = 20
)

var offsetMagic = [4]byte{'V', 'O', 'F', 'F'}

func encodeOffset(next int64) []byte {
	b := make([]byte, 0, offsetFileSize)
	b = append(b, offsetMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, offsetsVersion)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(next))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeOffset(b []byte) (int64, error) {
	if len(b) != offsetFileSize {
		return 0, fmt.Errorf("offsets file of %d bytes, want %d: %w", len(b), offsetFileSize, errCorrupt)
	}
	if [4]byte(b[0:4]) != offsetMagic {
		return 0, fmt.Errorf("offsets file: bad magic %q: %w", b[0:4], errCorrupt)
	}
	if v := binary.BigEndian.Uint16(b[4:6]); v != offsetsVersion {
		return 0, &versionError{what: "offsets file", version: v, reads: "version " + strconv.Itoa(offsetsVersion)}
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:20]) {
		return 0, fmt.Errorf("offsets file: checksum mismatch: %w", errCorrupt)
	}
	next := int64(binary.BigEndian.Uint64(b[8:16]))
	if next < 0 {
		return 0, fmt.Errorf("offsets file: negative offset: %w", errCorrupt)
	}
	return next, nil
}

// groupFile returns the name of group's offsets file: bytes other than
// ASCII letters, digits, '-', '_' and a '.' that does not come first are
// escaped as %XX, so every group has its own file and no name is special.
func groupFile(group string) string {
	var b strings.Builder
	for i := 0; i < len(group); i++ {
		c := group[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + offsetSuffix
}

// groupOfFile is the inverse of groupFile.
func groupOfFile(name string) (string, bool) {
	esc, ok := strings.CutSuffix(name, offsetSuffix)
	if !ok || esc == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(esc); i++ {
		if esc[i] != '%' {
			b.WriteByte(esc[i])
			continue
		}
		if i+2 >= len(esc) {
			return "", false
		}
		c, err := strconv.ParseUint(esc[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	g := b.String()
	return g, groupFile(g) == name
}

// writeOffset stores next as the group's offset atomically: a temporary
// file is written and fsynced, renamed over the group's file, and the
// directory fsynced.
func writeOffset(dir *os.File, file string, next int64) error {
	path := filepath.Join(dir.Name(), file)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(encodeOffset(next))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = dir.Sync()
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// loadOffsets reads every group's offset from dir and removes temporary
// files left by a crash.
func loadOffsets(dir string) (map[string]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64)
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			continue
		}
		group, ok := groupOfFile(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		next, err := decodeOffset(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[group] = next
	}
	return out, nil
}

// syncDir fsyncs a directory, making its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// errLocked means another Log has the directory open.
var errLocked = errors.New("directory is in use by another process")
