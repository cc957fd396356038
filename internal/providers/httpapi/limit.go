package httpapi

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/time/rate"

	"github.com/immutag/immutag/internal/config"
)

// Limiter is a provider's client-side pacing, config.rate: a token bucket
// of requests_per_second and at most max_concurrent attempts in flight. Every adapter puts it inside its
// retry loop (the REST client, ECR's SDK middleware, the Artifact Registry
// interceptor, the OCI transport, ACR's write policy), so every attempt,
// retries included, is paced, while backoff sleeps hold no slot.
//
// A nil *Limiter lets everything through.
type Limiter struct {
	rl    *rate.Limiter
	burst int // fixed burst, 0 when it follows the rate
	sem   chan struct{}
}

// NewLimiter returns the limiter of r, or nil when r sets neither value.
// burst is the token bucket's size; 0 means the rate rounded up, at least
// 1, and 1 spaces attempts evenly (ACR's writes, whose budget the registry
// counts per minute).
func NewLimiter(r config.Rate, burst int) *Limiter {
	if r.RequestsPerSecond <= 0 && r.MaxConcurrent <= 0 {
		return nil
	}
	l := &Limiter{burst: max(0, burst)}
	if r.RequestsPerSecond > 0 {
		l.rl = rate.NewLimiter(rate.Limit(r.RequestsPerSecond), l.burstFor(r.RequestsPerSecond))
	}
	if r.MaxConcurrent > 0 {
		l.sem = make(chan struct{}, r.MaxConcurrent)
	}
	return l
}

func (l *Limiter) burstFor(perSecond float64) int {
	if l.burst > 0 {
		return l.burst
	}
	return max(1, int(math.Ceil(perSecond)))
}

// Acquire waits for the rate, then for a concurrency slot; release frees
// the slot once the attempt is over. A token is taken before the slot so
// that an attempt waiting for the rate holds no slot.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := l.Wait(ctx); err != nil {
		return nil, err
	}
	if l == nil || l.sem == nil {
		return func() {}, nil
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Wait waits for the rate only, for clients that take a bare rate limiter
// (go-gitlab's RateLimiter).
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil || l.rl == nil {
		return nil
	}
	if err := l.rl.Wait(ctx); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}

// SetRate changes requests_per_second (ACR learns its SKU's write budget
// after the first call); a burst that follows the rate is recomputed.
func (l *Limiter) SetRate(perSecond float64) {
	if l == nil || l.rl == nil || perSecond <= 0 {
		return
	}
	l.rl.SetLimit(rate.Limit(perSecond))
	l.rl.SetBurst(l.burstFor(perSecond))
}

// Rate is requests_per_second, 0 when unlimited.
func (l *Limiter) Rate() float64 {
	if l == nil || l.rl == nil {
		return 0
	}
	return float64(l.rl.Limit())
}
