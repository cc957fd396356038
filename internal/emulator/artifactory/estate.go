package artifactory

import (
	"fmt"

	"github.com/immutag/immutag/internal/emulator"
)

// Deny refuses scope, a repository key.
func (d *Demo) Deny(scope string) error {
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the images the demo seeds in audited repositories.
const demoRepositories = 6

// repositorySize is how many generated images share one repository, the
// unit permissions apply to.
const repositorySize = 100

// Grow adds Docker local repositories of up to repositorySize images: in
// 20% of them an auto-join group (every user) holds Delete/Overwrite
// (mutable), in 40% a deployers group does (partial), in the rest only
// administrators do (immutable).
func (d *Demo) Grow(total int) error {
	n := total - demoRepositories
	if n <= 0 {
		return nil
	}
	size := emulator.GroupSize(n, repositorySize)
	d.AddGroup("gen-deployers", false)
	d.SetGroup("gen-everyone", Group{AutoJoin: true})
	for i := range n {
		r := i / size
		name := fmt.Sprintf("docker-gen-%03d", r)
		if i%size == 0 {
			d.AddRepo(name, "local", "docker")
			actions := []string{"read", "write"}
			if r%5 < 3 {
				actions = append(actions, "delete")
			}
			group := "gen-deployers"
			if r%5 == 0 {
				group = "gen-everyone"
			}
			d.SetTarget(Target{Name: "gen-" + name, Repos: []string{name},
				Groups: map[string][]string{group: actions}})
		}
		if err := d.AddImage(name, fmt.Sprintf("team-%d/svc-%05d", i%5, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}
