package relp_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/vigilaudit/vigil/sinks/relp"
)

func seedStreams(f *testing.F) {
	for _, s := range []string{
		"", "1 rsp 6 200 OK\n", "0 serverclose 0\n", "1 close 0\n",
		"1 rsp 92 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n",
		"2 rsp 20 500 command disabled\n3 rsp 6 200 OK\n",
		"1 rsp 0 \n", "1 rsp 5 200\n", "1234567890 rsp 0\n", "1 rsp 1234567890 x", "1 r5p 1 x\n", "1 rsp 3 abcX",
	} {
		f.Add([]byte(s))
	}
}

// FuzzReadFrame: whatever the stream, each frame read is as long in the
// stream as its canonical form (AppendFrame, FrameLen) or longer (leading
// zeros), and reads back from that form unchanged; reading stops with
// io.EOF only at the end of the stream, and otherwise with
// io.ErrUnexpectedEOF or ErrFrame.
func FuzzReadFrame(f *testing.F) {
	seedStreams(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		consumed := func() int { return len(data) - r.Len() - br.Buffered() }
		for {
			before := consumed()
			fr, err := relp.ReadFrame(br, 1<<16)
			if err != nil {
				switch {
				case errors.Is(err, io.EOF) && before != len(data):
					t.Fatalf("io.EOF after %d of %d bytes", before, len(data))
				case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, relp.ErrFrame):
					t.Fatalf("error of an unknown kind: %v", err)
				}
				return
			}
			if fr.Txnr < 0 || fr.Txnr > relp.MaxTxnr || fr.Command == "" {
				t.Fatalf("frame out of range: %+v", fr)
			}
			frame := relp.AppendFrame(nil, fr.Txnr, fr.Command, fr.Data)
			if n := relp.FrameLen(fr.Txnr, fr.Command, len(fr.Data)); n != len(frame) {
				t.Fatalf("FrameLen %d for a frame of %d bytes", n, len(frame))
			}
			if took := consumed() - before; took < len(frame) {
				t.Fatalf("frame %q took %d bytes of the stream, less than its canonical form", frame, took)
			}
			again, err := relp.ReadFrame(bufio.NewReader(bytes.NewReader(frame)), 1<<16)
			if err != nil || again.Txnr != fr.Txnr || again.Command != fr.Command || !bytes.Equal(again.Data, fr.Data) {
				t.Fatalf("frame %q reads back as %+v, %v", frame, again, err)
			}
		}
	})
}

// FuzzParseResponse: a response that parses has a three-digit code, and
// its text and data are taken from the input.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"200 OK", "200 OK\nrelp_version=0\ncommands=syslog", "500 command disabled", "200", "200\n", "20", "abc", "200x", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rsp, err := relp.ParseResponse(data)
		if err != nil {
			if !errors.Is(err, relp.ErrFrame) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		if rsp.Code < 0 || rsp.Code > 999 {
			t.Fatalf("code %d", rsp.Code)
		}
		if !bytes.Contains(data, []byte(rsp.Text)) || !bytes.HasSuffix(data, rsp.Data) {
			t.Fatalf("response %+v not taken from %q", rsp, data)
		}
		_ = relp.ParseOffers(rsp.Data)
	})
}
