package acr

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A registry where nothing listens fails its scope after two retries, each
// logged at warn with the provider and the registry, instead of azcore's
// six tries and backoff.
func TestRefusedRegistryFailsFastAndSaysWhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	var logs syncBuf
	p := newProvider(t, setup{cfg: configFor(addr), mods: []func(*Provider){func(p *Provider) {
		p.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})).With("provider", "acr-test")
	}}})
	_, errs := testutil.Scan(t, p)
	var scopeErr error
	for _, e := range errs {
		scopeErr = e
	}
	if scopeErr == nil || !httpapi.Refused(scopeErr) || !strings.Contains(scopeErr.Error(), "giving up") {
		t.Fatalf("scope error %v, want a refused connection given up on", scopeErr)
	}
	out := logs.String()
	if n := strings.Count(out, "retrying an ACR call"); n != httpapi.MaxRefusedRetries || !strings.Contains(out, addr) || !strings.Contains(out, "provider=acr-test") {
		t.Errorf("%d retry warnings (want %d naming the provider and %s):\n%s", n, httpapi.MaxRefusedRetries, addr, out)
	}
}

func configFor(registry string) config.Provider {
	return config.Provider{Settings: &Settings{Registries: []string{registry}}}
}
