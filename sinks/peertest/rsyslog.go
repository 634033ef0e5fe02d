package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Rsyslog starts rsyslogd with opts' inputs, or skips the test when
// VIGIL_TEST_RSYSLOG is unset. It runs in the foreground (-n) with its
// own config, pid file and work directory, until the test ends. Lines and
// Syslog inputs are imtcp (which tells newline from octet-counted framing
// by itself), RELP inputs imrelp (Debian's rsyslog-relp).
func Rsyslog(t testing.TB, opts Options) *Peer {
	t.Helper()
	return start(t, rsyslog, opts)
}

var rsyslog = flavor{
	name:     "rsyslog",
	env:      "VIGIL_TEST_RSYSLOG",
	binaries: []string{"rsyslogd"},
	defaults: []Input{{"tcp", Lines}, {"syslog", Syslog}, {"relp", RELP}},
	setup:    setupRsyslog,
}

// rsyslogModules returns the folder of rsyslog's modules for the binary
// bin: R/usr/lib/<arch>/rsyslog for R/usr/sbin/rsyslogd.
func rsyslogModules(bin string) (string, error) {
	usr := filepath.Dir(filepath.Dir(bin))
	for _, pattern := range []string{"lib/*/rsyslog/imtcp.so", "lib/rsyslog/imtcp.so", "lib64/rsyslog/imtcp.so"} {
		if m, _ := filepath.Glob(filepath.Join(usr, pattern)); len(m) > 0 {
			return filepath.Dir(m[0]), nil
		}
	}
	return "", fmt.Errorf("rsyslog's modules (imtcp.so) are not under %s/lib", usr)
}

func setupRsyslog(p *Peer, bin string, opts Options) error {
	modDir, err := rsyslogModules(bin)
	if err != nil {
		return err
	}
	work := filepath.Join(p.dir, "rsyslog-work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	conf, err := rsyslogConfig(p, opts, modDir, work)
	if err != nil {
		return err
	}
	cfgFile, err := p.writeConfig(conf)
	if err != nil {
		return err
	}
	args := []string{"-n", "-f", cfgFile, "-i", filepath.Join(p.dir, "rsyslog.pid"), "-M", modDir}
	p.command = func() *exec.Cmd { return exec.Command(bin, args...) }
	return nil
}

func rsyslogConfig(p *Peer, opts Options, modDir, work string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "global(workDirectory=%q net.enableDNS=\"off\"", work)
	if opts.MaxMessageSize > 0 {
		fmt.Fprintf(&b, " maxMessageSize=\"%d\"", opts.MaxMessageSize)
	}
	b.WriteString(")\n")
	// On SIGTERM rsyslog gives its queue 1.5s to drain, then drops what
	// is left; a loaded test machine can need longer, and a message
	// rsyslog read and dropped is one no sender can tell it lost. With
	// Direct there is no queue: each message is written before its input
	// takes (and acknowledges) it.
	if opts.Direct {
		b.WriteString("main_queue(queue.type=\"Direct\")\n")
	} else {
		b.WriteString("main_queue(queue.timeoutShutdown=\"20000\" queue.timeoutActionCompletion=\"20000\")\n")
	}
	var tcp, relp bool
	for _, in := range p.inputs {
		switch in.Kind {
		case Lines, Syslog:
			tcp = true
		case RELP, RELPTLS:
			relp = true
		default:
			return "", fmt.Errorf("rsyslog has no input of kind %q here", in.Kind)
		}
	}
	if tcp {
		b.WriteString("module(load=\"imtcp\" maxSessions=\"1000\")\n")
	}
	if relp {
		if !isFile(filepath.Join(modDir, "imrelp.so")) {
			return "", fmt.Errorf("rsyslog's imrelp module is not in %s (Debian package rsyslog-relp)", modDir)
		}
		b.WriteString("module(load=\"imrelp\")\n")
	}
	// rsyslog's own messages (the default ruleset has only them) go to
	// its log, beside what it prints.
	fmt.Fprintf(&b, "action(type=\"omfile\" file=%q template=\"RSYSLOG_FileFormat\")\n", p.logFile)
	// Lines inputs keep the message as received: rsyslog would read a
	// JSON line as a malformed RFC 3164 message and cut it.
	b.WriteString("template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n")
	b.WriteString("template(name=\"msg\" type=\"string\" string=\"%msg%\\n\")\n")
	for i, in := range p.inputs {
		template := "msg"
		if opts.Raw || in.Kind == Lines {
			template = "raw"
		}
		fmt.Fprintf(&b, "ruleset(name=\"r_%d\") { action(type=\"omfile\" file=%q template=%q) }\n", i, p.outFile(i), template)
		switch in.Kind {
		case Lines, Syslog:
			fmt.Fprintf(&b, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"r_%d\")\n", p.port(i), i)
		case RELP:
			fmt.Fprintf(&b, "input(type=\"imrelp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"r_%d\")\n", p.port(i), i)
		case RELPTLS:
			fmt.Fprintf(&b, "input(type=\"imrelp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"r_%d\" tls=\"on\" tls.authMode=\"certvalid\" tls.caCert=%q tls.myCert=%q tls.myPrivKey=%q)\n",
				p.port(i), i, p.caFile, p.certFile(), p.keyFile())
		}
	}
	return b.String(), nil
}
