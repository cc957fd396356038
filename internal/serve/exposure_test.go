package serve

import (
	"bytes"
	"context"
	"time"

	"github.com/immutag/immutag/internal/providers"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// publicListener listens on 127.0.0.1 (tests never leave loopback) but
// reports the wildcard address, as `--listen 0.0.0.0:9101` would.
type publicListener struct{ net.Listener }

func (l publicListener) Addr() net.Addr {
	a := *l.Listener.Addr().(*net.TCPAddr)
	a.IP = net.IPv4zero
	return &a
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startPublic(t *testing.T, o Options) (string, *syncBuf) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	o.Listener = publicListener{ln}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	sig, scans := scanSignal()
	sig(svc)
	done := make(chan error, 1)
	// t.Context ends before the cleanups run, which then wait for Run.
	go func() { done <- svc.Run(t.Context()) }()
	t.Cleanup(func() { <-done })
	waitFor(t, scans, "first scan")
	return "http://" + ln.Addr().String(), logs
}

func getAuth(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReportOffBeyondLoopback: issue 12 case 12. Bound beyond loopback
// without a token, /report/latest is off and the startup log says what is
// exposed; /metrics stays open.
func TestReportOffBeyondLoopback(t *testing.T) {
	aws, hub := estate()
	url, logs := startPublic(t, testOptions(t, aws, hub))
	if code := getAuth(t, url+"/report/latest", ""); code != http.StatusForbidden {
		t.Errorf("/report/latest without a token beyond loopback: %d, want 403", code)
	}
	if code := getAuth(t, url+"/metrics", ""); code != http.StatusOK {
		t.Errorf("/metrics: %d, want 200", code)
	}
	l := logs.String()
	for _, want := range []string{"level=WARN", "beyond loopback", "/metrics", "report_latest=\"off"} {
		if !strings.Contains(l, want) {
			t.Errorf("startup log lacks %q:\n%s", want, l)
		}
	}
}

// TestReportTokenRequired: with --report-token-env, /report/latest needs
// the bearer token (wrong or missing: 401).
func TestReportTokenRequired(t *testing.T) {
	aws, hub := estate()
	o := testOptions(t, aws, hub)
	o.ReportToken = "report-token-0123456789"
	url, logs := startPublic(t, o)
	for tok, want := range map[string]int{"": 401, "wrong-token-0123456789": 401, o.ReportToken: 200} {
		if code := getAuth(t, url+"/report/latest", tok); code != want {
			t.Errorf("token %q: %d, want %d", tok, code, want)
		}
	}
	if !strings.Contains(logs.String(), "bearer token required") {
		t.Errorf("startup log does not say the report needs a token:\n%s", logs.String())
	}
}

// stallProvider's listing never ends on its own.
type stallProvider struct{}

func (stallProvider) Name() string         { return "stall" }
func (stallProvider) Kind() providers.Kind { return "ecr" }
func (stallProvider) Scopes(context.Context) ([]providers.Scope, error) {
	return []providers.Scope{{Provider: "stall", Kind: "ecr", Name: "s"}}, nil
}
func (stallProvider) Repositories(ctx context.Context, _ providers.Scope, _ providers.Emitter) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestScanTimeout: issue 12 case 8 for serve. A scan past ScanTimeout stops,
// is counted failed and logged naming the limit; the service keeps running.
func TestScanTimeout(t *testing.T) {
	o := testOptions(t, stallProvider{})
	o.ScanTimeout = 200 * time.Millisecond
	logs := &syncBuf{}
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	sig, scans := scanSignal()
	r := startService(t, o, sig)
	waitFor(t, scans, "first scan")
	if !strings.Contains(logs.String(), "--timeout reached") {
		t.Errorf("no timeout log:\n%s", logs.String())
	}
	if code, _ := get(t, r.url+"/healthz"); code != http.StatusOK {
		t.Errorf("service not healthy after a timed-out scan: %d", code)
	}
}
