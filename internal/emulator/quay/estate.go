package quay

import (
	"fmt"

	"github.com/immutag/immutag/internal/emulator"
)

// Deny refuses scope, a namespace.
func (d *Demo) Deny(scope string) error {
	if err := emulator.Audited(d.Provider(), "namespace", scope, "namespaces"); err != nil {
		return err
	}
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the repositories the demo seeds.
const demoRepositories = 5

// orgSize is how many generated repositories share one organisation, as
// teams split them in practice.
const orgSize = 250

// Grow creates organisations of up to orgSize repositories; every fifth
// organisation has a universal organisation policy. Elsewhere 40% of
// repositories have a universal repository policy, 15% a release-only one
// (partial) and 45% none. Provider lists the organisations.
func (d *Demo) Grow(total int) error {
	n := total - demoRepositories
	size := emulator.GroupSize(n, orgSize)
	for i := range n {
		o := i / size
		org := fmt.Sprintf("org-%02d", o)
		if i%size == 0 {
			d.AddOrg(org)
			d.grown = append(d.grown, org)
			if o%5 == 4 {
				if _, err := d.AddOrgPolicy(org, ".*", true); err != nil {
					return err
				}
			}
		}
		name := fmt.Sprintf("svc-%05d", i)
		if err := d.AddRepo(org, name); err != nil {
			return err
		}
		var pattern string
		switch b := i % 20; {
		case b < 8:
			pattern = ".*"
		case b < 11:
			pattern = `v[0-9]+\..*`
		}
		if pattern != "" {
			if _, err := d.AddRepoPolicy(org, name, pattern, true); err != nil {
				return err
			}
		}
	}
	return nil
}
