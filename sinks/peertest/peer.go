package peertest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// Kind is what an input speaks.
type Kind string

// The kinds of input.
const (
	// Lines is one message per line over plain TCP, taken as it is (no
	// syslog parsing): what the tcp sink sends.
	Lines Kind = "lines"
	// LinesTLS is Lines over TLS: what the tls sink sends.
	LinesTLS Kind = "lines-tls"
	// Syslog is RFC 5424 messages in RFC 6587 octet-counted frames over
	// plain TCP: what the syslog sink sends.
	Syslog Kind = "syslog"
	// SyslogTLS is Syslog over TLS.
	SyslogTLS Kind = "syslog-tls"
	// RELP is the Reliable Event Logging Protocol over plain TCP (rsyslog
	// only).
	RELP Kind = "relp"
	// RELPTLS is RELP over TLS (rsyslog only).
	RELPTLS Kind = "relp-tls"
)

func (k Kind) tls() bool { return k == LinesTLS || k == SyslogTLS || k == RELPTLS }

// Input is one listening port of a receiver.
type Input struct {
	// Name names the input for Addr and LinesOf, and its output file.
	Name string
	// Kind is what it speaks.
	Kind Kind
}

// Options describes a receiver. The zero value is the receiver's usual
// inputs with its default limits.
type Options struct {
	// Inputs are the receiver's inputs. Empty: for syslog-ng, "tcp"
	// (Lines), "tls" (LinesTLS) and "syslog" (Syslog); for rsyslog, "tcp"
	// (Lines), "syslog" (Syslog) and "relp" (RELP).
	Inputs []Input
	// MaxMessageSize is the receiver's message size limit in bytes
	// (syslog-ng's log_msg_size, rsyslog's maxMessageSize). Zero keeps
	// the receiver's default: 65536 for syslog-ng, 8096 for rsyslog.
	MaxMessageSize int
	// Raw writes each message as it came off the wire (syslog-ng's
	// $RAWMSG, rsyslog's %rawmsg%) instead of its body. For Lines inputs
	// the two are the same.
	Raw bool
	// CA issues the server certificate of TLS inputs. Nil: a new one.
	CA *sinktest.CA
	// Direct (rsyslog only) processes each message before its input
	// takes the next (a Direct main queue): an imrelp acknowledgement
	// then means the message was written to its output file, so a
	// receiver killed with SIGKILL loses nothing it acknowledged.
	Direct bool
}

// Peer is a running receiver.
type Peer struct {
	t      testing.TB
	name   string // "syslog-ng" or "rsyslog", for messages
	dir    string
	inputs []Input
	ports  map[string]int
	caFile string
	ca     *sinktest.CA
	// command returns the command line that runs the receiver in the
	// foreground.
	command func() *exec.Cmd
	logFile string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	starts int
}

// flavor is what differs between receivers.
type flavor struct {
	name     string
	env      string
	binaries []string // names to look for when env is 1
	defaults []Input
	// setup writes the receiver's config under p.dir and sets p.command.
	setup func(p *Peer, bin string, opts Options) error
}

