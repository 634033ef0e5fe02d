package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs "vigil serve" with args until the test ends and returns
// the bound address. It fails the test if serve does not exit 0.
func startServe(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	addrc := make(chan net.Addr, 1)
	a := &app{stdout: io.Discard, stderr: stderr, listening: func(a net.Addr) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- execute(ctx, a, append([]string{"serve"}, args...)) }()

	var stopOnce sync.Once
	stop = func() {
		stopOnce.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited %d, stderr:\n%s", code, stderr)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("serve did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)

	select {
	case a := <-addrc:
		return a.String(), stderr, stop
	case code := <-done:
		t.Fatalf("serve exited %d before listening, stderr:\n%s", code, stderr)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start listening")
	}
	return "", nil, nil
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func newClient(t *testing.T, tlsConfig *tls.Config) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConfig}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestServe(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	addr, stderr, stop := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json")
	client := newClient(t, nil)
	base := "http://" + addr

	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		t.Errorf("data dir not created: %v", err)
	}

	code, body := get(t, client, base+"/healthz")
	if code != http.StatusOK || body != `{"status":"ok"}`+"\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	code, body = get(t, client, base+"/readyz")
	var rb readyBody
	if err := json.Unmarshal([]byte(body), &rb); code != http.StatusOK || err != nil || rb.Status != "ready" {
		t.Errorf("GET /readyz = %d %q", code, body)
	}
	var names []string
	for _, c := range rb.Components {
		names = append(names, c.Name)
		if c.State != "ready" {
			t.Errorf("component %+v is not ready", c)
		}
	}
	if diff := cmp.Diff([]string{"auth", "data_dir", "log", "store"}, names); diff != "" {
		t.Errorf("/readyz components (-want +got):\n%s", diff)
	}
	if code, _ := get(t, client, base+"/no-such-page"); code != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %d, want 404", code)
	}

	code, body = get(t, client, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		`vigil_build_info{goversion="` + runtime.Version() + `",version="` + readBuildInfo().Version + `"} 1`,
		`vigil_http_requests_total{code="200",route="/healthz"} 1`,
		`vigil_http_requests_total{code="200",route="/readyz"} 1`,
		`vigil_http_requests_total{code="404",route="unmatched"} 1`,
		`vigil_http_request_duration_seconds_count{route="/healthz"} 1`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Removing the data directory makes the server not ready.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, client, base+"/readyz")
	var ready readyBody
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatalf("decode /readyz: %v: %s", err, body)
	}
	if code != http.StatusServiceUnavailable || ready.Status != "not_ready" || ready.Components[1].Name != "data_dir" || ready.Components[1].State != "not_ready" || ready.Components[1].Detail == "" {
		t.Errorf("GET /readyz without data dir = %d %s", code, body)
	}

	stop()
	var started map[string]any
	for line := range strings.Lines(stderr.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		if m["msg"] == "vigil serving" {
			started = m
			break
		}
	}
	for k, want := range map[string]any{"msg": "vigil serving", "addr": addr, "data_dir": dataDir, "log": "file", "store": "duckdb", "tls": false} {
		if started[k] != want {
			t.Errorf("startup log %s = %v, want %v", k, started[k], want)
		}
	}
	if !strings.Contains(stderr.String(), `"msg":"vigil stopped"`) {
		t.Errorf("no stop line in log:\n%s", stderr)
	}
}

func TestServe_ConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, "listen: 127.0.0.1:1\ndata_dir: "+filepath.Join(dir, "from-file")+"\n")
	// --listen overrides the file; data_dir comes from the file.
	addr, _, stop := startServe(t, "--config", path, "--listen", "127.0.0.1:0")
	if strings.HasSuffix(addr, ":1") {
		t.Errorf("listening on %s, want the --listen address", addr)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "from-file")); err != nil {
		t.Errorf("data_dir from the file not used: %v", err)
	}
}

func TestServe_TLS(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := writeTestCert(t, dir)
	path := writeConfig(t, "tls:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n")
	addr, _, _ := startServe(t, "--config", path, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))

	client := newClient(t, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	code, body := get(t, client, "https://"+addr+"/healthz")
	if code != http.StatusOK || body != `{"status":"ok"}`+"\n" {
		t.Errorf("GET /healthz over TLS = %d %q", code, body)
	}
	plain := newClient(t, nil)
	if code, _ := get(t, plain, "http://"+addr+"/healthz"); code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS listener = %d, want 400", code)
	}
}

func TestServe_Errors(t *testing.T) {
	dir := t.TempDir()
	occupied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer occupied.Close()
	tests := []struct {
		name string
		yaml string
		args []string
		want []string // substrings of stderr
	}{
		{
			name: "SinkCAFileMissing",
			yaml: `
sinks:
  - {name: siem, tls: {address: "siem:6514", ca_file: /nonexistent/siem-ca.pem}}
`,
			want: []string{"vigil: sinks[0] (siem): ", "read ca_file: open /nonexistent/siem-ca.pem: no such file or directory\n"},
		},
		{
			name: "UnknownKey",
			yaml: "store:\n  duckdb: {}\n  clickhous: {}\n",
			want: []string{`config line 3: unknown key "store.clickhous" (did you mean "clickhouse"?)`},
		},
		{
			name: "Invalid",
			yaml: "log: {file: {max_bytes: 1MiB, segment_bytes: 2MiB}}\n",
			want: []string{"vigil: invalid config:\n  log.file.segment_bytes: must be smaller than max_bytes\n"},
		},
		{
			name: "MissingConfigFile",
			args: []string{"--config", filepath.Join(dir, "missing.yaml")},
			want: []string{"vigil: read config: open ", "missing.yaml: no such file or directory\n"},
		},
		{
			name: "MissingTLSFiles",
			yaml: "tls: {cert_file: " + filepath.Join(dir, "c.pem") + ", key_file: " + filepath.Join(dir, "k.pem") + "}\n",
			want: []string{"vigil: load tls certificate: open "},
		},
		{
			name: "AddressInUse",
			args: []string{"--listen", occupied.Addr().String()},
			want: []string{"vigil: start http listener: listen tcp " + occupied.Addr().String() + ": bind: address already in use\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", filepath.Join(dir, "data")}, tt.args...)
			if tt.yaml != "" {
				args = append(args, "--config", writeConfig(t, tt.yaml))
			}
			code, _, stderr := runCmd(t, args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(stderr, "vigil: "); n != 1 {
				t.Errorf("error printed %d times:\n%s", n, stderr)
			}
		})
	}
}

