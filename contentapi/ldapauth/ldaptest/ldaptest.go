// Package ldaptest runs a real LDAP directory for tests: Debian's slapd,
// started as the test's child process with an mdb database in a
// temporary folder, listening on 127.0.0.1 with StartTLS offered.
// VIGIL_TEST_SLAPD names the slapd binary; without it the tests skip.
package ldaptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvSlapd names the slapd binary the tests start.
const EnvSlapd = "VIGIL_TEST_SLAPD"

// The directory's layout.
const (
	BaseDN     = "dc=example,dc=com"
	ServiceDN  = "cn=vigil,ou=services," + BaseDN
	AdminGroup = "cn=admins,ou=groups," + BaseDN
	// ServicePassword is the service account's password.
	ServicePassword = "svc-bind-Pw93kk"
)

// User is a person entry, uid=UID,ou=people,BaseDN.
type User struct {
	UID, Email, Password, GivenName, Surname string
	// Admin puts the user in AdminGroup.
	Admin bool
}

// DN is the user's entry's DN.
func (u User) DN() string { return "uid=" + u.UID + ",ou=people," + BaseDN }

// Server is a running directory.
type Server struct {
	// URL is ldap://127.0.0.1:PORT.
	URL string
	// CAFile is the PEM of the CA that signed the server's certificate,
	// for StartTLS.
	CAFile string
}

// Start runs slapd with users until the test ends; it skips the test
// when EnvSlapd is unset.
func Start(t testing.TB, users ...User) Server {
	t.Helper()
	slapd := os.Getenv(EnvSlapd)
	if slapd == "" {
		t.Skip(EnvSlapd + " is unset: no LDAP server to test against")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile := writeCerts(t, dir)
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir, caFile, certFile, keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(ldif, []byte(entries(users)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapd, "-Ta", "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	addr := freePort(t)
	log, err := os.Create(filepath.Join(dir, "slapd.log"))
	if err != nil {
		t.Fatal(err)
	}
	// -d 0: stay in the foreground, the test's child.
	cmd := exec.Command(slapd, "-f", conf, "-h", "ldap://"+addr+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = log.Close()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-done:
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("slapd exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return Server{URL: "ldap://" + addr, CAFile: caFile}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func slapdConf(dir, ca, cert, key string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
TLSCACertificateFile %[2]s
TLSCertificateFile %[3]s
TLSCertificateKeyFile %[4]s
database mdb
suffix "%[5]s"
directory %[1]s/db
maxsize 10485760
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`, dir, ca, cert, key, BaseDN)
}

func entries(users []User) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", BaseDN)
	for _, ou := range []string{"people", "services", "groups"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, BaseDN, ou)
	}
	fmt.Fprintf(&b, "dn: %s\nobjectClass: person\ncn: vigil\nsn: service\nuserPassword: %s\n\n", ServiceDN, ServicePassword)
	var admins []string
	for _, u := range users {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s %s\nsn: %s\nmail: %s\nuserPassword: %s\n",
			u.DN(), u.UID, u.GivenName, u.Surname, orDash(u.Surname), u.Email, u.Password)
		if u.GivenName != "" {
			fmt.Fprintf(&b, "givenName: %s\n", u.GivenName)
		}
		b.WriteString("\n")
		if u.Admin {
			admins = append(admins, u.DN())
		}
	}
	// groupOfNames needs a member: the service stands in for none.
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: admins\nmember: %s\n", AdminGroup, ServiceDN)
	for _, dn := range admins {
		fmt.Fprintf(&b, "member: %s\n", dn)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeCerts makes a CA and a certificate for 127.0.0.1 that it signs.
func writeCerts(t testing.TB, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ldaptest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, block := range map[string]*pem.Block{
		ca: {Type: "CERTIFICATE", Bytes: caDER}, cert: {Type: "CERTIFICATE", Bytes: srvDER}, key: {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}
