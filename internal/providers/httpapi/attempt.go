package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrAttemptTimeout is wrapped when one attempt, body included, did not
// finish within its timeout.
var ErrAttemptTimeout = errors.New("attempt timeout")

// AttemptTransport gives an SDK that runs its own retry loop above the
// transport (GitLab's client-go, through go-retryablehttp) the per-attempt
// bounds of the shared Client: the whole exchange, body included, must end
// within Timeout and may not go IdleTimeout without a byte, and the body is
// read here, up to MaxBodyBytes. Reading it here matters twice: a stall or
// a reset in the middle of a body is an attempt error the retry loop sees
// (not a decode error after it has given up its loop), and a body over the
// limit, a gzip bomb included, is refused whole instead of the SDK decoding
// the JSON value at its start and discarding the rest.
type AttemptTransport struct {
	Base http.RoundTripper // nil = http.DefaultTransport
	// Timeout bounds one attempt (0 = DefaultTimeout, negative = none).
	Timeout time.Duration
	// IdleTimeout cuts an attempt after this long without a byte (0 =
	// DefaultIdleTimeout, negative = none).
	IdleTimeout time.Duration
}

// RoundTrip implements http.RoundTripper. The response it returns carries
// the whole body in memory (at most MaxBodyBytes).
func (t *AttemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	timeout, idleFor := t.Timeout, t.IdleTimeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if idleFor == 0 {
		idleFor = DefaultIdleTimeout
	}
	parent := req.Context()
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if timeout > 0 {
		tm := time.AfterFunc(timeout, func() {
			cancel(fmt.Errorf("%w: no complete answer within %s", ErrAttemptTimeout, timeout))
		})
		defer tm.Stop()
	}
	var idle *idleTimer
	if idleFor > 0 {
		idle = newIdleTimer(idleFor, cancel)
		defer idle.stop()
	}
	// cause names the attempt's own timeout when it, and not the caller,
	// ended the exchange.
	cause := func(err error) error {
		if parent.Err() == nil {
			if c := context.Cause(ctx); c != nil {
				return c
			}
		}
		return err
	}
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, cause(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if idle != nil {
		idle.touch()
		body = idle.reader(resp.Body)
	}
	// One byte past the limit, so that a body over it fails instead of
	// being cut into something that may still parse.
	b, err := io.ReadAll(io.LimitReader(body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", cause(err))
	}
	if int64(len(b)) > MaxBodyBytes {
		return nil, bodyTooLarge(MaxBodyBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

// Transient reports whether a transport error is worth another attempt of
// an idempotent request, by the shared Client's rules: resets, EOFs,
// refused connections, network and attempt timeouts are; certificate
// problems, unknown hosts, refused redirects and oversize bodies are not.
// SDK adapters whose retry loop is not the Client's use it so that every
// kind retries the same failures.
func Transient(err error) bool { return transient(err) }

// RetryableStatus reports whether an answer with status is worth another
// attempt: 429 and 503 for any request (the server says it did not process
// it), 408 and other 5xx only for an idempotent one.
func RetryableStatus(status int, idempotent bool) bool { return retryableStatus(status, idempotent) }
