package harbor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/immutag/immutag/internal/emulator"
)

// Deny refuses scope, a project. With no projects configured every
// project is audited, so the name is checked against those that exist.
func (d *Demo) Deny(scope string) error {
	if err := emulator.Audited(d.Provider(), "project", scope, "projects"); err != nil {
		return err
	}
	if names := d.ProjectNames(); !slices.Contains(names, scope) {
		return fmt.Errorf("project %q does not exist in the sandbox's Harbor (its projects: %s)", scope, strings.Join(names, ", "))
	}
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the repositories the demo seeds.
const demoRepositories = 7

// projectSize is how many generated repositories share one project.
const projectSize = 100

// Grow creates projects of up to projectSize repositories, one rule set
// per project in turn: none (mutable), a universal rule (immutable), a
// universal rule excluding latest (compliant under the sandbox policy), a
// disabled universal rule (mutable).
func (d *Demo) Grow(total int) error {
	n := total - demoRepositories
	size := emulator.GroupSize(n, projectSize)
	for i := range n {
		p := i / size
		proj := fmt.Sprintf("proj-%02d", p)
		if i%size == 0 {
			d.AddProject(proj, p%3 == 0)
			var rule *Rule
			switch p % 4 {
			case 1:
				r := NewRule("repoMatches", "**", "matches", "**")
				rule = &r
			case 2:
				r := NewRule("repoMatches", "**", "excludes", "latest")
				rule = &r
			case 3:
				r := NewRule("repoMatches", "**", "matches", "**")
				r.Disabled = true
				rule = &r
			}
			if rule != nil {
				if _, err := d.AddRule(proj, *rule); err != nil {
					return err
				}
			}
		}
		name := fmt.Sprintf("svc-%05d", i)
		if i%7 == 0 {
			name = fmt.Sprintf("team-%d/svc-%05d", i%5, i)
		}
		if err := d.AddRepo(proj, name); err != nil {
			return err
		}
	}
	return nil
}
