package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SyslogNG starts syslog-ng with opts' inputs, or skips the test when
// VIGIL_TEST_SYSLOG_NG is unset. It runs in the foreground without
// capabilities (-F --no-caps), with its own config, persist file, pid
// file and control socket, until the test ends.
func SyslogNG(t testing.TB, opts Options) *Peer {
	t.Helper()
	return start(t, syslogNG, opts)
}

var syslogNG = flavor{
	name:     "syslog-ng",
	env:      "VIGIL_TEST_SYSLOG_NG",
	binaries: []string{"syslog-ng"},
	defaults: []Input{{"tcp", Lines}, {"tls", LinesTLS}, {"syslog", Syslog}},
	setup:    setupSyslogNG,
}

func setupSyslogNG(p *Peer, bin string, opts Options) error {
	conf, err := syslogNGConfig(p, opts)
	if err != nil {
		return err
	}
	cfgFile, err := p.writeConfig(conf)
	if err != nil {
		return err
	}
	// An unpacked package (R/usr/sbin/syslog-ng) finds its library and
	// modules only when told where they are.
	usr := filepath.Dir(filepath.Dir(bin))
	libDir := filepath.Join(usr, "lib", "syslog-ng")
	modDirs, _ := filepath.Glob(filepath.Join(libDir, "*", "libafsocket.so"))
	args := []string{"-F", "--no-caps", "--cfgfile=" + cfgFile,
		"--persist-file=" + filepath.Join(p.dir, "syslog-ng.persist"),
		"--pidfile=" + filepath.Join(p.dir, "syslog-ng.pid"),
		"--control=" + filepath.Join(p.dir, "syslog-ng.ctl"),
		"--stderr",
	}
	if len(modDirs) > 0 {
		args = append(args, "--module-path="+filepath.Dir(modDirs[0]))
	}
	p.command = func() *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = os.Environ()
		if isDir(libDir) {
			cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+joinPath(libDir, os.Getenv("LD_LIBRARY_PATH")))
		}
		return cmd
	}
	return nil
}

func syslogNGConfig(p *Peer, opts Options) (string, error) {
	var b strings.Builder
	b.WriteString("@version: 3.38\n")
	b.WriteString("options {\n  stats_freq(0);\n  keep_hostname(yes);\n  use_dns(no);\n  dns_cache(no);\n")
	if opts.MaxMessageSize > 0 {
		fmt.Fprintf(&b, "  log_msg_size(%d);\n", opts.MaxMessageSize)
	}
	b.WriteString("};\n")
	tlsOpts := fmt.Sprintf("tls(key-file(%q) cert-file(%q) peer-verify(optional-untrusted))", p.keyFile(), p.certFile())
	for i, in := range p.inputs {
		var driver, flags string
		switch in.Kind {
		case Lines, LinesTLS:
			driver, flags = "network", "no-parse"
		case Syslog, SyslogTLS:
			driver = "syslog"
		default:
			return "", fmt.Errorf("syslog-ng has no input of kind %q", in.Kind)
		}
		if opts.Raw {
			flags = strings.TrimPrefix(flags+" store-raw-message", " ")
		}
		transport := `transport("tcp")`
		if in.Kind.tls() {
			transport = `transport("tls") ` + tlsOpts
		}
		if flags != "" {
			flags = " flags(" + strings.ReplaceAll(flags, " ", ", ") + ")"
		}
		template := `"$MSG\n"`
		if opts.Raw && driver == "syslog" {
			template = `"$RAWMSG\n"`
		}
		fmt.Fprintf(&b, "source s_%d { %s(ip(\"127.0.0.1\") port(%d) %s max-connections(10) log-iw-size(1000)%s); };\n", i, driver, p.port(i), transport, flags)
		fmt.Fprintf(&b, "destination d_%d { file(%q template(%s)); };\n", i, p.outFile(i), template)
		fmt.Fprintf(&b, "log { source(s_%d); destination(d_%d); };\n", i, i)
	}
	return b.String(), nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func joinPath(dir, list string) string {
	if list == "" {
		return dir
	}
	return dir + string(os.PathListSeparator) + list
}
