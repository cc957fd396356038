package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// LoopbackCertificate returns this process's self-signed certificate for
// 127.0.0.1, ::1 and localhost, valid for a day, generated with a fresh key
// on first use. An emulator serving TLS uses it instead of
// net/http/httptest's built-in certificate, whose private key is public: a
// client told to trust that one would trust anyone who copied it. Every
// emulator of one run shares it, so a client that trusts one (the sandbox's
// CA file) trusts them all.
func LoopbackCertificate() (tls.Certificate, error) {
	loopback.once.Do(func() { loopback.cert, loopback.err = newLoopbackCertificate() })
	return loopback.cert, loopback.err
}

var loopback struct {
	once sync.Once
	cert tls.Certificate
	err  error
}

func newLoopbackCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("emulator certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("emulator certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "immutag emulator"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("emulator certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("emulator certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServeLoopbackTLS serves h over HTTPS, HTTP/2 included, on a free
// 127.0.0.1 port with LoopbackCertificate, until the caller closes the
// server. Its Client trusts the certificate; its listener's address is
// the host clients name (ACR's login server).
func ServeLoopbackTLS(h http.Handler) (*httptest.Server, error) {
	cert, err := LoopbackCertificate()
	if err != nil {
		return nil, err
	}
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	// StartTLS and Client use the certificate given here instead of
	// httptest's built-in one, whose key is public.
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ts.StartTLS()
	return ts, nil
}

// LoopbackCertificatePEM is LoopbackCertificate's certificate, PEM-encoded:
// what a client told to trust the emulators loads (a provider's
// tls.ca_file).
func LoopbackCertificatePEM() ([]byte, error) {
	cert, err := LoopbackCertificate()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw}), nil
}
