package artifactregistry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testutil.Must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	testutil.Must(t, err)
	path := filepath.Join(t.TempDir(), "ca.pem")
	testutil.Must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

func TestPlanDialLoopbackOnlyPlaintext(t *testing.T) {
	ca := writeCA(t)
	for _, tc := range []struct {
		name      string
		endpoint  string
		tls       config.TLS
		wantEP    string
		plaintext bool
		roots     bool
		wantErr   bool
	}{
		{name: "default google endpoint", endpoint: "", wantEP: ""},
		{name: "ipv4 loopback", endpoint: "127.0.0.1:9443", wantEP: "127.0.0.1:9443", plaintext: true},
		{name: "other 127/8 address", endpoint: "127.0.0.2:9443", wantEP: "127.0.0.2:9443", plaintext: true},
		{name: "ipv6 loopback", endpoint: "[::1]:9443", wantEP: "[::1]:9443", plaintext: true},
		{name: "localhost", endpoint: "localhost:9443", wantEP: "localhost:9443", plaintext: true},
		{name: "http scheme on loopback", endpoint: "http://127.0.0.1:9443", wantEP: "127.0.0.1:9443", plaintext: true},
		{name: "private ip is not loopback", endpoint: "10.0.0.5:443", wantEP: "10.0.0.5:443"},
		{name: "hostname is never resolved", endpoint: "127.0.0.1.nip.io:80", wantEP: "127.0.0.1.nip.io:80"},
		{name: "remote host, default port", endpoint: "ar.example.com", wantEP: "ar.example.com:443"},
		{name: "https scheme on loopback forces tls", endpoint: "https://127.0.0.1:9443", wantEP: "127.0.0.1:9443"},
		{name: "ca file on loopback means tls", endpoint: "127.0.0.1:9443", tls: config.TLS{CAFile: ca}, wantEP: "127.0.0.1:9443", roots: true},
		{name: "ca file remote", endpoint: "ar.example.com:8443", tls: config.TLS{CAFile: ca}, wantEP: "ar.example.com:8443", roots: true},
		{name: "insecure remote is plaintext without auth", endpoint: "ar.example.com:8080", tls: config.TLS{InsecureSkipVerify: true}, wantEP: "ar.example.com:8080", plaintext: true},
		{name: "http remote refused", endpoint: "http://ar.example.com:8080", wantErr: true},
		{name: "https with insecure contradicts", endpoint: "https://ar.example.com", tls: config.TLS{InsecureSkipVerify: true}, wantErr: true},
		{name: "insecure without endpoint", tls: config.TLS{InsecureSkipVerify: true}, wantErr: true},
		{name: "url with a path", endpoint: "https://ar.example.com/v1", wantErr: true},
		{name: "odd scheme", endpoint: "grpc://127.0.0.1:1", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := planDial(config.Provider{Endpoint: tc.endpoint, TLS: tc.tls})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", d)
				}
				return
			}
			testutil.Must(t, err)
			if d.endpoint != tc.wantEP || d.plaintext != tc.plaintext || (d.roots != nil) != tc.roots {
				t.Fatalf("plan %+v, want endpoint %q plaintext %v roots %v", d, tc.wantEP, tc.plaintext, tc.roots)
			}
			// Options follow the plan: credentials are dropped only with plaintext.
			if n, want := len(d.clientOptions(config.Rate{})), optionCount(d); n != want {
				t.Fatalf("%d client options, want %d", n, want)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	testutil.Must(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	if _, err := planDial(config.Provider{Endpoint: "127.0.0.1:1", TLS: config.TLS{CAFile: bad}}); err == nil {
		t.Fatal("a ca_file without a certificate was accepted")
	}
}

// optionCount is what clientOptions must return for d: endpoint, then
// (without auth + insecure transport) or (TLS roots) or nothing.
func optionCount(d dialPlan) int {
	n := 0
	if d.endpoint != "" {
		n++
	}
	switch {
	case d.plaintext:
		n += 2
	case d.roots != nil:
		n++
	}
	return n
}

func TestMapErr(t *testing.T) {
	ctx := t.Context()
	withRetry, _ := status.New(codes.ResourceExhausted, "quota").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	for _, tc := range []struct {
		err  error
		kind providers.ErrorClass
		code string
	}{
		{status.Error(codes.NotFound, "gone"), providers.ErrNotFound, "NOT_FOUND"},
		{status.Error(codes.PermissionDenied, "nope"), providers.ErrDenied, "PERMISSION_DENIED"},
		{status.Error(codes.Unauthenticated, "who"), providers.ErrDenied, "UNAUTHENTICATED"},
		{withRetry.Err(), providers.ErrThrottled, "RESOURCE_EXHAUSTED"},
		{status.Error(codes.Unimplemented, "no"), providers.ErrUnsupported, "UNIMPLEMENTED"},
		{status.Error(codes.Internal, "boom"), providers.ErrOther, "INTERNAL"},
	} {
		err := mapErr(ctx, tc.err)
		var ae *providers.APIError
		if !errors.As(err, &ae) || ae.Class != tc.kind || ae.Code != tc.code || ae.Message != status.Convert(tc.err).Message() {
			t.Errorf("%v -> %#v", tc.err, err)
		}
		if status.Code(errors.Unwrap(err)) != status.Code(tc.err) {
			t.Errorf("%v: original error not wrapped", tc.err)
		}
	}
	if ae := new(providers.APIError); !errors.As(mapErr(ctx, withRetry.Err()), &ae) || ae.RetryAfter != 3*time.Second {
		t.Errorf("RetryInfo not carried: %#v", ae)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := mapErr(cctx, status.Error(codes.Canceled, "x")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	plain := errors.New("plain")
	if mapErr(ctx, plain) != plain || mapErr(ctx, nil) != nil {
		t.Error("non-status errors should pass through")
	}
}

func TestRetryerBounds(t *testing.T) {
	r := &retryer{inner: gax.OnCodes(retryCodes, gax.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}), left: 2, max: 50 * time.Millisecond}
	if _, ok := r.Retry(status.Error(codes.PermissionDenied, "x")); ok {
		t.Fatal("permanent error retried")
	}
	st, _ := status.New(codes.ResourceExhausted, "q").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(20 * time.Millisecond)})
	if d, ok := r.Retry(st.Err()); !ok || d != 20*time.Millisecond {
		t.Fatalf("RetryInfo not honoured: %v %v", d, ok)
	}
	st, _ = status.New(codes.ResourceExhausted, "q").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Hour)})
	if d, ok := r.Retry(st.Err()); !ok || d != 50*time.Millisecond {
		t.Fatalf("RetryInfo not capped: %v %v", d, ok)
	}
	if _, ok := r.Retry(status.Error(codes.Unavailable, "x")); ok {
		t.Fatal("retried beyond the attempt budget")
	}
}

