package ecr

import (
	"context"

	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/immutag/immutag/internal/config"
)

// limiter is the client-side rate and concurrency limit from config.rate.
// It sits inside the SDK's retry loop, so every attempt (retries included)
// is paced, while backoff sleeps do not hold a concurrency slot.
type limiter struct {
	rl  *rate.Limiter
	sem chan struct{}
}

func newLimiter(r config.Rate) *limiter {
	if r.RequestsPerSecond <= 0 && r.MaxConcurrent <= 0 {
		return nil
	}
	l := &limiter{}
	if r.RequestsPerSecond > 0 {
		l.rl = rate.NewLimiter(rate.Limit(r.RequestsPerSecond), max(1, int(r.RequestsPerSecond)))
	}
	if r.MaxConcurrent > 0 {
		l.sem = make(chan struct{}, r.MaxConcurrent)
	}
	return l
}

// ID names the middleware in the SDK stack.
func (l *limiter) ID() string { return "ImmutagRateLimit" }

// HandleFinalize waits for the rate limiter and a concurrency slot.
func (l *limiter) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if l.rl != nil {
		if err := l.rl.Wait(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
	}
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
			defer func() { <-l.sem }()
		case <-ctx.Done():
			return middleware.FinalizeOutput{}, middleware.Metadata{}, ctx.Err()
		}
	}
	return next.HandleFinalize(ctx, in)
}

// add installs the limiter right after the retry middleware (per attempt).
// Only ECR clients get it: STS AssumeRole runs while an ECR request already
// holds a slot, and limiting it too could deadlock with max_concurrent=1.
func (l *limiter) add(s *middleware.Stack) error {
	if err := s.Finalize.Insert(l, "Retry", middleware.After); err != nil {
		return s.Finalize.Add(l, middleware.Before)
	}
	return nil
}