func start(t testing.TB, f flavor, opts Options) *Peer {
	t.Helper()
	bin := binary(t, f)
	inputs := opts.Inputs
	if len(inputs) == 0 {
		inputs = f.defaults
	}
	seen := map[string]bool{}
	for _, in := range inputs {
		if in.Name == "" || strings.ContainsAny(in.Name, `/\"' `) || seen[in.Name] {
			t.Fatalf("peertest: input name %q: empty, repeated or not a plain word", in.Name)
		}
		seen[in.Name] = true
	}
	p := &Peer{t: t, name: f.name, dir: t.TempDir(), inputs: inputs, ca: opts.CA}
	p.logFile = filepath.Join(p.dir, f.name+".log")
	if p.ca == nil {
		p.ca = sinktest.NewCA(t, "peertest "+f.name)
	}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	if err := os.WriteFile(p.caFile, p.ca.PEM(), 0o600); err != nil {
		t.Fatalf("peertest: %v", err)
	}
	if err := p.writeServerCert(); err != nil {
		t.Fatalf("peertest: %v", err)
	}
	// A free port can be taken by someone else before the receiver
	// binds it: try again with new ones.
	var err error
	for try := 0; try < 3; try++ {
		if p.ports, err = freePorts(len(inputs)); err != nil {
			t.Fatalf("peertest: %v", err)
		}
		if err = f.setup(p, bin, opts); err != nil {
			t.Fatalf("peertest: %v", err)
		}
		if err = p.startOnce(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	t.Cleanup(func() {
		if err := p.stop(syscall.SIGTERM); err != nil {
			t.Errorf("peertest: %v", err)
		}
	})
	return p
}

// binary finds the receiver's binary from its variable, or skips.
func binary(t testing.TB, f flavor) string {
	t.Helper()
	v := os.Getenv(f.env)
	if v == "" {
		t.Skipf("%s is not set: set it to the path of %s (or 1 to find it on PATH) to test against a real %s", f.env, f.binaries[0], f.name)
	}
	if v != "1" {
		if _, err := os.Stat(v); err != nil {
			t.Fatalf("peertest: %s=%s: %v", f.env, v, err)
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			t.Fatalf("peertest: %s: %v", f.env, err)
		}
		return abs
	}
	for _, name := range f.binaries {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
		// sbin is often not on a test's PATH.
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
			if path := filepath.Join(dir, name); isFile(path) {
				return path
			}
		}
	}
	t.Fatalf("peertest: %s=1 but %s is neither on PATH nor in /usr/sbin", f.env, f.binaries[0])
	return ""
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago.
func freePorts(n int) (map[string]int, error) {
	ports := map[string]int{}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports[strconv.Itoa(i)] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// port returns the port of input i (by position).
func (p *Peer) port(i int) int { return p.ports[strconv.Itoa(i)] }

func (p *Peer) index(input string) int {
	for i, in := range p.inputs {
		if in.Name == input {
			return i
		}
	}
	p.t.Fatalf("peertest: %s has no input %q", p.name, input)
	return -1
}

// Addr returns the host:port of input.
func (p *Peer) Addr(input string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port(p.index(input))))
}

// CA returns the CA that issued the TLS inputs' certificate.
func (p *Peer) CA() *sinktest.CA { return p.ca }

// CAFile returns the path of the CA's certificate in PEM, for a sink's
// ca_file.
func (p *Peer) CAFile() string { return p.caFile }

// Dir returns the receiver's directory (config, state, output, log).
func (p *Peer) Dir() string { return p.dir }

// Log returns what the receiver printed so far, across restarts.
func (p *Peer) Log() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// Starts says how many times the receiver was started.
func (p *Peer) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

func (p *Peer) outFile(i int) string {
	return filepath.Join(p.dir, "out-"+p.inputs[i].Name+".log")
}

// writeConfig writes the receiver's config file, NAME.conf in its
// directory, and returns its path.
func (p *Peer) writeConfig(conf string) (string, error) {
	path := filepath.Join(p.dir, p.name+".conf")
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

func (p *Peer) certFile() string { return filepath.Join(p.dir, "server.pem") }
func (p *Peer) keyFile() string  { return filepath.Join(p.dir, "server.key") }

// writeServerCert writes a server certificate of p.ca and its key.
func (p *Peer) writeServerCert() error {
	cert := p.ca.ServerCertificate(p.t)
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("marshal server key: %w", err)
	}
	var chain bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if err := os.WriteFile(p.certFile(), chain.Bytes(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(p.keyFile(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
}

// Lines returns the lines every input wrote so far, input after input
// in the order of Options.Inputs. A line still being written is left
// out.
func (p *Peer) Lines() [][]byte {
	var all [][]byte
	for i := range p.inputs {
		all = append(all, readLines(p.outFile(i))...)
	}
	return all
}

// LinesOf returns the lines input wrote so far.
func (p *Peer) LinesOf(input string) [][]byte {
	return readLines(p.outFile(p.index(input)))
}

// Size returns how many bytes input wrote so far: a cheap sign of
// progress, where Lines would read everything.
func (p *Peer) Size(input string) int64 {
	fi, err := os.Stat(p.outFile(p.index(input)))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// WaitLines waits until the inputs wrote n lines in all and returns them;
// it fails the test after timeout.
func (p *Peer) WaitLines(n int, timeout time.Duration) [][]byte {
	p.t.Helper()
	return p.wait("all inputs", n, timeout, p.Lines)
}

// WaitLinesOf waits until input wrote n lines and returns them; it fails
// the test after timeout.
func (p *Peer) WaitLinesOf(input string, n int, timeout time.Duration) [][]byte {
	p.t.Helper()
	i := p.index(input)
	return p.wait("input "+input, n, timeout, func() [][]byte { return readLines(p.outFile(i)) })
}

func (p *Peer) wait(what string, n int, timeout time.Duration, lines func() [][]byte) [][]byte {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := lines()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("peertest: %s wrote %d lines of %s after %v, want %d; its log:\n%s", p.name, len(got), what, timeout, n, tail(p.Log(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLines(path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines [][]byte
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			break // being written
		}
		lines = append(lines, line)
		b = rest
	}
	return lines
}

// Restart stops the receiver with SIGTERM, waits for it to exit and starts
// it again on the same ports.
func (p *Peer) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

// Kill stops the receiver with SIGKILL and starts it again on the same
// ports.
func (p *Peer) Kill() {
	p.t.Helper()
	if err := p.stop(syscall.SIGKILL); err != nil {
		p.t.Fatalf("peertest: %v", err)
	}
	p.Start()
}

// Stop stops the receiver with SIGTERM and waits for it to exit. Its ports
// refuse connections until Start.
func (p *Peer) Stop() {
	p.t.Helper()
	if err := p.stop(syscall.SIGTERM); err != nil {
		p.t.Fatalf("peertest: %v", err)
	}
}

// Start starts a stopped receiver again on its ports and waits until they
// accept connections. It does nothing to a running one.
func (p *Peer) Start() {
	p.t.Helper()
	var err error
	// The ports were the receiver's a moment ago; a port in TIME_WAIT
	// or briefly held by another process clears soon.
	for try := 0; try < 5; try++ {
		if err = p.startOnce(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.t.Fatalf("peertest: %v", err)
}

// startOnce starts the receiver and waits until every port accepts.
func (p *Peer) startOnce() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- peertest: start %d\n", p.starts+1)
	cmd := p.command()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = p.dir
	// Its own process group: a ^C to the test does not reach it first,
	// and it never outlives the test by holding the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.starts++
	deadline := time.Now().Add(30 * time.Second)
	for i := range p.inputs {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port(i)))
		for {
			select {
			case <-exited:
				return fmt.Errorf("%s exited while starting (%s); its log:\n%s", p.name, cmd.ProcessState, tail(p.Log(), 30))
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("%s does not accept on %s (%v); its log:\n%s", p.name, addr, err, tail(p.Log(), 30))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.cmd, p.exited = cmd, exited
	return nil
}

// stop sends sig to the receiver and waits for it to exit; it does
// nothing to a stopped one.
func (p *Peer) stop(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	cmd, exited := p.cmd, p.exited
	p.cmd, p.exited = nil, nil
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("%s did not exit within 30s of %v; killed it", p.name, sig)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
