package sandbox

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// scan audits everything the sandbox serves with the real adapters.
func scan(t *testing.T, sb *Sandbox, only ...string) *audit.Report {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	for k, v := range sb.Env() {
		t.Setenv(k, v)
	}
	now := time.Now()
	cfg := sb.Config(now)
	if err := cfg.Validate(catalog.Kinds()); err != nil {
		t.Fatalf("sandbox config does not validate: %v", err)
	}
	sel, err := cfg.Select(only)
	if err != nil {
		t.Fatal(err)
	}
	provs, err := catalog.Build(t.Context(), sel, providers.Options{Getenv: os.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	eng := &audit.Engine{Providers: provs, Policy: audit.PolicyFrom(cfg.Policy, now), Concurrency: 16}
	sc, err := eng.Run(t.Context())
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	t.Cleanup(func() {
		sc.Report.Close()
		// The REST adapters share http.DefaultTransport; a connection it
		// dialled but never used keeps an emulator's graceful Shutdown
		// waiting, so drop the idle ones before the sandbox closes.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return sc.Report
}

func start(t *testing.T, o Options) *Sandbox {
	t.Helper()
	o.Emulators = catalog.Emulators()
	sb, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return sb
}

// demoRepositories is how many repositories each demo holds that its
// adapter reports (the Artifact Registry demo also holds a maven
// repository, which is not audited); Grow counts them towards its total.
var demoRepositories = map[providers.Kind]int{
	providers.KindECR:              8,
	providers.KindArtifactRegistry: 6,
	providers.KindACR:              4,
	providers.KindDockerHub:        5,
	providers.KindQuay:             5,
	providers.KindHarbor:           7,
	providers.KindOCI:              3,
	providers.KindGHCR:             3,
	providers.KindGitLab:           5,
	providers.KindNexus:            5,
	providers.KindArtifactory:      6,
}

func TestSeedFillsEveryRegistry(t *testing.T) {
	const seed = 41
	for _, tc := range []struct {
		name string
		seed int
		want func(kind providers.Kind) int
	}{
		{"demo only", 0, func(k providers.Kind) int { return demoRepositories[k] }},
		{"seeded", seed, func(providers.Kind) int { return seed }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := start(t, Options{Seed: tc.seed})
			if got, want := len(sb.Endpoints()), len(catalog.Emulators()); got != want {
				t.Fatalf("%d emulators running, want %d", got, want)
			}
			rep := scan(t, sb)
			if rep.Summary.ScopeErrors != 0 || rep.Summary.Error != 0 {
				t.Fatalf("scan incomplete: %+v scopes %+v", rep.Summary, rep.Scopes)
			}
			modes := map[providers.Kind]map[providers.Mode]int{}
			_ = rep.Findings.Each(func(f audit.Finding) error {
				if modes[f.Kind] == nil {
					modes[f.Kind] = map[providers.Mode]int{}
				}
				modes[f.Kind][f.Mode]++
				return nil
			})
			for _, ep := range sb.Endpoints() {
				got := rep.Summary.ByProvider[ep.Provider].Repositories
				want := tc.want(ep.Kind)
				if want == 0 {
					// A kind this test does not list: its demo must hold something.
					if got == 0 {
						t.Errorf("%s (%s): no repositories audited", ep.Provider, ep.Kind)
					}
				} else if got != want {
					t.Errorf("%s (%s): %d repositories audited, want %d", ep.Provider, ep.Kind, got, want)
				}
				if sb.noSetting(ep.Kind) && ep.Kind != providers.KindArtifactory {
					// Nothing can protect a tag there: every repository says so.
					// (Artifactory has no setting either, but permissions can
					// leave only administrators able to overwrite, so it
					// grades repositories like the registries with a setting.)
					if m := modes[ep.Kind]; m[providers.ModeUnsupported] != got {
						t.Errorf("%s: modes %v, want all %d unsupported", ep.Kind, m, got)
					}
					continue
				}
				// Every registry shows protected and unprotected repositories side by side.
				if m := modes[ep.Kind]; m[providers.ModeImmutable]+m[providers.ModePartial] == 0 || m[providers.ModeMutable] == 0 {
					t.Errorf("%s: modes %v lack protected or mutable repositories", ep.Kind, m)
				}
			}
			if tc.seed > 0 {
				// The generated mix adds fully immutable repositories
				// everywhere (the Harbor demo has none of its own).
				for _, ep := range sb.Endpoints() {
					k := ep.Kind
					if sb.noSetting(k) {
						continue
					}
					if modes[k][providers.ModeImmutable] == 0 {
						t.Errorf("%s: no immutable repository in %v", k, modes[k])
					}
				}
			}
		})
	}
}

func TestDenyAndFaults(t *testing.T) {
	sb := start(t, Options{
		Kinds:  []providers.Kind{providers.KindQuay, providers.KindHarbor, providers.KindECR},
		Faults: emulator.Faults{PageSize: 2}, FaultKinds: []providers.Kind{providers.KindHarbor},
		Deny: []Deny{{Provider: "quay", Scope: "acme"}, {Provider: "aws-demo", Scope: "123456789012/eu-west-1"}},
	})
	rep := scan(t, sb)
	failed := map[string]bool{}
	for _, s := range rep.Scopes {
		if s.Status != "ok" {
			failed[s.Provider+"/"+s.Scope] = true
		}
	}
	for _, want := range []string{"quay-demo/acme", "aws-demo/123456789012/eu-west-1"} {
		if !failed[want] {
			t.Errorf("scope %s was not denied; failed scopes: %v", want, failed)
		}
	}
	if len(failed) != 2 {
		t.Errorf("failed scopes %v, want exactly the two denied ones", failed)
	}
	// Page size 2 on Harbor: its 4 demo projects need two pages, while
	// Quay (no faults) needs one page per namespace.
	calls := sb.Calls()
	if n := calls[providers.KindHarbor]["listProjects"]; n != 2 {
		t.Errorf("harbor listProjects calls = %d with page size 2, want 2; counters %v", n, calls[providers.KindHarbor])
	}
	if n := calls[providers.KindQuay]["listRepos"]; n != 2 {
		t.Errorf("quay listRepos calls = %d, want one per readable namespace (2); counters %v", n, calls[providers.KindQuay])
	}

	sb.ResetCalls()
	for k, ops := range sb.Calls() {
		for op, n := range ops {
			if n != 0 {
				t.Errorf("%s %s = %d after ResetCalls", k, op, n)
			}
		}
	}
	if err := sb.SetFaults("acr", emulator.Faults{}); err == nil {
		t.Error("SetFaults on an emulator that is not running succeeded")
	}
}

func TestParseDenyAndErrors(t *testing.T) {
	d, err := ParseDeny("aws-demo/123456789012/us-east-1")
	if err != nil || d.Provider != "aws-demo" || d.Scope != "123456789012/us-east-1" {
		t.Fatalf("ParseDeny = %+v, %v", d, err)
	}
	for _, bad := range []string{"", "quay", "/acme", "quay/"} {
		if _, err := ParseDeny(bad); err == nil {
			t.Errorf("ParseDeny(%q) accepted", bad)
		}
	}
	ctx := context.Background()
	for _, o := range []Options{
		{Seed: -1},
		{Seed: MaxSeed + 1},
		{Kinds: []providers.Kind{"gcr"}},
		{Kinds: []providers.Kind{providers.KindQuay}, Deny: []Deny{{Provider: "harbor", Scope: "x"}}},
		{Kinds: []providers.Kind{providers.KindECR}, Deny: []Deny{{Provider: "ecr", Scope: "no-region"}}},
		// Scopes the sandbox does not audit are refused, not accepted silently.
		{Kinds: []providers.Kind{providers.KindQuay}, Deny: []Deny{{Provider: "quay", Scope: "no-such-org"}}},
		{Kinds: []providers.Kind{providers.KindECR}, Deny: []Deny{{Provider: "ecr", Scope: "123456789012/mars-north-1"}}},
		// Harbor audits every project when none is configured: the name
		// must still exist.
		{Kinds: []providers.Kind{providers.KindHarbor}, Deny: []Deny{{Provider: "harbor", Scope: "no-such-project"}}},
	} {
		o.Emulators = catalog.Emulators()
		sb, err := Start(ctx, o)
		if err == nil {
			sb.Close()
			t.Errorf("Start(%+v) succeeded", o)
			continue
		}
		if !strings.Contains(err.Error(), "sandbox") {
			t.Errorf("error %q lacks context", err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Start(cctx, Options{Emulators: catalog.Emulators()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context: %v", err)
	}
}

func TestConfigOfSomeKindsValidates(t *testing.T) {
	for _, kinds := range [][]providers.Kind{{"acr"}, {"ecr", "harbor"}, {"quay"}} {
		sb, err := Start(t.Context(), Options{Emulators: catalog.Emulators(), Kinds: kinds})
		if err != nil {
			t.Fatal(err)
		}
		cfg := sb.Config(time.Now())
		err = cfg.Validate(catalog.Kinds())
		sb.Close()
		if err != nil {
			t.Fatalf("kinds %v: %v", kinds, err)
		}
		if len(cfg.Providers) != len(kinds) {
			t.Fatalf("kinds %v: providers %+v", kinds, cfg.Providers)
		}
	}
}
