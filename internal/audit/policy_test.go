package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func repo(mode providers.Mode, mutable ...string) providers.Repository {
	return providers.Repository{Provider: "aws-prod", Kind: providers.KindECR, Scope: "111111111111/us-east-1",
		Name: "team/app", Immutability: providers.Immutability{Mode: mode, MutablePatterns: mutable}}
}

func TestEvaluateModesAllowListsExemptions(t *testing.T) {
	active := config.Exemption{Repository: "team/*", Reason: "scratch", Expires: now.AddDate(0, 1, 0)}
	today := config.Exemption{Repository: "team/app", Reason: "last day", Expires: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	expired := config.Exemption{Repository: "team/app", Reason: "old", Expires: now.AddDate(0, 0, -1)}
	forever := config.Exemption{Repository: "*", Reason: "forever"}
	otherProv := config.Exemption{Provider: "gcp-*", Repository: "*", Reason: "other provider"}
	otherScope := config.Exemption{Scope: "*/eu-west-1", Repository: "*", Reason: "other region"}

	modes := []struct {
		name string
		r    providers.Repository
	}{
		{"immutable", repo(providers.ModeImmutable)},
		{"partial-latest", repo(providers.ModePartial, "latest")},
		{"partial-star", repo(providers.ModePartial, "*")},
		{"partial-vstar", repo(providers.ModePartial, "v*")},
		{"partial-two", repo(providers.ModePartial, "latest", "dev-*")},
		{"partial-unknown-patterns", repo(providers.ModePartial)},
		{"mutable", repo(providers.ModeMutable)},
		{"unsupported", repo(providers.ModeUnsupported)},
		{"unknown", repo(providers.ModeUnknown)},
	}
	allows := map[string][]string{
		"none":         nil,
		"latest":       {"latest"},
		"latest-space": {" latest "},
		"latest-dev":   {"latest", "dev-*"},
		"star":         {"*"},
	}
	exemptions := map[string][]config.Exemption{
		"none":        nil,
		"active":      {active},
		"today":       {today},
		"expired":     {expired},
		"forever":     {forever},
		"other-prov":  {otherProv},
		"other-scope": {otherScope},
		"expired+act": {expired, active},
	}
	// want gives the status before exemptions are considered.
	base := func(mode string, allow string) Status {
		switch mode {
		case "immutable":
			return StatusCompliant
		case "unknown":
			return StatusError
		case "partial-latest":
			// Equality, never a guess: "*" in the allow-list is not taken to cover "latest".
			if allow != "none" && allow != "star" {
				return StatusCompliant
			}
		case "partial-star", "partial-vstar":
			if allow == "star" && mode == "partial-star" {
				return StatusCompliant
			}
		case "partial-two":
			if allow == "latest-dev" {
				return StatusCompliant
			}
		}
		return StatusDrift
	}
	exemptApplies := map[string]bool{"active": true, "today": true, "forever": true, "expired+act": true}

	for _, m := range modes {
		for an, al := range allows {
			for en, ex := range exemptions {
				t.Run(fmt.Sprintf("%s/%s/%s", m.name, an, en), func(t *testing.T) {
					ev := Evaluate(m.r, Policy{MutableTagsAllowed: al, Exemptions: ex, Now: now})
					want := base(m.name, an)
					if want == StatusDrift && exemptApplies[en] {
						want = StatusExempt
					}
					if ev.Status != want {
						t.Fatalf("status = %s, want %s (reason %q)", ev.Status, want, ev.Reason)
					}
					if ev.Reason == "" {
						t.Error("empty reason")
					}
					switch ev.Status {
					case StatusExempt:
						if ev.Exemption == nil || ev.Exemption.Reason == "" {
							t.Errorf("exempt without exemption reason: %+v", ev)
						}
					case StatusDrift, StatusError:
						if ev.Remediation == "" {
							t.Error("drift/error without remediation")
						}
					}
					if en == "expired" && want == StatusDrift {
						if len(ev.ExpiredExemptions) != 1 || !ev.ExpiredExemptions[0].Expired {
							t.Errorf("expired exemption not reported: %+v", ev.ExpiredExemptions)
						}
						if !strings.Contains(ev.Reason, "expired") {
							t.Errorf("reason does not mention the expired exemption: %q", ev.Reason)
						}
					}
				})
			}
		}
	}
}

func TestEvaluateOffendingPatternsNamed(t *testing.T) {
	ev := Evaluate(repo(providers.ModePartial, "latest", "v*"), Policy{MutableTagsAllowed: []string{"latest"}, Now: now})
	if ev.Status != StatusDrift || len(ev.Offending) != 1 || ev.Offending[0] != "v*" {
		t.Fatalf("got %+v", ev)
	}
	if !strings.Contains(ev.Reason, `"v*"`) {
		t.Errorf("reason does not name the offending pattern: %q", ev.Reason)
	}
}

func TestEvaluateDefaultExemption(t *testing.T) {
	r := repo(providers.ModeMutable)
	r.DefaultExemption = "pull-through cache repository"
	ev := Evaluate(r, Policy{Now: now})
	if ev.Status != StatusExempt || ev.Exemption == nil || !ev.Exemption.Default {
		t.Fatalf("got %+v", ev)
	}
	// A repository mutable by nature (an Artifact Registry remote
	// repository) gets no remediation that cannot work.
	ar := r
	ar.Kind, ar.Mode, ar.DefaultExemption = providers.KindArtifactRegistry, providers.ModeUnsupported, "remote repository"
	if ev := Evaluate(ar, Policy{Now: now}); ev.Status != StatusExempt || ev.Remediation != "" {
		t.Fatalf("remote repository: %+v", ev)
	}
	if f := NewFinding(ar, Evaluate(ar, Policy{Now: now})); f.Remediation != "" {
		t.Fatalf("finding remediation %q", f.Remediation)
	}
	// A default exemption never hides an unreadable setting.
	r.Mode = providers.ModeUnknown
	if ev := Evaluate(r, Policy{Now: now}); ev.Status != StatusError {
		t.Fatalf("unknown with default exemption = %s, want error", ev.Status)
	}
}

func TestEvaluateUnknownNeverCompliant(t *testing.T) {
	r := repo(providers.ModeUnknown)
	r.Error = "AccessDeniedException: not authorized"
	ev := Evaluate(r, Policy{MutableTagsAllowed: []string{"*"}, Exemptions: []config.Exemption{{Repository: "*", Reason: "x"}}, Now: now})
	if ev.Status != StatusError || !strings.Contains(ev.Reason, "AccessDenied") {
		t.Fatalf("got %+v", ev)
	}
}

func TestFindingIDStable(t *testing.T) {
	a := FindingID("p", "s", "r")
	if a != FindingID("p", "s", "r") {
		t.Fatal("not stable")
	}
	for _, other := range []string{FindingID("p", "s", "r2"), FindingID("p2", "s", "r"), FindingID("p", "s2", "r"), FindingID("ps", "", "r")} {
		if other == a {
			t.Fatal("collision")
		}
	}
	// The id does not depend on the verdict, so a repository keeps it when fixed.
	f1 := NewFinding(repo(providers.ModeMutable), Evaluate(repo(providers.ModeMutable), Policy{Now: now}))
	f2 := NewFinding(repo(providers.ModeImmutable), Evaluate(repo(providers.ModeImmutable), Policy{Now: now}))
	if f1.ID != f2.ID {
		t.Fatal("id changed with status")
	}
}
