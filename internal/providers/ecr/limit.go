package ecr

import (
	"context"

	"github.com/aws/smithy-go/middleware"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// limiter puts config.rate (httpapi.Limiter) inside the SDK's retry loop,
// so every attempt (retries included) is paced, while backoff sleeps do
// not hold a concurrency slot.
type limiter struct{ l *httpapi.Limiter }

func newLimiter(r config.Rate) *limiter {
	l := httpapi.NewLimiter(r, 0)
	if l == nil {
		return nil
	}
	return &limiter{l: l}
}

// ID names the middleware in the SDK stack.
func (l *limiter) ID() string { return "ImmutagRateLimit" }

// HandleFinalize waits for the rate limiter and a concurrency slot.
func (l *limiter) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	release, err := l.l.Acquire(ctx)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	defer release()
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
