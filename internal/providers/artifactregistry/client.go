package artifactregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// dialPlan is how the adapter reaches the API, decided from config alone so
// the security rule can be tested without dialling.
type dialPlan struct {
	// endpoint is host:port; "" keeps the SDK default
	// (artifactregistry.googleapis.com:443 with Application Default Credentials).
	endpoint string
	// plaintext means gRPC without TLS and without credentials. It is only
	// chosen for loopback hosts or with tls.insecure_skip_verify, so a token
	// never travels unencrypted.
	plaintext bool
	// roots, when set, replaces the system roots for TLS (tls.ca_file).
	roots *x509.CertPool
}

// planDial applies the endpoint rules. The endpoint is host:port (port 443
// when omitted); an http:// or https:// prefix is accepted: https forces TLS,
// and http is refused unless plaintext is allowed for that host.
func planDial(p config.Provider) (dialPlan, error) {
	var d dialPlan
	if p.TLS.CAFile != "" {
		pem, err := os.ReadFile(p.TLS.CAFile)
		if err != nil {
			return d, fmt.Errorf("tls.ca_file: %w", err)
		}
		d.roots = x509.NewCertPool()
		if !d.roots.AppendCertsFromPEM(pem) {
			return d, fmt.Errorf("tls.ca_file %s: no PEM certificate found", p.TLS.CAFile)
		}
	}
	ep := strings.TrimSpace(p.Endpoint)
	if ep == "" {
		if p.TLS.InsecureSkipVerify {
			return d, errors.New("tls.insecure_skip_verify needs an endpoint: the Google API endpoint is always TLS")
		}
		return d, nil
	}
	scheme := ""
	if i := strings.Index(ep, "://"); i >= 0 {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return d, fmt.Errorf("endpoint %q: want host:port", p.Endpoint)
		}
		scheme, ep = strings.ToLower(u.Scheme), u.Host
		if scheme != "http" && scheme != "https" {
			return d, fmt.Errorf("endpoint %q: unsupported scheme %q (want host:port)", p.Endpoint, u.Scheme)
		}
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		host, port = strings.Trim(ep, "[]"), "443"
	}
	if host == "" {
		return d, fmt.Errorf("endpoint %q: missing host", p.Endpoint)
	}
	d.endpoint = net.JoinHostPort(host, port)
	plainOK := p.TLS.InsecureSkipVerify || (isLoopback(host) && d.roots == nil)
	switch scheme {
	case "https":
		if p.TLS.InsecureSkipVerify {
			return d, fmt.Errorf("endpoint %q: tls.insecure_skip_verify means plain gRPC here, which contradicts https://", p.Endpoint)
		}
	case "http":
		if !plainOK {
			return d, fmt.Errorf("endpoint %q: plain gRPC is only used for loopback hosts or with tls.insecure_skip_verify", p.Endpoint)
		}
		d.plaintext = true
	default:
		d.plaintext = plainOK
	}
	return d, nil
}

// isLoopback reports whether host is a loopback IP literal or "localhost".
// Other names are not resolved: what they point at can change.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientOptions turns the plan and the rate settings into SDK options.
func (d dialPlan) clientOptions(r config.Rate) []option.ClientOption {
	var opts []option.ClientOption
	if d.endpoint != "" {
		opts = append(opts, option.WithEndpoint(d.endpoint))
	}
	switch {
	case d.plaintext:
		opts = append(opts,
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	case d.roots != nil:
		// Dial options given by the caller are applied after the SDK's own,
		// so this replaces the default TLS roots while keeping ADC.
		opts = append(opts, option.WithGRPCDialOption(grpc.WithTransportCredentials(
			credentials.NewTLS(&tls.Config{RootCAs: d.roots, MinVersion: tls.VersionTLS12}))))
	}
	if ic := limitInterceptor(r); ic != nil {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(ic)))
	}
	return opts
}

