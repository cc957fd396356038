package bench

import (
	"testing"
	"time"

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

	c := compare(hub, map[string]int64{"auth.token": 1, "repositories.list": 3, "repository.get": 260, "GET oauth2/token": 9})
	if c.Redundant != 10 || c.Extra["repository.get"] != 10 || c.Auth != 9 || c.Actual != 264 {
		t.Errorf("compare = %+v", c)
	}
	if c := compare(hub, map[string]int64{"repository.get": 100, "repository.delete": 1}); c.Redundant != 1 {
		t.Errorf("an operation outside the model is not redundant: %+v", c)
	}
}
