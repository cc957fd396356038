package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	lintClean = "on: push\njobs:\n  j:\n    steps:\n      - run: docker push ghcr.io/acme/app:${GITHUB_SHA}\n"
	lintDirty = "on: push\njobs:\n  j:\n    steps:\n      - run: docker push ghcr.io/acme/app\n"
	lintDev   = "on: push\njobs:\n  j:\n    steps:\n      - run: docker push ghcr.io/acme/app:dev\n"
	lintBad   = "on: push\njobs: [\n"
)

func writeWorkflows(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLintExitCodes(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		code  int
	}{
		{"clean", map[string]string{"a.yml": lintClean}, nil, CodeOK},
		{"findings are reported, not fatal", map[string]string{"a.yml": lintDirty}, nil, CodeOK},
		{"findings with the gate", map[string]string{"a.yml": lintDirty}, []string{"--fail-on-findings"}, CodeDrift},
		{"warnings count for the gate", map[string]string{"a.yml": lintDev}, []string{"--fail-on-findings"}, CodeDrift},
		{"mutable tags can be turned off", map[string]string{"a.yml": lintDev}, []string{"--fail-on-findings", "--mutable-tags="}, CodeOK},
		{"malformed file alone", map[string]string{"a.yml": lintClean, "b.yml": lintBad}, []string{"--fail-on-findings"}, CodeError},
		{"findings win over a malformed file", map[string]string{"a.yml": lintDirty, "b.yml": lintBad}, []string{"--fail-on-findings"}, CodeDrift},
		{"malformed file without the gate", map[string]string{"a.yml": lintDirty, "b.yml": lintBad}, nil, CodeError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeWorkflows(t, c.files)
			r := run(t, testFactory(t), "", append([]string{"lint", dir}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nerr: %v", r.code, c.code, r.stdout, r.err)
			}
			if _, ok := c.files["b.yml"]; ok {
				if !strings.Contains(r.stdout, filepath.Join(dir, "b.yml")+":2:") {
					t.Errorf("the malformed file is not reported with its line:\n%s", r.stdout)
				}
				if strings.Contains(c.files["a.yml"], "acme/app\n") && !strings.Contains(r.stdout, "implicit-latest") {
					t.Errorf("the good file beside the malformed one was not linted:\n%s", r.stdout)
				}
			}
		})
	}
}

func TestLintDefaultPathAndErrors(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{".github/workflows/ci.yml": lintDirty})
	t.Chdir(dir)
	r := run(t, testFactory(t), "", "lint", "-o", "json")
	if r.code != CodeOK {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	var rep struct {
		Files    []string
		Findings []struct {
			RuleID string `json:"rule_id"`
			File   string
			Line   int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if !slices.Equal(rep.Files, []string{filepath.Join(".github", "workflows", "ci.yml")}) || len(rep.Findings) != 1 || rep.Findings[0].Line != 5 {
		t.Errorf("report %+v", rep)
	}

	r = run(t, testFactory(t), "", "lint", "no/such/path")
	if r.code != CodeError || !strings.Contains(r.err.Error(), "no/such/path") {
		t.Errorf("missing path: exit %d err %v", r.code, r.err)
	}
	for _, args := range [][]string{{"lint", "-o", "xml"}, {"lint", "--mutable-tags", "a:b"}} {
		if r := run(t, testFactory(t), "", args...); r.code != CodeError || r.err == nil {
			t.Errorf("%v accepted: exit %d", args, r.code)
		}
	}
}

func TestLintSARIFToFile(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{".github/workflows/ci.yml": lintDirty})
	t.Chdir(dir)
	out := filepath.Join(dir, "lint.sarif")
	r := run(t, testFactory(t), "", "lint", "-o", "sarif", "--output", out, "--fail-on-findings")
	if r.code != CodeDrift {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct{ StartLine, StartColumn int }
					} `json:"physicalLocation"`
				}
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	res := log.Runs[0].Results
	if log.Version != "2.1.0" || len(res) != 1 || res[0].RuleID != "implicit-latest" {
		t.Fatalf("sarif %+v", log)
	}
	loc := res[0].Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != ".github/workflows/ci.yml" || loc.Region.StartLine != 5 || loc.Region.StartColumn != 26 {
		t.Errorf("location %+v", loc)
	}
	if r.stdout != "" {
		t.Errorf("report went to stdout too: %q", r.stdout)
	}
}

func TestLintFlags(t *testing.T) {
	var got *LintOptions
	cmd := NewCmdLint(testFactory(t), func(_ context.Context, o *LintOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"a.yml", "b", "--mutable-tags", "dev, nightly,,", "-o", "sarif"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Paths, []string{"a.yml", "b"}) || !slices.Equal(got.MutableTags, []string{"dev", "nightly"}) || got.Format != "sarif" {
		t.Errorf("options %+v", got)
	}
	cmd = NewCmdLint(testFactory(t), func(_ context.Context, o *LintOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Paths, []string{DefaultLintPath}) || !slices.Equal(got.MutableTags, []string{"dev", "develop", "development", "main", "master", "stable", "edge",
		"nightly", "beta", "alpha", "canary", "next", "testing", "unstable", "staging", "production", "prod", "snapshot"}) || got.Format != "text" {
		t.Errorf("defaults %+v", got)
	}
}

// --dry-run prints the fixes as a diff and writes nothing; --fix writes
// them and the file then lints clean.
func TestLintFixAndDryRun(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"a.yml": lintDirty})
	file := filepath.Join(dir, "a.yml")
	r := run(t, testFactory(t), "", "lint", "--dry-run", "--fail-on-findings", dir)
	if r.code != CodeDrift {
		t.Errorf("dry run: exit %d, want %d (nothing was fixed)", r.code, CodeDrift)
	}
	want := "--- " + file + "\n+++ " + file + "\n@@ -2,4 +2,4 @@\n jobs:\n   j:\n     steps:\n-      - run: docker push ghcr.io/acme/app\n+      - run: docker push ghcr.io/acme/app:${GITHUB_SHA}\n"
	if r.stdout != want {
		t.Errorf("dry run diff:\n%s\nwant:\n%s", r.stdout, want)
	}
	if got, _ := os.ReadFile(file); string(got) != lintDirty {
		t.Fatalf("--dry-run wrote the file:\n%s", got)
	}
	r = run(t, testFactory(t), "", "lint", "--fix", "--fail-on-findings", dir)
	if r.code != CodeOK {
		t.Errorf("--fix: exit %d, want 0 once fixed\n%s", r.code, r.stdout)
	}
	if got, _ := os.ReadFile(file); string(got) != lintClean {
		t.Errorf("fixed file:\n%s\nwant:\n%s", got, lintClean)
	}
}
