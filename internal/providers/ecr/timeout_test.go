package ecr

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

// A stalled attempt is cut off by the per-attempt timeout and retried by the
// SDK retryer, instead of holding the scope until the run is cancelled.
func TestStalledAttemptTimesOutAndIsRetried(t *testing.T) {
	isolateAWS(t)
	s := startEmu(t, ecremu.Options{})
	mustCreate(t, s, "us-east-1", "app", ecremu.Immutable)
	target, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var describes atomic.Int64
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".DescribeRepositories") && describes.Add(1) == 1 {
			// Consume the body so the server notices the client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			select { // never answers: only the client's timeout ends this
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(stall.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", stall.URL)

	p, err := newProvider(t.Context(), config.Provider{Name: "aws-test", Kind: providers.KindECR,
		Endpoint: stall.URL, Settings: &Settings{Regions: []string{"us-east-1"}}}, providers.Options{},
		tuning{maxBackoff: time.Millisecond, attemptTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	if got := len(c.Repos()); got != 1 {
		t.Fatalf("%d repositories, want 1", got)
	}
	if got := describes.Load(); got != 2 {
		t.Fatalf("%d DescribeRepositories attempts, want 2 (one stalled, one retried)", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s: the stalled attempt was not cut off", d)
	}
}
