package acr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/testutil"
)

// Reading a registry costs one token exchange per page of repositories, not
// one per repository, and no read is challenged.
func TestTokenPerPageNotPerRepository(t *testing.T) {
	s := newEmu(t, emu.Options{})
	for i := range 230 {
		s.AddTag(fmt.Sprintf("team/app-%03d", i), "v1", i%2 == 0)
	}
	p := newProvider(t, setup{cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}}, hc: emuClient(s),
		mods: []func(*Provider){func(p *Provider) { p.pageSize = 100 }}})
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 || len(c.Repos()) != 230 {
		t.Fatalf("audit: %v, %d repositories", errs, len(c.Repos()))
	}
	tokens := s.Calls().Get("GET oauth2/token") + s.Calls().Get("POST oauth2/token")
	// The catalog's token, then one for each page of 100, 100 and 30.
	if tokens != 1+3 {
		t.Errorf("token exchanges = %d for 230 repositories in 3 pages, want 4 (%v)", tokens, s.Calls().Snapshot())
	}
	if n := s.Calls().Get("GET tags 401"); n != 0 {
		t.Errorf("%d tag listings were challenged: the batched token did not cover them", n)
	}
}

// fakeSource fails every batched request and counts single ones.
type fakeSource struct {
	mu      sync.Mutex
	batches int
	singles map[string]int
}

func (f *fakeSource) fetch(_ context.Context, _, scope string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Contains(scope, " ") {
		f.batches++
		return "", time.Time{}, errors.New("scope lists are not supported here")
	}
	f.singles[scope]++
	return "tok-" + scope, time.Now().Add(time.Hour), nil
}

// A registry that refuses a batched request costs one wasted call per page:
// every scope is then fetched alone, and nobody sees the batch's error.
func TestFailedBatchFallsBackToSingleScopes(t *testing.T) {
	src := &fakeSource{singles: map[string]int{}}
	c := newTokenCache(src, "reg")
	scopes := readScopes([]string{"a", "b", "c"})
	c.prefetch(t.Context(), scopes)
	for _, s := range scopes {
		tok, err := c.get(t.Context(), s)
		if err != nil || tok != "tok-"+s {
			t.Errorf("%s: %q %v", s, tok, err)
		}
	}
	if src.batches != 1 || len(src.singles) != 3 {
		t.Errorf("batches %d, singles %v", src.batches, src.singles)
	}
}
