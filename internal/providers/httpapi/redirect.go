package httpapi

import (
	"github.com/immutag/immutag/internal/redact"
	"io"

	"errors"
	"fmt"
	"net/http"
)

// ErrRedirect is wrapped when a registry API answered with a redirect.
// Registry API calls never need one, and following it would carry the
// Authorization header or a sign-in body to wherever the answer points, and
// would take an answer from another origin for registry data.
var ErrRedirect = errors.New("redirect refused")

// RefuseRedirects is an http.Client CheckRedirect that follows no redirect.
// The error names provider (its config name, or its kind) and both URLs,
// with secret query values redacted.
func RefuseRedirects(provider string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := ""
		if len(via) > 0 {
			from = RedactURL(via[len(via)-1].URL)
		}
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &RedirectError{Provider: provider, Status: status, From: from, To: RedactURL(req.URL)}
	}
}

// RedirectError is the error a refused redirect yields (wrapped in a
// *url.Error by net/http).
type RedirectError struct {
	Provider string
	Status   int
	From, To string
}

func (e *RedirectError) Error() string {
	p := e.Provider
	if p == "" {
		p = "registry"
	}
	return fmt.Sprintf("%s: %v: the API answered %d from %s to %s; registry API calls are never redirected (nothing was sent to %s)",
		p, ErrRedirect, e.Status, e.From, e.To, e.To)
}

// Unwrap lets errors.Is(err, ErrRedirect) match.
func (e *RedirectError) Unwrap() error { return ErrRedirect }

// NoRedirectClient returns a copy of hc (nil = a zero client) that refuses
// every redirect for provider: its transport turns any 3xx answer with a
// Location into a *RedirectError (net/http would otherwise hand back a
// 307/308 it cannot replay as if it were the answer), and CheckRedirect
// refuses whatever still gets through.
func NoRedirectClient(hc *http.Client, provider string) *http.Client {
	cp := &http.Client{}
	if hc != nil {
		*cp = *hc
	}
	cp.CheckRedirect = RefuseRedirects(provider)
	if _, done := cp.Transport.(*redirectTransport); !done {
		cp.Transport = &redirectTransport{base: cp.Transport, provider: provider}
	}
	return cp
}

type redirectTransport struct {
	base     http.RoundTripper
	provider string
}

func (t *redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	// Every credential that goes on the wire, whoever minted it (the SDKs'
	// token exchanges included), is known to the redactor before a server
	// can echo it back.
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Amz-Security-Token"} {
		for _, v := range req.Header.Values(h) {
			redact.AddHeaderValue(v)
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		if _, ok := req.Body.(io.WriterTo); ok {
			// smithy-go (the AWS SDK) closes its request body as soon as the
			// response headers arrive, and its body's WriteTo then answers
			// io.EOF. net/http's write loop may still be finishing the body
			// (a last WriteTo after the declared length) when a loopback or
			// very fast server has answered; it takes that io.EOF for a
			// write failure and closes the connection under the response
			// being read ("use of closed network connection"), which the
			// SDK retries after a backoff: one ECR call in ten in a tight
			// listing. Through Read alone, a closed body is a plain end.
			r2 := *req
			r2.Body = readOnlyBody{req.Body}
			req = &r2
		}
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.Header.Get("Location") == "" {
		// The SDKs read bodies themselves: the size limit is enforced here
		// for them too (after any transparent gzip decoding, so a gzip bomb
		// stops at the limit).
		// A declared length over the limit is refused before reading; a
		// body the transport decompresses (a gzip bomb) is counted as it is
		// read. Chunked plain bodies are left to the caller: the REST
		// client reads one byte past the limit itself, and wrapping them
		// under the AWS SDK made it re-send the first call of a scope.
		switch {
		case resp.ContentLength > MaxBodyBytes:
			_ = resp.Body.Close()
			return nil, bodyTooLarge(MaxBodyBytes)
		case resp.ContentLength < 0 && resp.Uncompressed:
			resp.Body = &limitBody{rc: resp.Body, left: MaxBodyBytes}
		}
		return resp, nil
	}
	_ = resp.Body.Close()
	to := resp.Header.Get("Location")
	if u, perr := req.URL.Parse(to); perr == nil {
		to = RedactURL(u)
	} else {
		to = "an unparseable location"
	}
	return nil, &RedirectError{Provider: t.provider, Status: resp.StatusCode, From: RedactURL(req.URL), To: to}
}

// Temporary and Timeout say a refused redirect is permanent, so retryers
// that ask a *url.Error (the AWS SDK's) do not send the call again.
func (e *RedirectError) Temporary() bool { return false }

// Timeout reports false: see Temporary.
func (e *RedirectError) Timeout() bool { return false }

// ErrBodyTooLarge is wrapped when an answer's body exceeds MaxBodyBytes.
var ErrBodyTooLarge = errors.New("response body too large")

func bodyTooLarge(limit int64) error {
	return fmt.Errorf("%w: more than the %d MiB limit; the answer was refused rather than cut short", ErrBodyTooLarge, limit>>20)
}

// readOnlyBody hides a request body's WriteTo (see redirectTransport).
type readOnlyBody struct{ rc io.ReadCloser }

func (b readOnlyBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readOnlyBody) Close() error               { return b.rc.Close() }

// limitBody fails the read that goes past left bytes.
type limitBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, bodyTooLarge(MaxBodyBytes)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, bodyTooLarge(MaxBodyBytes)
	}
	return n, err
}

func (l *limitBody) Close() error { return l.rc.Close() }
