package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/config"
)

// Redacted replaces secret values in logs.
const Redacted = "REDACTED"

// DebugTransport logs one debug line per HTTP exchange: method, URL with
// secret query parameters redacted, status, duration and the request
// headers with credentials redacted. It logs nothing unless the logger has
// debug enabled.
type DebugTransport struct {
	Base   http.RoundTripper // nil = http.DefaultTransport
	Logger *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (t *DebugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Logger == nil || !t.Logger.Enabled(req.Context(), slog.LevelDebug) {
		return base.RoundTrip(req)
	}
	start := time.Now()
	resp, err := base.RoundTrip(req)
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("url", RedactURL(req.URL)),
		slog.Duration("duration", time.Since(start)),
		slog.Any("request_headers", RedactHeaders(req.Header)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redactText(err.Error(), req.URL)))
	} else {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	t.Logger.LogAttrs(req.Context(), slog.LevelDebug, "http", attrs...)
	return resp, err
}

// secretWords mark header and query parameter names whose values are
// credentials.
var secretWords = []string{"auth", "token", "secret", "password", "passwd", "key", "session", "cookie", "signature", "credential", "sig", "code", "jwt"}

// IsSecretName reports whether a header or query parameter name looks like
// it carries a credential.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "x-ratelimit") || n == "content-type" || n == "accept" {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RedactHeaders returns a copy of h with credential-bearing values replaced.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if IsSecretName(k) {
			out[k] = []string{Redacted}
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// RedactURL renders u with user info dropped and secret query values
// replaced.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	cp := *u
	cp.User = nil
	if cp.RawQuery != "" {
		q := cp.Query()
		changed := false
		for k := range q {
			if IsSecretName(k) {
				q[k] = []string{Redacted}
				changed = true
			}
		}
		if changed {
			cp.RawQuery = q.Encode()
		}
	}
	return cp.String()
}

// redactText scrubs a URL embedded in an error text (url.Error repeats it).
func redactText(s string, u *url.URL) string {
	if u == nil {
		return s
	}
	return strings.ReplaceAll(s, u.String(), RedactURL(u))
}

// transportFor builds the RoundTripper a Client wraps: the given client's
// transport, with the TLS options applied where that transport is the
// standard one.
func transportFor(hc *http.Client, t config.TLS) (http.RoundTripper, error) {
	var rt http.RoundTripper = http.DefaultTransport
	if hc != nil && hc.Transport != nil {
		rt = hc.Transport
	}
	if t.CAFile == "" && !t.InsecureSkipVerify {
		return rt, nil
	}
	ht, ok := rt.(*http.Transport)
	if !ok {
		return rt, nil
	}
	ht = ht.Clone()
	cfg, err := TLSConfig(t)
	if err != nil {
		return rt, err
	}
	ht.TLSClientConfig = cfg
	return ht, nil
}

// CAPool is the system roots plus the PEM certificates in caFile
// (tls.ca_file), so that a private CA is trusted next to the public ones.
func CAPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", caFile)
	}
	return pool, nil
}

// TLSConfig turns config TLS options into a *tls.Config: ca_file is added
// to the system roots; insecure_skip_verify turns verification off (only
// when set explicitly).
func TLSConfig(t config.TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pool, err := CAPool(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	// #nosec G402 -- only when the user sets insecure_skip_verify explicitly.
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	return cfg, nil
}

// Transport is the RoundTripper a Client built with hc and t sends through
// (before its debug logging): hc's transport, or http.DefaultTransport,
// cloned with the TLS settings applied. Adapters that drive a registry
// through another library (go-containerregistry) use it so tls.ca_file and
// insecure_skip_verify mean the same everywhere.
func Transport(hc *http.Client, t config.TLS) (http.RoundTripper, error) {
	return transportFor(hc, t)
}
