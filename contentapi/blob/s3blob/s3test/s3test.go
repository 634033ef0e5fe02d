// Package s3test starts a real S3 server for tests: versitygw with its
// posix backend, a separately built binary named by VIGIL_TEST_S3, run
// as a child process on a free port with its data in a temporary
// directory. Tests that need it skip when the variable is unset; CI
// sets it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Env names the variable that holds the path of the versitygw binary.
const Env = "VIGIL_TEST_S3"

// Region is the server's region.
const Region = "us-east-1"

// healthPath is the path the server answers 200 on once it serves.
const healthPath = "/vigil-health"

// Server is a running S3 server.
type Server struct {
	t   testing.TB
	bin string
	dir string
	log string
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are its root account's credentials.
	AccessKey, SecretKey string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a server, or skips the test when VIGIL_TEST_S3 is unset,
// and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		t.Skipf("%s is not set: set it to the path of a versitygw binary (go install github.com/versity/versitygw/cmd/versitygw) to test against a real S3 server", Env)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatalf("s3test: %s: %v", Env, err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("s3test: %s=%s: %v", Env, bin, err)
	}
	dir := t.TempDir()
	s := &Server{
		t:         t,
		bin:       abs,
		dir:       dir,
		log:       filepath.Join(dir, "versitygw.log"),
		AccessKey: "vigil" + randomHex(4),
		SecretKey: randomHex(20),
	}
	if err := os.Mkdir(s.dataDir(), 0o700); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	// A free port can be taken by someone else before the server binds
	// it: try again with another.
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.startOnce(port); err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("s3test: %v\n%s", err, s.Log())
		}
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.Endpoint[len("http://"):] }

// Log returns what the server printed so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func (s *Server) startOnce(port int) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--port", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"--region", Region,
		"--health", healthPath,
		"posix", s.dataDir())
	// The credentials go by environment, not on the command line; no
	// other setting of the test's environment reaches the server.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.dir,
		"ROOT_ACCESS_KEY=" + s.AccessKey,
		"ROOT_SECRET_KEY=" + s.SecretKey,
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	url := s.Endpoint + healthPath
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start (%v)", cmd.ProcessState)
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return errors.New("versitygw did not answer its health check within 30s")
}

// Stop stops the server and waits for it to exit; stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Client returns a client of the server with the root credentials.
func (s *Server) Client() *minio.Client {
	s.t.Helper()
	c, err := minio.New(s.Addr(), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		s.t.Fatalf("s3test: client: %v", err)
	}
	return c
}

// Bucket creates a new bucket with a unique name and returns the name.
func (s *Server) Bucket() string {
	s.t.Helper()
	name := "vigil-" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		s.t.Fatalf("s3test: make bucket %s: %v", name, err)
	}
	return name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
