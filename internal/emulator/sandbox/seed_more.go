package sandbox

import (
	"fmt"

	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
)

// Group sizes of the generated GitLab, Nexus and Artifactory estates:
// repositories per GitLab project, images per Nexus or Artifactory
// repository (the unit their setting applies to).
const (
	gitlabProjectSize = 20
	repositorySize    = 100
)

// latestComplement is the immutable rule a gitlab fix writes for
// mutable_tags_allowed [latest]: every tag but "latest" (RE2 has no
// lookahead, so the complement is spelled out).
const latestComplement = `^(?:[^l].*|l|l[^a].*|la|la[^t].*|lat|lat[^e].*|late|late[^s].*|lates|lates[^t].*|latest.+)$`

// seedGitLab adds projects under acme/gen (covered by the demo's group
// acme with its subgroups), each with its own tag rules: 40% none
// (mutable), 35% an immutable ".*" rule, 10% the rule that keeps latest
// mutable (compliant under the sandbox policy), 10% push protection only
// (partial, Maintainers can overwrite), 5% on a tier without immutable
// rules (a fix is refused).
func seedGitLab(srv *glemu.Server, n int) error {
	size := groupSize(n, gitlabProjectSize)
	maintainer := "MAINTAINER"
	for i := range n {
		p := i / size
		proj := fmt.Sprintf("acme/gen-%02d/proj-%03d", p%10, p)
		if i%size == 0 {
			srv.AddGroup(fmt.Sprintf("acme/gen-%02d", p%10))
			var rule *glemu.Rule
			o := glemu.Project{}
			switch b := p % 20; {
			case b < 8:
			case b < 15:
				rule = &glemu.Rule{Pattern: ".*"}
			case b < 17:
				rule = &glemu.Rule{Pattern: latestComplement}
			case b < 19:
				rule = &glemu.Rule{Pattern: "^v.*", PushLevel: &maintainer, DeleteLevel: &maintainer}
			default:
				o.Free = true
			}
			if err := srv.AddProject(proj, o); err != nil {
				return err
			}
			if rule != nil {
				if _, err := srv.AddRule(proj, *rule); err != nil {
					return err
				}
			}
		}
		if err := srv.AddRepo(proj, fmt.Sprintf("svc-%05d", i), "v1"); err != nil {
			return err
		}
	}
	return nil
}

// seedNexus adds Docker hosted repositories of up to 100 images: 40% ALLOW
// (mutable), 35% ALLOW_ONCE (immutable), 15% ALLOW_ONCE with latestPolicy
// (partial, latest mutable: compliant under the sandbox policy), 10% DENY.
func seedNexus(srv *nxemu.Server, n int) error {
	size := groupSize(n, repositorySize)
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
			srv.AddDockerHosted(name, policy, latest)
		}
		if err := srv.AddImage(name, fmt.Sprintf("team-%d/svc-%05d", i%5, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}

// seedArtifactory adds Docker local repositories of up to 100 images: in
// 20% of them an auto-join group (every user) holds Delete/Overwrite
// (mutable), in 40% a deployers group does (partial), in the rest only
// administrators do (immutable).
func seedArtifactory(srv *afemu.Server, n int) error {
	size := groupSize(n, repositorySize)
	srv.AddGroup("gen-deployers", false)
	srv.SetGroup("gen-everyone", afemu.Group{AutoJoin: true})
	for i := range n {
		r := i / size
		name := fmt.Sprintf("docker-gen-%03d", r)
		if i%size == 0 {
			srv.AddRepo(name, "local", "docker")
			actions := []string{"read", "write"}
			if r%5 < 3 {
				actions = append(actions, "delete")
			}
			group := "gen-deployers"
			if r%5 == 0 {
				group = "gen-everyone"
			}
			srv.SetTarget(afemu.Target{Name: "gen-" + name, Repos: []string{name},
				Groups: map[string][]string{group: actions}})
		}
		if err := srv.AddImage(name, fmt.Sprintf("team-%d/svc-%05d", i%5, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}
