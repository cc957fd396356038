package ecr

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/immutag/immutag/internal/providers/httpapi"
)

// failFast bounds the SDK's retries of a refused connection as the REST
// adapters do (an endpoint where nothing listens used to hold a scope for
// the whole backoff, about 19 s) and logs every retry at warn, so a user
// watching a slow run sees which endpoint is failing. An unknown host is
// not retried at all (see the Retryables in New).
type failFast struct {
	aws.RetryerV2
	log      *slog.Logger
	provider string
}

func (f failFast) RetryDelay(attempt int, err error) (time.Duration, error) {
	if httpapi.Refused(err) && attempt > httpapi.MaxRefusedRetries {
		return 0, fmt.Errorf("connection refused %d times, giving up: %w", attempt, err)
	}
	d, rerr := f.RetryerV2.RetryDelay(attempt, err)
	if rerr == nil {
		f.log.Warn("retrying an ECR call", "provider", f.provider, "endpoint", endpointOf(err), "attempt", attempt, "wait", d.Round(time.Millisecond), "error", err)
	}
	return d, rerr
}

// endpointOf names the address a transport error was about, when it says.
func endpointOf(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return op.Addr.String()
	}
	return "(default AWS endpoint)"
}
