package sandbox

import (
	"fmt"

	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	"github.com/immutag/immutag/internal/providers"
)

// The generated estate is deterministic (repository i always gets the same
// name and mode) so runs are comparable. The mix is what an estate that
// adopted immutability piecemeal looks like: most repositories mutable or
// fully immutable, a tail of exclusions, partial rules and repositories
// that cannot be fixed. Buckets are i % 20, so each bucket is 5%.

// Group sizes: how many generated repositories share one organisation or
// project, as teams split them in practice (up to 250 per Quay organisation,
// 100 per Harbor project); small estates still get eight groups so every
// rule set shows up.
const (
	quayOrgSize       = 250
	harborProjectSize = 100
)

func groupSize(n, most int) int { return min(most, max(5, (n+7)/8)) }

func (b *backend) seed(s *Sandbox, n int) error {
	if ok, err := s.seedMore(b, n); ok {
		return err
	}
	switch b.kind {
	case providers.KindECR:
		return seedECR(s.ecr, n)
	case providers.KindArtifactRegistry:
		return seedAR(s.ar, n)
	case providers.KindACR:
		seedACR(s, n)
		return nil
	case providers.KindDockerHub:
		return seedHub(s.hub, b.list("namespaces")[0], n)
	case providers.KindQuay:
		orgs, err := seedQuay(s, n)
		b.setList("namespaces", append(b.list("namespaces"), orgs...))
		return err
	case providers.KindHarbor:
		return seedHarbor(s.harbor, n)
	case providers.KindOCI:
		return seedOCI(s.oci, n)
	case providers.KindGHCR:
		return seedGHCR(s.ghcr, n)
	}
	return nil
}

// seedECR spreads repositories over the demo's two regions: 40% MUTABLE,
// 35% IMMUTABLE, 10% IMMUTABLE_WITH_EXCLUSION latest (compliant under the
// sandbox policy), 5% IMMUTABLE_WITH_EXCLUSION dev-*, 5%
// MUTABLE_WITH_EXCLUSION release-*, and 5% pull-through-cache repositories
// in us-east-1 (exempt by default).
func seedECR(srv *ecremu.Server, n int) error {
	regions := []string{"us-east-1", "eu-west-1"}
	for i := range n {
		region := regions[i%2]
		name := fmt.Sprintf("team-%02d/svc-%05d", i%37, i)
		var mode string
		var excl []string
		switch b := i % 20; {
		case b < 8:
			mode = ecremu.Mutable
		case b < 15:
			mode = ecremu.Immutable
		case b < 17:
			mode, excl = ecremu.ImmutableWithExclusion, []string{"latest"}
		case b == 17:
			mode, excl = ecremu.ImmutableWithExclusion, []string{"dev-*"}
		case b == 18:
			mode, excl = ecremu.MutableWithExclusion, []string{"release-*"}
		default:
			mode = ecremu.Mutable
			if region == "us-east-1" {
				name = fmt.Sprintf("ecr-public/library/mirror-%05d", i)
			}
		}
		if err := srv.CreateRepository(ecremu.DefaultAccount, region, name, mode, excl...); err != nil {
			return err
		}
	}
	return nil
}

// seedAR spreads docker repositories over the demo project's two locations:
// 55% standard mutable, 35% standard immutable, 5% remote, 5% virtual.
func seedAR(srv *aremu.Server, n int) error {
	locs := []string{"us-central1", "europe-west1"}
	for i := range n {
		mode, immutable := aremu.ModeStandard, false
		switch b := i % 20; {
		case b < 11:
		case b < 18:
			immutable = true
		case b == 18:
			mode = aremu.ModeRemote
		default:
			mode = aremu.ModeVirtual
		}
		if err := srv.CreateRepository(aremu.DemoProject, locs[i%2], fmt.Sprintf("svc-%05d", i), mode, immutable); err != nil {
			return err
		}
	}
	return nil
}

