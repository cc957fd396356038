package nexus

import (
	"fmt"

	"github.com/immutag/immutag/internal/emulator"
)

// Deny refuses scope, a repository.
func (d *Demo) Deny(scope string) error {
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the images the demo seeds in audited repositories.
const demoRepositories = 5

// repositorySize is how many generated images share one repository, the
// unit the write policy applies to.
const repositorySize = 100

// Grow adds Docker hosted repositories of up to repositorySize images: 40%
// ALLOW (mutable), 35% ALLOW_ONCE (immutable), 15% ALLOW_ONCE with
// latestPolicy (partial, latest mutable: compliant under the sandbox
// policy), 10% DENY.
func (d *Demo) Grow(total int) error {
	n := total - demoRepositories
	size := emulator.GroupSize(n, repositorySize)
	for i := range n {
		r := i / size
		name := fmt.Sprintf("docker-gen-%03d", r)
		if i%size == 0 {
			policy, latest := "ALLOW", false
			switch b := r % 20; {
			case b < 8:
			case b < 15:
				policy = "ALLOW_ONCE"
			case b < 18:
				policy, latest = "ALLOW_ONCE", true
			default:
				policy = "DENY"
			}
			d.AddDockerHosted(name, policy, latest)
		}
		if err := d.AddImage(name, fmt.Sprintf("team-%d/svc-%05d", i%5, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}
