package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cliResult is one aws CLI invocation's stdout, or its stderr as an error.
type cliResult struct {
	out []byte
	err error
}

// TestAWSCLI checks the emulator against a second, independent client: the
// aws CLI (botocore), which parses responses with its own code.
func TestAWSCLI(t *testing.T) {
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH; install it to run this wire check")
	}
	s := startServer(t, Options{})
	for _, r := range []struct{ name, mode string }{{"cli/alpha", Mutable}, {"cli/beta", Immutable}, {"cli/gamma", Mutable}} {
		if err := s.CreateRepository("", "us-east-1", r.name, r.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateRepository("", "eu-west-1", "cli/west", Mutable); err != nil {
		t.Fatal(err)
	}
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLITEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cli-test-secret")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")

	run := func(args ...string) cliResult {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		full := append([]string{"--endpoint-url", s.URL(), "--output", "json"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return cliResult{out, errors.New(strings.TrimSpace(stderr.String()))}
		}
		return cliResult{out, nil}
	}
	// Each CLI start costs seconds of Python import time, so the
	// invocations that do not depend on each other run side by side.
	runAll := func(cmds ...[]string) []cliResult {
		res := make([]cliResult, len(cmds))
		var wg sync.WaitGroup
		for i, c := range cmds {
			wg.Go(func() { res[i] = run(c...) })
		}
		wg.Wait()
		return res
	}

	res := runAll(
		// --page-size 2 makes the CLI follow our nextToken across two pages.
		[]string{"ecr", "describe-repositories", "--region", "us-east-1", "--page-size", "2"},
		// The region comes from the CLI's signature, not from the endpoint.
		[]string{"ecr", "describe-repositories", "--region", "eu-west-1"},
		// A modeled error reaches the CLI with its code.
		[]string{"ecr", "put-image-tag-mutability", "--region", "us-east-1", "--repository-name", "cli/beta",
			"--image-tag-mutability", "IMMUTABLE", "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=bad/filter"},
	)

	if res[0].err != nil {
		t.Fatalf("describe-repositories: %v", res[0].err)
	}
	var desc struct {
		Repositories []struct {
			RepositoryName     string          `json:"repositoryName"`
			ImageTagMutability string          `json:"imageTagMutability"`
			CreatedAt          json.RawMessage `json:"createdAt"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal(res[0].out, &desc); err != nil {
		t.Fatalf("parse %s: %v", res[0].out, err)
	}
	var names []string
	for _, r := range desc.Repositories {
		names = append(names, r.RepositoryName+"="+r.ImageTagMutability)
		if at, err := cliTime(r.CreatedAt); err != nil || time.Since(at).Abs() > time.Hour {
			t.Errorf("createdAt %s: %v (time %v)", r.CreatedAt, err, at)
		}
	}
	if want := []string{"cli/alpha=MUTABLE", "cli/beta=IMMUTABLE", "cli/gamma=MUTABLE"}; !slices.Equal(names, want) {
		t.Errorf("CLI saw %v, want %v", names, want)
	}
	// Two pages in us-east-1 plus one call in eu-west-1.
	if n := s.Calls().Get("DescribeRepositories"); n != 3 {
		t.Errorf("CLI made %d DescribeRepositories calls, want 3", n)
	}

	if res[1].err != nil {
		t.Fatalf("describe-repositories eu-west-1: %v", res[1].err)
	}
	if out := string(res[1].out); !strings.Contains(out, `"cli/west"`) || strings.Contains(out, "cli/alpha") {
		t.Errorf("eu-west-1 listing: %s", out)
	}

	if res[2].err == nil || !strings.Contains(res[2].err.Error(), "InvalidParameterException") {
		t.Errorf("invalid filter via CLI: %v", res[2].err)
	}

	put := run("ecr", "put-image-tag-mutability", "--region", "us-east-1", "--repository-name", "cli/alpha",
		"--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION",
		"--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=latest", "filterType=WILDCARD,filter=dev-*")
	if put.err != nil {
		t.Fatalf("put-image-tag-mutability: %v", put.err)
	}
	var echo struct {
		RegistryID         string `json:"registryId"`
		ImageTagMutability string `json:"imageTagMutability"`
		Filters            []struct {
			FilterType string `json:"filterType"`
			Filter     string `json:"filter"`
		} `json:"imageTagMutabilityExclusionFilters"`
	}
	if err := json.Unmarshal(put.out, &echo); err != nil {
		t.Fatalf("parse %s: %v", put.out, err)
	}
	if echo.RegistryID != DefaultAccount || echo.ImageTagMutability != ImmutableWithExclusion || len(echo.Filters) != 2 || echo.Filters[1].Filter != "dev-*" {
		t.Errorf("put-image-tag-mutability answered %+v", echo)
	}
	if st, _ := s.Repository("", "us-east-1", "cli/alpha"); st.Mutability != ImmutableWithExclusion || !slices.Equal(st.Exclusions, []string{"latest", "dev-*"}) {
		t.Errorf("state after CLI write: %+v", st)
	}
}

// cliTime reads a timestamp as the CLI prints it: epoch seconds (v1's
// default cli_timestamp_format "none") or ISO 8601 (v2).
func cliTime(raw json.RawMessage) (time.Time, error) {
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		return time.UnixMilli(int64(secs * 1000)), nil
	}
	var iso string
	if err := json.Unmarshal(raw, &iso); err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, iso)
}
