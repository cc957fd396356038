package bench

import (
	"testing"
	"time"

	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers"
)

// TestModel checks the call model and the lower bound on a hand-built
// report (no emulator, no child process).
func TestModel(t *testing.T) {
	var rep report
	add := func(provider string, kind providers.Kind, scope string, n int) {
		rep.Scopes = append(rep.Scopes, struct {
			Provider     string         `json:"provider"`
			Kind         providers.Kind `json:"kind"`
			Scope        string         `json:"scope"`
			Status       string         `json:"status"`
			Repositories int            `json:"repositories"`
		}{provider, kind, scope, "ok", n})
	}
	add("hub", "dockerhub", "acme", 250)
	add("aws", "ecr", "1/us-east-1", 1000)
	add("aws", "ecr", "1/eu-west-1", 1001)
	add("harbor", "harbor", "a", 0)
	add("harbor", "harbor", "b", 101)
	add("gl", "gitlab", "acme/web", 250)
	add("gl", "gitlab", "acme/api", 0)
	add("nx", "nexus", "docker-a", 100)
	add("nx", "nexus", "docker-b", 101)
	add("ghcr", "ghcr", "acme", 150)
	add("ghcr", "ghcr", "alice", 3)
	ms := models(&rep, &sandbox.Sandbox{})

	hub := ms["hub"]
	if hub.Calls["repositories.list"] != 3 || hub.Calls["repository.get"] != 250 || hub.total() != 254 || hub.Chain != 5 {
		t.Errorf("hub model %+v chain %d", hub.Calls, hub.Chain)
	}
	// 254 calls at 20 ms with 8 in flight: 635 ms, above the 5-call chain.
	if got := hub.bound(20*time.Millisecond, 8); got != 635*time.Millisecond {
		t.Errorf("hub bound %s, want 635ms", got)
	}
	aws := ms["aws"]
	if aws.Calls["DescribeRepositories"] != 3 || aws.Calls["DescribePullThroughCacheRules"] != 2 || aws.Calls["GetCallerIdentity"] != 1 || aws.Chain != 3 {
		t.Errorf("ecr model %+v chain %d", aws.Calls, aws.Chain)
	}
	// Few calls: the chain of sequential pages is the bound.
	if got := aws.bound(20*time.Millisecond, 8); got != 60*time.Millisecond {
		t.Errorf("ecr bound %s, want 60ms", got)
	}
	h := ms["harbor"]
	if h.Calls["listProjects"] != 1 || h.Calls["ListImmuRules"] != 2 || h.Calls["listRepositories"] != 3 || h.Chain != 3 {
		t.Errorf("harbor model %+v chain %d", h.Calls, h.Chain)
	}

	// Two projects plus the demo's registry-disabled one: one project page;
	// the rules read and the repository pages per project after it.
	gl := ms["gl"]
	if gl.Calls["listGroupProjects"] != 1 || gl.Calls["graphql"] != 2 || gl.Calls["listRegistryRepositories"] != 4 || gl.total() != 7 || gl.Chain != 5 {
		t.Errorf("gitlab model %+v chain %d", gl.Calls, gl.Chain)
	}
	// The emulator's per-operation GraphQL counter is a breakdown of the
	// "graphql" calls, not more calls.
	if c := compare(gl, map[string]int64{"listGroupProjects": 1, "graphql": 2, "graphql:containerProtectionTagRules": 2, "listRegistryRepositories": 4}); c.Actual != 7 || c.Redundant != 0 {
		t.Errorf("gitlab compare = %+v", c)
	}
	nx := ms["nx"]
	if nx.Calls["getRepositories"] != 1 || nx.Calls["getDockerHostedRepository"] != 2 || nx.Calls["catalog"] != 3 || nx.Chain != 4 {
		t.Errorf("nexus model %+v chain %d", nx.Calls, nx.Chain)
	}
	gh := ms["ghcr"]
	if gh.Calls["getUser"] != 2 || gh.Calls["listOrgPackages"] != 2 || gh.Calls["listUserPackages"] != 1 || gh.Chain != 3 {
		t.Errorf("ghcr model %+v chain %d", gh.Calls, gh.Chain)
	}

	c := compare(hub, map[string]int64{"auth.token": 1, "repositories.list": 3, "repository.get": 260, "GET oauth2/token": 9})
	if c.Redundant != 10 || c.Extra["repository.get"] != 10 || c.Auth != 9 || c.Actual != 264 {
		t.Errorf("compare = %+v", c)
	}
	if c := compare(hub, map[string]int64{"repository.get": 100, "repository.delete": 1}); c.Redundant != 1 {
		t.Errorf("an operation outside the model is not redundant: %+v", c)
	}
}

// TestAFHolders counts the Artifactory principals an audit must look up:
// those that can overwrite where an audited repository is covered.
func TestAFHolders(t *testing.T) {
	targets := []afemu.Target{
		{Name: "a", Repos: []string{"docker-a"}, Users: map[string][]string{"alice": {"read", "delete"}, "carol": {"read", "write"}},
			Groups: map[string][]string{"ci": {"manage"}}},
		{Name: "b", Repos: []string{"docker-unaudited"}, Users: map[string][]string{"bob": {"delete"}}},
		{Name: "c", Repos: []string{"ANY LOCAL"}, Groups: map[string][]string{"ci": {"d"}, "ops": {"m"}}},
	}
	if u, g := afHolders(targets, []string{"docker-a"}); u != 1 || g != 2 {
		t.Errorf("afHolders = %d users, %d groups; want alice, and ci and ops", u, g)
	}
}
