package acr

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/emulator/acr/acrcontract"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

// TestContract runs the adapter against the emulator through a transport
// that checks every request the adapter sends and every response the
// emulator returns against acr-dataplane.json: both login flows, paging,
// the lock loop with throttling, a tag deleted under the loop (404) and a
// denied repository (403).
func TestContract(t *testing.T) {
	check := acrcontract.New(t)
	s := newEmu(t, emu.Options{SKU: "Premium"})
	s.AcceptAADToken("entra-token")
	seed(s, "team/app", 20, 4)
	seed(s, "team/locked", 3, 1)
	s.AddRepository("team/empty")
	seed(s, "team/web", 3, 0) // left for the Entra ID provider to lock
	seed(s, "team/private", 2, 0)
	s.Deny("team/private")
	hc := &http.Client{Transport: check.Transport(s.Client().Transport)}

	cfg := config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}, Rate: config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 1}}
	basic := newProvider(t, setup{hc: hc, cfg: cfg, mods: []func(*Provider){func(p *Provider) { p.pageSize = 7 }}})
	c, errs := testutil.Scan(t, basic)
	if len(errs) != 0 || len(c.Repos()) != 5 {
		t.Fatalf("audit: %v, %d repositories", errs, len(c.Repos()))
	}
	if r := c.ByName()["team/private"]; r.Mode != providers.ModeUnknown {
		t.Fatalf("denied repository: %+v", r)
	}

	// One page for the loop, so the tag deleted after the first lock is
	// still in the listing the loop works from.
	basic.pageSize = 100
	s.SetFaults(emulator.Faults{ThrottleRate: 0.3, RetryAfter: time.Millisecond, Seed: 3})
	deleted := false
	j := &testutil.Observer{OnWrite: func(int) {
		if !deleted {
			deleted = s.DeleteTag("team/app", "v00019")
		}
	}}
	_, res, err := fix(t, t.Context(), basic, c.ByName()["team/app"], j)
	if err != nil || !res.Verified {
		t.Fatalf("apply: %+v %v", res, err)
	}
	var vanished bool
	for _, r := range j.Records() {
		if r.Target == "v00019" && strings.Contains(r.Err, "TAG_UNKNOWN") {
			vanished = true
		}
	}
	if !deleted || !vanished {
		t.Fatalf("deleted tag not journaled as TAG_UNKNOWN: %+v", j.Records())
	}
	s.SetFaults(emulator.Faults{})

	entra := newProvider(t, setup{hc: hc, env: map[string]string{}, cfg: cfg, mods: []func(*Provider){func(p *Provider) {
		p.newCredential = func() (azcore.TokenCredential, error) { return staticCred("entra-token"), nil }
	}}})
	before := s.Calls().Get("PATCH tag")
	c2, _ := testutil.Scan(t, entra)
	for _, r := range c2.Repos() {
		if r.Mode == providers.ModeUnknown {
			continue
		}
		if _, res, err := fix(t, t.Context(), entra, r, &testutil.Observer{}); err != nil || !res.Verified {
			t.Fatalf("%s: %+v %v", r.Name, res, err)
		}
	}

	if got := s.Calls().Get("PATCH tag") - before; got != 3 {
		t.Errorf("Entra ID provider locked %d tags, want 3", got)
	}
	for _, p := range check.Problems() {
		t.Error(p)
	}
	ops := check.Operations()
	for _, want := range []string{
		"Authentication_GetAcrAccessTokenFromLogin 200",
		"Authentication_ExchangeAadAccessTokenForAcrRefreshToken 200",
		"Authentication_ExchangeAcrRefreshTokenForAcrAccessToken 200",
		"ContainerRegistry_GetRepositories 200",
		"ContainerRegistry_GetTags 200",
		"ContainerRegistry_GetTags 403",
		"ContainerRegistry_UpdateTagAttributes 200",
		"ContainerRegistry_UpdateTagAttributes 404",
		"ContainerRegistry_UpdateTagAttributes 429",
	} {
		if ops[want] == 0 {
			t.Errorf("contract traffic never exercised %s", want)
		}
	}
	for op := range ops {
		if strings.HasPrefix(op, "ContainerRegistry_UpdateProperties") || strings.HasPrefix(op, "ContainerRegistry_DeleteTag") {
			t.Errorf("adapter called %s", op)
		}
	}
	t.Log("\n" + check.Report())
}
