package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/auth"
)

// certAuthority issues certificates for the test.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T) *certAuthority {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devices CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &certAuthority{cert: cert, key: key}
}

func (ca *certAuthority) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestBatch_ClientCertificate submits with a device's client certificate
// (common name = device id) instead of a bearer token.
func TestBatch_ClientCertificate(t *testing.T) {
	f := newFixture(t, Config{})
	ca := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	r := chi.NewRouter()
	mount(r, NewHandler(f.ingester, f.store), f.store)
	srv := httptest.NewUnstartedServer(r)
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()

	post := func(cert *tls.Certificate) *http.Response {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/audit/v1/events", "application/x-ndjson", strings.NewReader(string(signin(7))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := ca.issue(t, f.deviceID)
	if resp := post(&good); resp.StatusCode != http.StatusAccepted {
		t.Errorf("device certificate: %d", resp.StatusCode)
	}
	if last := f.log.recs[len(f.log.recs)-1]; !strings.Contains(string(last.Value), `"device_id":"`+f.deviceID+`"`) {
		t.Errorf("submitter not from the certificate: %s", last.Value)
	}
	if resp := post(nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no certificate: %d", resp.StatusCode)
	}
	unknown := ca.issue(t, "00000000000000000000000000000000")
	if resp := post(&unknown); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("certificate of an unknown device: %d", resp.StatusCode)
	}
	if err := f.store.RevokeDevice(context.Background(), auth.LocalCaller, f.deviceID); err != nil {
		t.Fatal(err)
	}
	if resp := post(&good); resp.StatusCode != http.StatusForbidden {
		t.Errorf("certificate of a revoked device: %d", resp.StatusCode)
	}
}
