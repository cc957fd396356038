package ecr

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/emulator"
)

// Endpoint is the emulator's URL.
func (d *demo) Endpoint() string { return d.web.URL() }

// Calls counts the ECR and STS calls served.
func (d *demo) Calls() *emulator.Counter { return d.s.Calls() }

// SetFaults replaces the injected faults.
func (d *demo) SetFaults(f emulator.Faults) { d.s.SetFaults(f) }

// Deny refuses every call to scope, ACCOUNT/REGION.
func (d *demo) Deny(scope string) error {
	acct, region, ok := strings.Cut(scope, "/")
	if !ok || acct == "" || region == "" || strings.Contains(region, "/") {
		return fmt.Errorf("ecr scope %q: want ACCOUNT/REGION", scope)
	}
	if err := emulator.Audited(d.Provider(), "region", region, "regions"); err != nil {
		return err
	}
	d.s.Deny(acct, region, "*")
	return nil
}

// Grow spreads repositories over the demo's two regions: 40% MUTABLE,
// 35% IMMUTABLE, 10% IMMUTABLE_WITH_EXCLUSION latest (compliant under the
// sandbox policy), 5% IMMUTABLE_WITH_EXCLUSION dev-*, 5%
// MUTABLE_WITH_EXCLUSION release-*, and 5% pull-through-cache repositories
// in us-east-1 (exempt by default).
func (d *demo) Grow(total int) error {
	for i := range total - len(demoRepos) {
		region := demoRegions[i%2]
		name := fmt.Sprintf("team-%02d/svc-%05d", i%37, i)
		var mode string
		var excl []string
		switch b := i % 20; {
		case b < 8:
			mode = Mutable
		case b < 15:
			mode = Immutable
		case b < 17:
			mode, excl = ImmutableWithExclusion, []string{"latest"}
		case b == 17:
			mode, excl = ImmutableWithExclusion, []string{"dev-*"}
		case b == 18:
			mode, excl = MutableWithExclusion, []string{"release-*"}
		default:
			mode = Mutable
			if region == "us-east-1" {
				name = fmt.Sprintf("ecr-public/library/mirror-%05d", i)
			}
		}
		if err := d.s.CreateRepository(DefaultAccount, region, name, mode, excl...); err != nil {
			return err
		}
	}
	return nil
}
