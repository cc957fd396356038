package httpapi

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Authenticator puts credentials on requests. Implementations are safe for
// concurrent use.
type Authenticator interface {
	// Authorize sets the credential headers on req (it may fetch or renew a
	// token first).
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh is called at most once per call after a 401. sent is the
	// Authorization header value the rejected request carried, so an
	// implementation can tell whether another goroutine already renewed the
	// token. Returning true re-sends the request once with fresh credentials;
	// false lets the 401 stand.
	Refresh(ctx context.Context, respHeader http.Header, sent string) (bool, error)
}

// Basic is HTTP Basic authentication (Harbor users and robot accounts). A
// 401 is final: static credentials cannot be refreshed.
type Basic struct{ Username, Password string }

// Authorize sets the Basic Authorization header.
func (b Basic) Authorize(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.Username, b.Password)
	return nil
}

// Refresh always declines.
func (Basic) Refresh(context.Context, http.Header, string) (bool, error) { return false, nil }

// StaticBearer is a fixed bearer token (Quay OAuth application tokens).
type StaticBearer string

// Authorize sets "Authorization: Bearer <token>".
func (s StaticBearer) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+string(s))
	return nil
}

// Refresh always declines.
func (StaticBearer) Refresh(context.Context, http.Header, string) (bool, error) { return false, nil }

// TokenFunc obtains a fresh bearer token and when it expires (zero = unknown,
// kept until a 401).
type TokenFunc func(ctx context.Context) (token string, expiresAt time.Time, err error)

// Bearer is a bearer token minted by a TokenFunc (Docker Hub's
// POST /v2/auth/token), renewed Skew before it expires and after a 401.
// Concurrent callers share one fetch.
type Bearer struct {
	fetch TokenFunc
	now   func() time.Time
	skew  time.Duration

	mu      sync.Mutex
	token   string
	expires time.Time
	renewAt time.Time
	fetches int
}

// BearerOptions tune NewBearer.
type BearerOptions struct {
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Skew renews the token this long before it expires (0 = one minute),
	// capped at a fifth of the token's lifetime so short-lived tokens are
	// still reused.
	Skew time.Duration
}

// NewBearer returns a Bearer authenticator backed by fetch.
func NewBearer(fetch TokenFunc, o BearerOptions) *Bearer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Skew <= 0 {
		o.Skew = time.Minute
	}
	return &Bearer{fetch: fetch, now: o.Now, skew: o.Skew}
}

// ErrEmptyToken is returned when a TokenFunc yields an empty token.
var ErrEmptyToken = errors.New("token endpoint returned an empty token")

// Token returns a valid token, fetching one when none is held or the held
// one is within Skew of its expiry.
func (b *Bearer) Token(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token != "" && (b.expires.IsZero() || b.now().Before(b.renewAt)) {
		return b.token, nil
	}
	// The lock is held across the fetch on purpose: concurrent requests
	// wait for one token instead of each minting their own.
	tok, exp, err := b.fetch(ctx)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", ErrEmptyToken
	}
	redact.Add(tok)
	b.token, b.expires = tok, exp
	if !exp.IsZero() {
		b.renewAt = exp.Add(-min(b.skew, exp.Sub(b.now())/5))
	}
	b.fetches++
	return tok, nil
}

// Fetches counts tokens minted so far (tests, diagnostics).
func (b *Bearer) Fetches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fetches
}

// Authorize sets "Authorization: Bearer <token>".
func (b *Bearer) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := b.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Refresh drops the rejected token so the re-send mints a new one. When the
// held token already differs from the rejected one, another request renewed
// it meanwhile and no fetch is needed.
func (b *Bearer) Refresh(_ context.Context, _ http.Header, sent string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token != "" && sent == "Bearer "+b.token {
		b.token, b.expires = "", time.Time{}
	}
	return true, nil
}
