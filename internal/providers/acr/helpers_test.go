package acr

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/immutag/immutag/internal/config"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

const (
	userEnv = "TEST_ACR_USER"
	passEnv = "TEST_ACR_PASSWORD"
)

func newEmu(t *testing.T, o emu.Options) *emu.Loopback {
	t.Helper()
	s, err := emu.ServeLoopback(emu.New(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddUser("ci", "pw")
	return s
}

type setup struct {
	cfg  config.Provider
	env  map[string]string
	hc   *http.Client
	mods []func(*Provider)
}

// newProvider builds the adapter the way catalog.Build does, with fast
// retries. By default it logs in as ci/pw and trusts the emulators'
// certificate through the HTTP client.
func newProvider(t *testing.T, s setup) *Provider {
	t.Helper()
	s.cfg.Kind = providers.KindACR
	if s.cfg.Name == "" {
		s.cfg.Name = "acr-test"
	}
	if s.env == nil {
		s.env = map[string]string{userEnv: "ci", passEnv: "pw"}
		s.cfg.Credentials = config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv}
	}
	o := providers.Options{Getenv: func(k string) string { return s.env[k] }, HTTPClient: s.hc}
	pp, err := New(t.Context(), s.cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	p := pp.(*Provider)
	p.retry.RetryDelay = 5 * time.Millisecond
	p.retry.MaxRetryDelay = 5 * time.Second
	for _, m := range s.mods {
		m(p)
	}
	return p
}

func emuClient(s *emu.Loopback) *http.Client { return s.Client() }

// successes counts successful locks by tag name, in repository repo ("" =
// every repository).
func successes(j *testutil.Observer, repo string) map[string]int {
	out := map[string]int{}
	for _, w := range j.Writes() {
		if w.Record.Err == "" && (repo == "" || w.Change.Repository == repo) {
			out[w.Record.Target]++
		}
	}
	return out
}

// journaledTags is the set of tags with a journal record, successful or not.
func journaledTags(j *testutil.Observer) map[string]bool {
	out := map[string]bool{}
	for _, r := range j.Records() {
		out[r.Target] = true
	}
	return out
}

// fix plans and applies one repository.
func fix(t *testing.T, ctx context.Context, p *Provider, r providers.Repository, j *testutil.Observer) (providers.Change, providers.Result, error) {
	t.Helper()
	c, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil {
		t.Fatalf("plan %s: %v", r.Name, err)
	}
	res, err := p.Apply(ctx, c, j)
	return c, res, err
}

func seed(s *emu.Loopback, repo string, n int, lockedEvery int) (unlocked []string) {
	for i := range n {
		tag := fmt.Sprintf("v%05d", i)
		lock := lockedEvery > 0 && i%lockedEvery == 0
		s.AddTag(repo, tag, lock)
		if !lock {
			unlocked = append(unlocked, tag)
		}
	}
	return unlocked
}

type staticCred string

func (c staticCred) GetToken(context.Context, azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