// seedACR gives each repository one to four tags: 50% of repositories
// fully locked, 20% partly locked, 30% unlocked.
func seedACR(s *Sandbox, n int) {
	for i := range n {
		name := fmt.Sprintf("team-%02d/app-%05d", i%23, i)
		tags := 1 + i%4
		b := i % 20
		if b >= 10 && b < 14 && tags < 2 {
			tags = 2
		}
		for t := range tags {
			var locked bool
			switch {
			case b < 10:
				locked = true
			case b < 14:
				locked = t < tags/2
			}
			s.acr.AddTag(name, fmt.Sprintf("v1.%d.0", t), locked)
		}
	}
}

// seedHub fills the demo namespace: 40% disabled, 40% enabled with ".*",
// 15% enabled with release rules only (partial), 5% disabled with a
// leftover rule; every third repository is private.
func seedHub(srv *hubemu.Server, ns string, n int) error {
	for i := range n {
		r := hubemu.Repository{Namespace: ns, Name: fmt.Sprintf("svc-%05d", i), Private: i%3 == 0}
		switch b := i % 20; {
		case b < 8:
		case b < 16:
			r.ImmutableEnabled, r.ImmutableRules = true, []string{".*"}
		case b < 19:
			r.ImmutableEnabled, r.ImmutableRules = true, []string{`^v[0-9]+\.[0-9]+\.[0-9]+$`}
		default:
			r.ImmutableRules = []string{".*"}
		}
		if err := srv.AddRepository(r); err != nil {
			return err
		}
	}
	return nil
}

// seedQuay creates organisations of up to quayOrgSize repositories; every fifth
// organisation has a universal organisation policy. Elsewhere 40% of
// repositories have a universal repository policy, 15% a release-only one
// (partial) and 45% none. It returns the organisations it created.
func seedQuay(s *Sandbox, n int) ([]string, error) {
	srv := s.quay
	size := groupSize(n, quayOrgSize)
	var orgs []string
	for i := range n {
		o := i / size
		org := fmt.Sprintf("org-%02d", o)
		if i%size == 0 {
			srv.AddOrg(org)
			orgs = append(orgs, org)
			if o%5 == 4 {
				if _, err := srv.AddOrgPolicy(org, ".*", true); err != nil {
					return orgs, err
				}
			}
		}
		name := fmt.Sprintf("svc-%05d", i)
		if err := srv.AddRepo(org, name); err != nil {
			return orgs, err
		}
		var pattern string
		switch b := i % 20; {
		case b < 8:
			pattern = ".*"
		case b < 11:
			pattern = `v[0-9]+\..*`
		}
		if pattern != "" {
			if _, err := srv.AddRepoPolicy(org, name, pattern, true); err != nil {
				return orgs, err
			}
		}
	}
	return orgs, nil
}

// seedHarbor creates projects of up to harborProjectSize repositories, one rule
// set per project in turn: none (mutable), a universal rule (immutable),
// a universal rule excluding latest (compliant under the sandbox policy),
// a disabled universal rule (mutable).
func seedHarbor(srv *harboremu.Server, n int) error {
	size := groupSize(n, harborProjectSize)
	for i := range n {
		p := i / size
		proj := fmt.Sprintf("proj-%02d", p)
		if i%size == 0 {
			srv.AddProject(proj, p%3 == 0)
			var rule *harboremu.Rule
			switch p % 4 {
			case 1:
				r := harboremu.NewRule("repoMatches", "**", "matches", "**")
				rule = &r
			case 2:
				r := harboremu.NewRule("repoMatches", "**", "excludes", "latest")
				rule = &r
			case 3:
				r := harboremu.NewRule("repoMatches", "**", "matches", "**")
				r.Disabled = true
				rule = &r
			}
			if rule != nil {
				if _, err := srv.AddRule(proj, *rule); err != nil {
					return err
				}
			}
		}
		name := fmt.Sprintf("svc-%05d", i)
		if i%7 == 0 {
			name = fmt.Sprintf("team-%d/svc-%05d", i%5, i)
		}
		if err := srv.AddRepo(proj, name); err != nil {
			return err
		}
	}
	return nil
}
