package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\nsixteen\n"
	want := `--- f
+++ f
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
@@ -13,3 +13,4 @@
 13
 14
 15
+sixteen
`
	if got := UnifiedDiff("f", []byte(a), []byte(b)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := UnifiedDiff("f", []byte(a), []byte(a)); got != "" {
		t.Errorf("equal texts: %q", got)
	}
	// The diff applies with patch(1) when it is installed.
	if _, err := exec.LookPath("patch"); err == nil {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(a), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("patch", "-s", p)
		cmd.Stdin = strings.NewReader(UnifiedDiff("f", []byte(a), []byte(b)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("patch: %v %s", err, out)
		}
		if got, _ := os.ReadFile(p); string(got) != b {
			t.Errorf("patched file:\n%s", got)
		}
	}
}

// PlanFixes applies every finding's edits of each file, skipping the ones
// that conflict, and the result lints cleaner.
func TestPlanFixes(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/a.yml": `on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker build -t ghcr.io/acme/app .
          docker push ghcr.io/acme/app
          docker push ghcr.io/acme/other:latest
`,
	})
	file := filepath.Join(root, ".github/workflows/a.yml")
	res := Lint([]string{file}, testCfg)
	if len(res.Findings) != 2 {
		t.Fatalf("findings %v", where(res.Findings))
	}
	plan, err := PlanFixes(res)
	if err != nil || len(plan) != 1 || plan[0].Fixed != 2 {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if err := WriteFix(plan[0]); err != nil {
		t.Fatal(err)
	}
	after := Lint([]string{file}, testCfg)
	if len(after.Findings) != 0 {
		t.Fatalf("after --fix: %v", where(after.Findings))
	}
	got, _ := os.ReadFile(file)
	if !strings.Contains(string(got), "docker push ghcr.io/acme/app:${GITHUB_SHA}") || !strings.Contains(string(got), "docker build -t ghcr.io/acme/app:${GITHUB_SHA} .") {
		t.Errorf("fixed file:\n%s", got)
	}
}
