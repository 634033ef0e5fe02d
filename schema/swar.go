package schema

import "encoding/binary"

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// The scanners below read eight bytes at a time. Each flags a word that
// holds a byte below 0x20 or at or above 0x80 (the borrow of the
// subtraction and the high bit), or a byte equal to a given character
// (zeroByte of the word xor that character). Flags may be false alarms in
// bytes above a real one; the byte loop after the word loop sorts them out.

// lexicalPrefix returns how many leading bytes of b are printable ASCII
// other than '\\': the bytes checkLexical can skip.
func lexicalPrefix(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if ((x-0x20*lows)|x|zeroByte(x^('\\'*lows)))&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x80 || c == '\\' {
			return i
		}
	}
	return i
}

// plainPrefix returns how many leading bytes of s are printable ASCII
// other than '"' and '\\': the bytes appendString copies as they are.
func plainPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if ((x-0x20*lows)|x|zeroByte(x^('"'*lows))|zeroByte(x^('\\'*lows)))&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// zeroByte sets the high bit of the lowest zero byte of x (and maybe of
// bytes above it).
func zeroByte(x uint64) uint64 { return (x - lows) &^ x }
