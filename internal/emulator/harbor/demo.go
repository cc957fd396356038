package harbor

import (
	"context"
	"fmt"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo credential variables named by the demo Provider entry.
const (
	DemoUserEnv     = "IMMUTAG_DEMO_HARBOR_USER"
	DemoPasswordEnv = "IMMUTAG_DEMO_HARBOR_PASSWORD"
)

// DemoUser is the robot account the demo authenticates as.
const DemoUser = "robot$immutag"

// Demo is a running emulator seeded for the demo and sandbox:
//
//   - "library": nginx, busybox; no rules (mutable);
//   - "apps": frontend, backend; rule repoMatches ** / excludes latest
//     (partial, latest left mutable);
//   - "infra": tools/ci, proxy; a disabled universal rule (mutable until the
//     fix re-enables it);
//   - "partial": svc; rule repoMatches ** / matches v* (partial).
type Demo struct {
	*Server
	emulator.Served
	pass  string
	start time.Time
}

var (
	_ emulator.Demo            = (*Demo)(nil)
	_ emulator.SeededOverwrite = (*Demo)(nil)
)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(ctx context.Context) (emulator.Demo, error) { return startDemo(ctx) }

func startDemo(_ context.Context) (*Demo, error) {
	pass, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("harbor demo: password: %w", err)
	}
	d := &Demo{pass: pass, start: time.Now().UTC()}
	d.Server = New(Options{Username: DemoUser, Password: d.pass})
	if err := d.seed(); err != nil {
		return nil, err
	}
	web, err := emulator.ServeLoopback(d.Handler())
	if err != nil {
		return nil, fmt.Errorf("harbor demo: listen: %w", err)
	}
	d.Web = web
	return d, nil
}

// NewRule builds a rule the way the Harbor UI does: one repository selector
// and one tag selector, both doublestar.
func NewRule(repoDecoration, repoPattern, tagDecoration, tagPattern string) Rule {
	return Rule{
		Action: "immutable", Template: "immutable_template",
		TagSelectors: []Selector{{Kind: "doublestar", Decoration: tagDecoration, Pattern: tagPattern}},
		ScopeSelectors: map[string][]Selector{"repository": {
			{Kind: "doublestar", Decoration: repoDecoration, Pattern: repoPattern},
		}},
	}
}

func (d *Demo) seed() error {
	s := d.Server
	repos := map[string][]string{
		"library": {"nginx", "busybox"},
		"apps":    {"frontend", "backend"},
		"infra":   {"tools/ci", "proxy"},
		"partial": {"svc"},
	}
	for _, p := range []string{"library", "apps", "infra", "partial"} {
		s.AddProject(p, p == "library")
		for _, r := range repos[p] {
			tags := []string{"latest", "v1.0.0"}
			if p+"/"+r == "library/nginx" {
				tags = tags[:1] // v1.0.0 comes with its history below
			}
			if err := s.AddRepo(p, r, tags...); err != nil {
				return err
			}
		}
	}
	// library/nginx:v1.0.0 was pushed 60 days ago and overwritten 20 days
	// ago: the audit log keeps both pushes.
	for i, ago := range []int{60, 20} {
		dg := digestOf([]byte(fmt.Sprintf("library/nginx:v1.0.0#%d", i)))
		if err := s.SeedPush("library", "nginx", "v1.0.0", dg, d.start.Add(-time.Duration(ago)*24*time.Hour)); err != nil {
			return err
		}
	}
	if _, err := s.AddRule("apps", NewRule("repoMatches", "**", "excludes", "latest")); err != nil {
		return err
	}
	off := NewRule("repoMatches", "**", "matches", "**")
	off.Disabled = true
	if _, err := s.AddRule("infra", off); err != nil {
		return err
	}
	if _, err := s.AddRule("partial", NewRule("repoMatches", "**", "matches", "v*")); err != nil {
		return err
	}
	return nil
}

// Kind is "harbor".
func (d *Demo) Kind() providers.Kind { return providers.KindHarbor }

// Provider points the harbor adapter at this emulator (all projects).
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:     "harbor-demo",
		Kind:     providers.KindHarbor,
		Endpoint: d.URL(),
		Settings: config.Keys{"projects": []string{}},
		Credentials: config.Credentials{
			UsernameEnv: DemoUserEnv,
			PasswordEnv: DemoPasswordEnv,
		},
	}
}

// Env holds the credential variables the Provider entry names.
func (d *Demo) Env() map[string]string {
	return map[string]string{DemoUserEnv: DemoUser, DemoPasswordEnv: d.pass}
}

// OverwriteTarget is library/nginx:v1.0.0, a release tag that is mutable
// until the fix adds a rule (latest may stay mutable when policy allows it).
func (d *Demo) OverwriteTarget() (scope, repository, tag string) { return "library", "nginx", "v1.0.0" }

// SeededOverwrite is library/nginx:v1.0.0, 30 days before the demo: the
// image it named until it was overwritten 20 days before, which only the
// audit log knows.
func (d *Demo) SeededOverwrite() (scope, repository, tag string, at time.Time) {
	return "library", "nginx", "v1.0.0", d.start.Add(-30 * 24 * time.Hour)
}
