package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// unixThreshold tells a unix timestamp from a delay in seconds in
// X-Retry-After: Docker Hub documented a unix time there once, and a plain
// number of seconds elsewhere; no sane delay is a billion seconds.
const unixThreshold = 1_000_000_000

// RetryAfter reads the server's advertised wait from h, in this order:
// Retry-After (seconds or HTTP date), X-Retry-After (unix time or seconds,
// Docker Hub), and X-RateLimit-Reset (unix time) when X-RateLimit-Remaining
// is 0. ok is false when none is present or parseable. A time in the past
// yields 0 with ok true.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	return retryAfter(h, now)
}

func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return clampSeconds(n), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return nonNeg(t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-Retry-After")); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			if n >= unixThreshold {
				return nonNeg(time.Unix(int64(n), 0).Sub(now)), true
			}
			return clampSeconds(int64(n + 0.999)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return nonNeg(t.Sub(now)), true
		}
	}
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && n >= unixThreshold {
			return nonNeg(time.Unix(n, 0).Sub(now)), true
		}
	}
	return 0, false
}

func clampSeconds(n int64) time.Duration {
	const maxSec = int64(1<<62) / int64(time.Second)
	return time.Duration(min(n, maxSec)) * time.Second
}

func nonNeg(d time.Duration) time.Duration { return max(d, 0) }

// transient reports whether a transport error is worth retrying for an
// idempotent request. Certificate problems and bad URLs are permanent.
func transient(err error) bool {
	var ae *authError
	if errors.As(err, &ae) || errors.Is(err, ErrRedirect) || errors.Is(err, ErrBodyTooLarge) {
		return false
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &cv) {
		return false
	}
	// An unknown host does not appear by asking again: fail now, not after
	// the whole backoff.
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	// Per-attempt timeouts surface as context.DeadlineExceeded while the
	// caller's context is still alive (checked by the caller).
	if errors.Is(err, ErrIdleTimeout) || errors.Is(err, ErrAttemptTimeout) {
		return true
	}
	return strings.Contains(err.Error(), "context deadline exceeded") ||
		strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "server closed idle connection")
}

// ParseErrorBody extracts an error code and the API's own message from the
// common JSON error shapes:
//
//	{"errors":[{"code":"NOT_FOUND","message":"..."}]}   Harbor, OCI distribution
//	{"detail":"...","message":"...","errinfo":{}}        Docker Hub
//	{"error_message":"...","error_type":"..."}           Quay
//	{"message":"..."} {"text":"..."} {"error":"..."} {"error_description":"..."}
//
// A non-JSON body yields its first line (trimmed, bounded) as the message.
func ParseErrorBody(body []byte) (code, message string) {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) == 0 {
		return "", ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		if body[0] == '{' || body[0] == '[' || body[0] == '<' {
			return "", ""
		}
		line, _, _ := strings.Cut(string(body), "\n")
		return "", bound(line)
	}
	str := func(k string) string {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s)
		}
		return ""
	}
	if raw, ok := m["errors"]; ok {
		var errs []struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		}
		if json.Unmarshal(raw, &errs) == nil && len(errs) > 0 {
			var msgs []string
			for _, e := range errs {
				if e.Message != "" {
					msgs = append(msgs, e.Message)
				}
			}
			c := strings.Trim(string(errs[0].Code), `"`)
			if len(msgs) > 0 {
				return c, bound(strings.Join(msgs, "; "))
			}
			code = c
		}
	}
	if code == "" {
		code = firstNonEmpty(str("error_type"), str("code"))
	}
	for _, k := range []string{"detail", "message", "error_message", "text", "error_description", "error"} {
		if s := str(k); s != "" {
			return code, bound(s)
		}
	}
	return code, ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// bound keeps API messages short enough for a report cell.
func bound(s string) string {
	const n = 500
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxRefusedRetries bounds retries of a refused connection: nothing listens
// there, and a restart that takes longer than a few backoffs is an outage
// to report, not to wait out (an unreachable endpoint used to hold a run
// for tens of seconds).
const maxRefusedRetries = 2

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
