package lint

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesLintClean: the shipped GitHub Actions examples must parse,
// and release.yml (the workflow users copy) must lint without a finding.
func TestExamplesLintClean(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "github-actions")
	release := filepath.Join(dir, "release.yml")
	if _, err := os.Stat(release); err != nil {
		t.Skipf("%s does not exist yet (issue 04 adds it): %v", release, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		fs, err := LintFile(f, Config{MutableTags: DefaultMutableTags})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, fd := range fs {
			if f == release && !fd.Suppressed() {
				t.Errorf("%s:%d:%d: %s %s", f, fd.Line, fd.Column, fd.RuleID, fd.Message)
			} else {
				t.Logf("%s:%d: %s (suppressed=%v)", f, fd.Line, fd.RuleID, fd.Suppressed())
			}
		}
	}
}

// TestGitLabExamplesLintClean: the GitLab CI examples are linted as GitLab
// pipelines and push nothing mutable.
func TestGitLabExamplesLintClean(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "gitlab-ci*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no GitLab examples: %v", err)
	}
	for _, f := range files {
		fs, err := LintFile(f, Config{MutableTags: DefaultMutableTags})
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, fd := range fs {
			t.Errorf("%s:%d:%d: %s %s", f, fd.Line, fd.Column, fd.RuleID, fd.Message)
		}
	}
}