func TestServer_GracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	srv := newServer(ln, h, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()

	client := newClient(t, nil)
	type result struct {
		Code int
		Body string
		Err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			resc <- result{Err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, string(body), err}
	}()
	<-entered
	cancel()

	select {
	case err := <-runErr:
		t.Fatalf("Run returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if diff := cmp.Diff(result{http.StatusOK, "done", nil}, <-resc, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("in-flight request (-want +got):\n%s", diff)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts connections after Run returned")
	}
}

func TestServer_ShutdownTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := newServer(ln, h, nil, slog.New(slog.DiscardHandler))
	srv.shutdownTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()

	client := newClient(t, nil)
	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	err = <-runErr
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "shut down http server: ") {
		t.Errorf("Run = %v, want a shutdown deadline error", err)
	}
	close(release)
	<-reqDone
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(rd *readiness)
		status int
		want   readyBody
	}{
		{
			name:   "Ready",
			setup:  func(rd *readiness) { rd.add("log", func(context.Context) error { return nil }) },
			status: http.StatusOK,
			want:   readyBody{Status: "ready", Components: []component{{Name: "log", State: "ready"}}},
		},
		{
			name: "StoreAndSinkDownDegrade",
			setup: func(rd *readiness) {
				rd.add("log", func(context.Context) error { return nil })
				rd.addDegraded("store", func(context.Context) error { return errors.New("catching up") })
				rd.addDegraded("sink.siem", func(context.Context) error { return errors.New("dial siem:6514: connection refused") })
			},
			status: http.StatusOK,
			want: readyBody{Status: "degraded", Components: []component{
				{Name: "log", State: "ready"},
				{Name: "sink.siem", State: "degraded", Detail: "dial siem:6514: connection refused"},
				{Name: "store", State: "degraded", Detail: "catching up"},
			}},
		},
		{
			name: "FullLogIsNotReady",
			setup: func(rd *readiness) {
				rd.add("log", func(context.Context) error { return errors.New("log full") })
				rd.addDegraded("store", func(context.Context) error { return errors.New("catching up") })
			},
			status: http.StatusServiceUnavailable,
			want: readyBody{Status: "not_ready", Components: []component{
				{Name: "log", State: "not_ready", Detail: "log full"},
				{Name: "store", State: "degraded", Detail: "catching up"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := newReadiness()
			tt.setup(rd)
			h := newRouter(prometheus.NewRegistry(), rd)
			req, _ := http.NewRequest(http.MethodGet, "/readyz", nil)
			w := &responseRecorder{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.code != tt.status {
				t.Errorf("status = %d, want %d", w.code, tt.status)
			}
			var got readyBody
			if err := json.Unmarshal(w.body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// responseRecorder is the little of httptest.ResponseRecorder the
// readiness test needs, without a server.
type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }

func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *responseRecorder) WriteHeader(code int) { r.code = code }

// writeTestCert writes a self-signed certificate for 127.0.0.1 into dir
// and returns a pool that trusts it.
func writeTestCert(t *testing.T, dir string) (pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "server.pem")
	keyFile = filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pool, certFile, keyFile
}

// TestServe_Postgres runs serve with its metadata database in PostgreSQL:
// credentials made there before the start authenticate, the log names
// the database without its DSN.
func TestServe_Postgres(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		if backend.Dialect != metadb.Postgres {
			t.Skip("TestServe runs on the SQLite default")
		}
		db := backend.New(t)
		s, err := auth.New(context.Background(), db.Open(t))
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := s.AddToken(context.Background(), auth.LocalCaller, auth.RoleAdmin, "ops")
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("TEST_METADB_DSN", db.DSN())
		path := writeConfig(t, "content:\n  postgres:\n    dsn: ${TEST_METADB_DSN}\n")
		addr, stderr, stop := startServe(t, "--config", path, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data"), "--log-format", "json")
		client := newClient(t, nil)
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/audit/v1/admin/tokens", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"ops"`) {
			t.Errorf("GET /audit/v1/admin/tokens = %d %s", resp.StatusCode, body)
		}
		if code, body := get(t, client, "http://"+addr+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
			t.Errorf("GET /readyz = %d %s", code, body)
		}
		stop()
		logs := stderr.String()
		if strings.Contains(logs, db.DSN()) || strings.Contains(logs, "vigil:vigil@") {
			t.Errorf("the log holds the DSN:\n%s", logs)
		}
		if !strings.Contains(logs, `"msg":"metadata database","kind":"postgres"`) {
			t.Errorf("the log does not name the metadata database:\n%s", logs)
		}
	})
}
