package httpapi

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// ProviderOptions are the client Options a REST adapter derives from its
// config entry and the shared adapter dependencies: the API root, the
// caller's HTTP client and clock, the entry's TLS and rate settings, the
// logger and auth. Adapters adjust the result (their own defaults, tests'
// backoffs) before New.
func ProviderOptions(base string, p config.Provider, o providers.Options, log *slog.Logger, auth Authenticator) Options {
	return Options{
		BaseURL:           base,
		Provider:          p.Name,
		HTTPClient:        o.HTTPClient,
		TLS:               p.TLS,
		RequestsPerSecond: p.Rate.RequestsPerSecond,
		MaxConcurrent:     p.Rate.MaxConcurrent,
		Logger:            log,
		Auth:              auth,
		Now:               o.Now,
	}
}

// Lazy builds one Client on first use, so that an adapter's constructor
// calls no API and reads no credential. It is safe for concurrent use; the
// zero value is ready.
type Lazy struct {
	once sync.Once
	c    *Client
	err  error
}

// Client returns the client, building it with build on the first call. An
// error from build or from the client's configuration (New) is kept,
// prefixed with prefix, and returned by every call.
func (l *Lazy) Client(prefix string, build func() (Options, error)) (*Client, error) {
	l.once.Do(func() {
		o, err := build()
		if err != nil {
			l.err = fmt.Errorf("%s: %w", prefix, err)
			return
		}
		c, err := New(o)
		if err != nil {
			l.err = fmt.Errorf("%s: %w", prefix, err)
			return
		}
		l.c = c
	})
	return l.c, l.err
}
