package ecr

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// An endpoint where nothing listens fails after two retries, each logged at
// warn with the provider and the address, instead of the SDK's five
// attempts and full backoff.
func TestRefusedEndpointFailsFastAndSaysWhere(t *testing.T) {
	isolateAWS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+addr)
	var logs syncBuf
	p, err := newProvider(t.Context(), config.Provider{Name: "aws-down", Kind: providers.KindECR,
		Endpoint: "http://" + addr, Settings: &Settings{Regions: []string{"us-east-1"}}},
		providers.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))},
		tuning{maxBackoff: time.Millisecond, attemptTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// STS (the account lookup) is the first call: it fails the provider.
	_, scanErr := p.Scopes(t.Context())
	if scanErr == nil || !httpapi.Refused(scanErr) {
		t.Fatalf("scan error %v, want a refused connection", scanErr)
	}
	out := logs.String()
	retries := strings.Count(out, "retrying an ECR call")
	if retries != httpapi.MaxRefusedRetries || !strings.Contains(out, "provider=aws-down") || !strings.Contains(out, addr) {
		t.Errorf("%d retry warnings (want %d naming the provider and %s):\n%s", retries, httpapi.MaxRefusedRetries, addr, out)
	}
}

func TestUnknownHostIsFinal(t *testing.T) {
	if !httpapi.UnknownHost(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}) {
		t.Error("a DNS not-found is not final")
	}
	if httpapi.UnknownHost(errors.New("connection reset by peer")) {
		t.Error("a reset is final")
	}
}