// limitInterceptor applies rate.requests_per_second and rate.max_concurrent
// to every RPC attempt, retries included; nil when neither is set.
func limitInterceptor(r config.Rate) grpc.UnaryClientInterceptor {
	lim := httpapi.NewLimiter(r, 0)
	if lim == nil {
		return nil
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		release, err := lim.Acquire(ctx)
		if err != nil {
			return status.FromContextError(err).Err()
		}
		defer release()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// retryCodes are the transient failures worth another attempt. Every call
// the adapter makes is idempotent (reads, and setting a flag to true).
var retryCodes = []codes.Code{codes.Unavailable, codes.ResourceExhausted}

// retryer bounds gax's exponential backoff to a number of attempts and
// waits at least as long as a RetryInfo detail asks.
type retryer struct {
	inner gax.Retryer
	left  int
	max   time.Duration
	// refused counts this call's refused connections; log, when set,
	// gets a warning for each retry of one.
	refused  int
	log      *slog.Logger
	endpoint string
}

func (r *retryer) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	// As in the REST adapters: an unknown host is final, a refused
	// connection is retried twice (it used to hold a location for the
	// whole backoff).
	if httpapi.UnknownHost(err) {
		return 0, false
	}
	if httpapi.Refused(err) {
		r.refused++
		if r.refused > httpapi.MaxRefusedRetries {
			return 0, false
		}
	}
	pause, ok := r.inner.Retry(err)
	if !ok {
		return 0, false
	}
	if httpapi.Refused(err) && r.log != nil {
		r.log.Warn("retrying an Artifact Registry call", "endpoint", r.endpoint, "attempt", r.refused, "error", err)
	}
	r.left--
	if st, isStatus := status.FromError(err); isStatus {
		for _, d := range st.Details() {
			if ri, isRI := d.(*errdetails.RetryInfo); isRI && ri.GetRetryDelay().AsDuration() > pause {
				pause = ri.GetRetryDelay().AsDuration()
			}
		}
	}
	return min(pause, r.max), true
}

// deadlineInterceptor bounds every RPC attempt to d. gax.WithTimeout (in
// callOptions) bounds a call only when the caller's context has no deadline
// yet, however distant that one is. An attempt that runs out is not retried:
// DEADLINE_EXCEEDED is not in retryCodes.
func deadlineInterceptor(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// callOptions are added to every SDK call: a per-call timeout and the retry policy.
func (p *Provider) callOptions() []gax.CallOption {
	bo, attempts := p.backoff, p.attempts
	return []gax.CallOption{
		gax.WithTimeout(p.timeout),
		gax.WithRetry(func() gax.Retryer {
			return &retryer{inner: gax.OnCodes(retryCodes, bo), left: attempts - 1, max: bo.Max, log: p.log, endpoint: p.endpointName()}
		}),
	}
}

// mapErr converts a gRPC failure into a *providers.APIError carrying the
// API's own message. A cancelled caller context is returned as is.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	// The server can reset the stream a moment before the caller's own
	// deadline timer fires; that is still the caller's deadline.
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	kind := providers.ErrOther
	switch st.Code() {
	case codes.NotFound:
		kind = providers.ErrNotFound
	case codes.PermissionDenied, codes.Unauthenticated:
		kind = providers.ErrDenied
	case codes.ResourceExhausted:
		kind = providers.ErrThrottled
	case codes.Unimplemented:
		kind = providers.ErrUnsupported
	}
	ae := &providers.APIError{
		Class:   kind,
		Code:    code.Code_name[int32(st.Code())],
		Message: st.Message(),
		Err:     err,
	}
	for _, d := range st.Details() {
		if ri, isRI := d.(*errdetails.RetryInfo); isRI {
			ae.RetryAfter = ri.GetRetryDelay().AsDuration()
		}
	}
	return ae
}

// endpointName is the API endpoint calls go to, for messages.
func (p *Provider) endpointName() string {
	if p.dial.endpoint != "" {
		return p.dial.endpoint
	}
	return "artifactregistry.googleapis.com:443"
}
