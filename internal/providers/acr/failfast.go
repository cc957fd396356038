package acr

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/immutag/immutag/internal/providers/httpapi"
)

// refusals counts one operation's refused connections across its tries.
// It is an operation value: azcore copies it into every try's request.
type refusals struct{ n int }

// countRefusals runs once per operation, before azcore's retry policy.
type countRefusals struct{}

func (countRefusals) Do(req *policy.Request) (*http.Response, error) {
	req.SetOperationValue(&refusals{})
	return req.Next()
}

// failFast ends azcore's retries of a call whose connection was refused
// after httpapi.MaxRefusedRetries retries, and of an unknown host at once
// (both used to hold a registry for the whole backoff, about 46 s), and
// logs every retry of a refused connection at warn with the registry.
type failFast struct {
	log *slog.Logger // carries the provider's name
}

// finalErr is an error azcore must not retry.
type finalErr struct{ error }

func (e finalErr) Unwrap() error { return e.error }

// NonRetriable marks the error for azcore's retry policy.
func (finalErr) NonRetriable() {}

func (f failFast) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err == nil {
		return resp, nil
	}
	if httpapi.UnknownHost(err) {
		return nil, finalErr{err}
	}
	if !httpapi.Refused(err) {
		return resp, err
	}
	var r *refusals
	if !req.OperationValue(&r) || r == nil {
		return resp, err
	}
	r.n++
	if r.n > httpapi.MaxRefusedRetries {
		return nil, finalErr{fmt.Errorf("connection refused %d times, giving up: %w", r.n, err)}
	}
	f.log.Warn("retrying an ACR call", "endpoint", req.Raw().URL.Host, "attempt", r.n, "error", err)
	return resp, err
}
