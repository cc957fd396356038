package acr

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/immutag/immutag/internal/emulator"
)

// Loopback is a Server with the caller-side HTTPS listener tests, the
// benchmarks and the demo serve it on (emulator.ServeLoopbackTLS): the
// server itself owns no listener.
type Loopback struct {
	*Server
	ts *httptest.Server
}

// ServeLoopback serves s over HTTPS on a free 127.0.0.1 port until Close.
// The listener's address is the registry's login server whatever host a
// request names, as a registry's name is fixed however it is reached (a
// proxy in front of it, for one).
func ServeLoopback(s *Server) (*Loopback, error) {
	var login atomic.Pointer[string]
	h := s.Handler()
	ts, err := emulator.ServeLoopbackTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l := login.Load(); l != nil {
			r.Host = *l
		}
		h.ServeHTTP(w, r)
	}))
	if err != nil {
		return nil, fmt.Errorf("acr emulator: %w", err)
	}
	addr := ts.Listener.Addr().String()
	login.Store(&addr)
	return &Loopback{Server: s, ts: ts}, nil
}

// Close stops the listener.
func (l *Loopback) Close() { l.ts.Close() }

// URL is the base URL (https://127.0.0.1:PORT).
func (l *Loopback) URL() string { return l.ts.URL }

// LoginServer is the registry's login server name (127.0.0.1:PORT), which
// is also the token service name and the scope string adapters report.
func (l *Loopback) LoginServer() string { return l.ts.Listener.Addr().String() }

// Client returns an HTTP client that trusts the emulator's certificate.
func (l *Loopback) Client() *http.Client { return l.ts.Client() }

// CACertPEM returns the PEM-encoded certificate clients must trust.
func (l *Loopback) CACertPEM() []byte {
	b, _ := emulator.LoopbackCertificatePEM() // the listener started with it
	return b
}

// WriteCAFile writes CACertPEM to dir and returns the path.
func (l *Loopback) WriteCAFile(dir string) (string, error) {
	p := filepath.Join(dir, "acr-emulator-ca.pem")
	if err := os.WriteFile(p, l.CACertPEM(), 0o600); err != nil {
		return "", fmt.Errorf("acr emulator: write ca file: %w", err)
	}
	return p, nil
}
