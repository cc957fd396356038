package gitlab

import (
	"fmt"

	"github.com/immutag/immutag/internal/emulator"
)

// Deny refuses scope, a project path.
func (d *Demo) Deny(scope string) error {
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the container repositories the demo seeds.
const demoRepositories = 5

// projectSize is how many generated repositories share one project.
const projectSize = 20

// latestComplement is the immutable rule a gitlab fix writes for
// mutable_tags_allowed [latest]: every tag but "latest" (RE2 has no
// lookahead, so the complement is spelled out).
const latestComplement = `^(?:[^l].*|l|l[^a].*|la|la[^t].*|lat|lat[^e].*|late|late[^s].*|lates|lates[^t].*|latest.+)$`

// Grow adds projects under acme/gen (covered by the demo's group acme
// with its subgroups), each with its own tag rules: 40% none (mutable),
// 35% an immutable ".*" rule, 10% the rule that keeps latest mutable
// (compliant under the sandbox policy), 10% push protection only
// (partial, Maintainers can overwrite), 5% on a tier without immutable
// rules (a fix is refused).
func (d *Demo) Grow(total int) error {
	n := total - demoRepositories
	size := emulator.GroupSize(n, projectSize)
	maintainer := "MAINTAINER"
	for i := range n {
		p := i / size
		proj := fmt.Sprintf("acme/gen-%02d/proj-%03d", p%10, p)
		if i%size == 0 {
			d.AddGroup(fmt.Sprintf("acme/gen-%02d", p%10))
			var rule *Rule
			o := Project{}
			switch b := p % 20; {
			case b < 8:
			case b < 15:
				rule = &Rule{Pattern: ".*"}
			case b < 17:
				rule = &Rule{Pattern: latestComplement}
			case b < 19:
				rule = &Rule{Pattern: "^v.*", PushLevel: &maintainer, DeleteLevel: &maintainer}
			default:
				o.Free = true
			}
			if err := d.AddProject(proj, o); err != nil {
				return err
			}
			if rule != nil {
				if _, err := d.AddRule(proj, *rule); err != nil {
					return err
				}
			}
		}
		if err := d.AddRepo(proj, fmt.Sprintf("svc-%05d", i), "v1"); err != nil {
			return err
		}
	}
	return nil
}
