package relp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of a frame's header fields (librelp's).
const (
	// MaxTxnr is the largest transaction number; the next one is 1.
	MaxTxnr = 999999999
	// maxDigits is the most digits of TXNR and DATALEN.
	maxDigits = 9
	// maxCommand is the longest command name.
	maxCommand = 32
)

// Commands of the RELP protocol the sink speaks or understands.
const (
	CmdOpen        = "open"
	CmdClose       = "close"
	CmdSyslog      = "syslog"
	CmdRsp         = "rsp"
	CmdServerClose = "serverclose"
)

// Frame is one RELP frame: TXNR SP COMMAND SP DATALEN [SP DATA] LF.
type Frame struct {
	Txnr    int
	Command string
	Data    []byte
}

// ErrFrame is wrapped by the errors of ReadFrame about a malformed frame.
var ErrFrame = errors.New("malformed relp frame")

// AppendFrame appends the frame of txnr, command and data to dst.
func AppendFrame(dst []byte, txnr int, command string, data []byte) []byte {
	dst = strconv.AppendInt(dst, int64(txnr), 10)
	dst = append(dst, ' ')
	dst = append(dst, command...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	if len(data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, data...)
	}
	return append(dst, '\n')
}

// FrameLen is the length of the frame AppendFrame appends.
func FrameLen(txnr int, command string, dataLen int) int {
	n := digits(txnr) + 1 + len(command) + 1 + digits(dataLen) + 1
	if dataLen > 0 {
		n += 1 + dataLen
	}
	return n
}

func digits(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// NextTxnr is the transaction number after txnr: they count from 1 to
// MaxTxnr and start again at 1.
func NextTxnr(txnr int) int {
	if txnr >= MaxTxnr {
		return 1
	}
	return txnr + 1
}

// ReadFrame reads one frame from r, whose data may hold at most maxData
// bytes. It returns io.EOF when r ends before the frame's first byte,
// io.ErrUnexpectedEOF when it ends inside one, and an error wrapping
// ErrFrame for bytes that are not a frame. The data is the frame's own.
func ReadFrame(r *bufio.Reader, maxData int) (Frame, error) {
	var f Frame
	txnr, end, err := readNumber(r, "txnr", true)
	if err != nil {
		return f, err
	}
	if end != ' ' {
		return f, fmt.Errorf("%w: txnr ends with %q, want a space", ErrFrame, end)
	}
	f.Txnr = txnr
	var cmd [maxCommand]byte
	n := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return f, truncated(err)
		}
		if c == ' ' && n > 0 {
			break
		}
		if !isAlpha(c) {
			return f, fmt.Errorf("%w: command holds %q", ErrFrame, c)
		}
		if n == maxCommand {
			return f, fmt.Errorf("%w: command longer than %d letters", ErrFrame, maxCommand)
		}
		cmd[n] = c
		n++
	}
	f.Command = string(cmd[:n])
	size, end, err := readNumber(r, "datalen", false)
	if err != nil {
		return f, err
	}
	switch {
	case size == 0 && end == '\n':
		return f, nil
	case size == 0:
		return f, fmt.Errorf("%w: datalen 0 ends with %q, want the trailer", ErrFrame, end)
	case end != ' ':
		return f, fmt.Errorf("%w: datalen ends with %q, want a space", ErrFrame, end)
	case size > maxData:
		return f, fmt.Errorf("%w: datalen %d is over the limit of %d", ErrFrame, size, maxData)
	}
	f.Data = make([]byte, size)
	if _, err := io.ReadFull(r, f.Data); err != nil {
		return f, truncated(err)
	}
	c, err := r.ReadByte()
	if err != nil {
		return f, truncated(err)
	}
	if c != '\n' {
		return f, fmt.Errorf("%w: data of %d bytes is followed by %q, want the trailer", ErrFrame, size, c)
	}
	return f, nil
}

// readNumber reads 1 to 9 digits and the byte after them. With first, a
// clean end of r before any byte is io.EOF.
func readNumber(r *bufio.Reader, field string, first bool) (n int, end byte, err error) {
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if first && i == 0 && errors.Is(err, io.EOF) {
				return 0, 0, io.EOF
			}
			return 0, 0, truncated(err)
		}
		if c < '0' || c > '9' {
			if i == 0 {
				return 0, 0, fmt.Errorf("%w: %s starts with %q, want a digit", ErrFrame, field, c)
			}
			return n, c, nil
		}
		if i == maxDigits {
			return 0, 0, fmt.Errorf("%w: %s longer than %d digits", ErrFrame, field, maxDigits)
		}
		n = n*10 + int(c-'0')
	}
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Response is the data of an rsp frame: a three-digit code, a text of up
// to 80 characters, and after a LF, data (the server's offers, for open).
type Response struct {
	Code int
	Text string
	Data []byte
}

// OK reports whether the code is a success (2xx).
func (r Response) OK() bool { return r.Code >= 200 && r.Code < 300 }

// ParseResponse reads the data of an rsp frame.
func ParseResponse(data []byte) (Response, error) {
	var rsp Response
	if len(data) < 3 || !isDigit(data[0]) || !isDigit(data[1]) || !isDigit(data[2]) {
		return rsp, fmt.Errorf("%w: response %.20q does not start with a three-digit code", ErrFrame, data)
	}
	rsp.Code = int(data[0]-'0')*100 + int(data[1]-'0')*10 + int(data[2]-'0')
	rest := data[3:]
	switch {
	case len(rest) == 0:
		return rsp, nil
	case rest[0] == '\n':
		rsp.Data = rest[1:]
		return rsp, nil
	case rest[0] != ' ':
		return rsp, fmt.Errorf("%w: response code %d is followed by %q, want a space", ErrFrame, rsp.Code, rest[0])
	}
	text, after, found := bytes.Cut(rest[1:], []byte{'\n'})
	rsp.Text = string(text)
	if found {
		rsp.Data = after
	}
	return rsp, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Offers are the parameters of an open command and of its response, one
// "name=value,value" per line.
type Offers map[string][]string

// ParseOffers reads offers; lines without a name are skipped.
func ParseOffers(data []byte) Offers {
	o := Offers{}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r"), []byte{'='})
		if len(name) == 0 {
			continue
		}
		var values []string
		if len(value) > 0 {
			for v := range bytes.SplitSeq(value, []byte{','}) {
				values = append(values, string(v))
			}
		}
		o[string(name)] = values
	}
	return o
}

// Has reports whether the offer name lists value.
func (o Offers) Has(name, value string) bool {
	for _, v := range o[name] {
		if v == value {
			return true
		}
	}
	return false
}
