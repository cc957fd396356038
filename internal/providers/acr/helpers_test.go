package acr

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/immutag/immutag/internal/config"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
)

const (
	userEnv = "TEST_ACR_USER"
	passEnv = "TEST_ACR_PASSWORD"
)

func newEmu(t *testing.T, o emu.Options) *emu.Server {
	t.Helper()
	s, err := emu.New(o)
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

func emuClient(s *emu.Server) *http.Client { return s.Client() }

type collector struct {
	mu    sync.Mutex
	repos []providers.Repository
	warns []providers.Warning
}

func (c *collector) Repository(r providers.Repository) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repos = append(c.repos, r)
	return nil
}

func (c *collector) Warn(w providers.Warning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warns = append(c.warns, w)
}

func (c *collector) byName() map[string]providers.Repository {
	out := map[string]providers.Repository{}
	for _, r := range c.repos {
		out[r.Name] = r
	}
	return out
}

// audit lists every scope; scope errors are returned by scope name.
func audit(t *testing.T, p *Provider) (*collector, map[string]error) {
	t.Helper()
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	errs := map[string]error{}
	for _, s := range scopes {
		if err := p.Repositories(t.Context(), s, c); err != nil {
			errs[s.Name] = err
		}
	}
	return c, errs
}

// journal is an Observer that records writes and progress.
type journal struct {
	mu       sync.Mutex
	recs     []providers.WriteRecord
	repos    []string // repository of each record
	progress []int64
	total    int64
	onWrite  func(successes int)
	ok       int
}

func (j *journal) Write(c providers.Change, w providers.WriteRecord) {
	j.mu.Lock()
	j.recs = append(j.recs, w)
	j.repos = append(j.repos, c.Repository)
	if w.Err == "" {
		j.ok++
	}
	n, f := j.ok, j.onWrite
	j.mu.Unlock()
	if f != nil {
		f(n)
	}
}

func (j *journal) Progress(_ providers.Change, done, total int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.progress = append(j.progress, done)
	j.total = total
}

// successes counts successful locks by tag name (per repository with
// successesIn).
func (j *journal) successes() map[string]int { return j.successesIn("") }

func (j *journal) successesIn(repo string) map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]int{}
	for i, r := range j.recs {
		if r.Err == "" && (repo == "" || j.repos[i] == repo) {
			out[r.Target]++
		}
	}
	return out
}

func (j *journal) all() map[string]bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]bool{}
	for _, r := range j.recs {
		out[r.Target] = true
	}
	return out
}

// fix plans and applies one repository.
func fix(t *testing.T, ctx context.Context, p *Provider, r providers.Repository, j *journal) (providers.Change, providers.Result, error) {
	t.Helper()
	c, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil {
		t.Fatalf("plan %s: %v", r.Name, err)
	}
	res, err := p.Apply(ctx, c, j)
	return c, res, err
}

func seed(s *emu.Server, repo string, n int, lockedEvery int) (unlocked []string) {
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