func TestLimitInterceptor(t *testing.T) {
	if limitInterceptor(config.Rate{}) != nil {
		t.Fatal("no limit configured should add no interceptor")
	}
	ic := limitInterceptor(config.Rate{RequestsPerSecond: 20, MaxConcurrent: 1})
	calls := 0
	invoke := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls++
		return nil
	}
	t0 := time.Now()
	for range 25 {
		testutil.Must(t, ic(t.Context(), "/m", nil, nil, nil, invoke))
	}
	// A burst of 20 then 5 more at 20/s takes about 250ms.
	if d := time.Since(t0); d < 200*time.Millisecond || calls != 25 {
		t.Fatalf("25 calls at 20/s took %v (%d calls)", d, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := ic(ctx, "/m", nil, nil, nil, invoke); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// A refused connection is retried twice, each retry logged at warn with the
// endpoint; an unknown host is not retried.
func TestRetryerFailsFastWhenUnreachable(t *testing.T) {
	var logs bytes.Buffer
	r := &retryer{inner: gax.OnCodes(retryCodes, gax.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}), left: 4, max: 50 * time.Millisecond,
		log: slog.New(slog.NewTextHandler(&logs, nil)), endpoint: "127.0.0.1:1"}
	refused := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`)
	for i := range 2 {
		if _, ok := r.Retry(refused); !ok {
			t.Fatalf("refusal %d not retried", i+1)
		}
	}
	if _, ok := r.Retry(refused); ok {
		t.Fatal("a third refusal was retried")
	}
	if n := strings.Count(logs.String(), "retrying an Artifact Registry call"); n != 2 || !strings.Contains(logs.String(), "127.0.0.1:1") {
		t.Errorf("%d warnings naming the endpoint, want 2:\n%s", n, logs.String())
	}
	r2 := &retryer{inner: gax.OnCodes(retryCodes, gax.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond}), left: 4, max: 50 * time.Millisecond}
	if _, ok := r2.Retry(status.Error(codes.Unavailable, `name resolver error: lookup registry.invalid: no such host`)); ok {
		t.Fatal("an unknown host was retried")
	}
}
