package depcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func goTool(t *testing.T) string {
	t.Helper()
	// The go command that runs this test sets GOROOT for it; fall back to
	// PATH when the test binary runs on its own.
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the packages with")
	}
	return p
}

// TestModuleBoundaries checks the real import graph.
func TestModuleBoundaries(t *testing.T) {
	pkgs, err := Load(goTool(t), "../..")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pkgs, func(p Package) bool { return p.ImportPath == Module+"/internal/providers/ecr" }) {
		t.Fatalf("go list saw %d packages and not the ECR adapter: wrong directory?", len(pkgs))
	}
	for _, v := range Check(pkgs, Rules()) {
		t.Error(v)
	}
}

// TestRulesCatchViolations feeds a made-up graph with one breach of each
// rule, and the allowed cases next to them.
func TestRulesCatchViolations(t *testing.T) {
	m := Module + "/internal/"
	pkgs := []Package{
		{ImportPath: m + "audit", Imports: []string{"github.com/spf13/viper"}},
		{ImportPath: m + "cli", Imports: []string{"github.com/spf13/cobra"}},
		{ImportPath: m + "report", TestImports: []string{"github.com/spf13/cobra/doc"}},
		{ImportPath: m + "providers/quay", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/ecr"}},
		{ImportPath: m + "providers/ecr", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/ecr"}},
		{ImportPath: m + "emulator/artifactregistry", Imports: []string{"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"}},
		{ImportPath: m + "emulator/artifactregistry/x", Imports: []string{"cloud.google.com/go/artifactregistry/apiv1"}},
		{ImportPath: m + "emulator/quay", Deps: []string{m + "providers", m + "providers/httpapi", m + "providers/quay"}},
		{ImportPath: m + "providers", Deps: []string{m + "config", m + "providers/fake"}},
		{ImportPath: m + "lint", XTestImports: []string{m + "testutil"}, Imports: []string{m + "lint/internal/x"}},
	}
	got := Check(pkgs, Rules())
	var lines []string
	for _, v := range got {
		lines = append(lines, v.String())
	}
	want := []string{
		"cobra and viper stay in internal/cli: " + m + "audit imports github.com/spf13/viper",
		"cobra and viper stay in internal/cli: " + m + "report imports github.com/spf13/cobra/doc",
		"a cloud SDK only in its adapter: " + m + "providers/quay imports github.com/aws/aws-sdk-go-v2/service/ecr",
		"a cloud SDK only in its adapter: " + m + "emulator/artifactregistry/x imports cloud.google.com/go/artifactregistry/apiv1",
		"emulators do not depend on adapters: " + m + "emulator/quay imports " + m + "providers/quay",
		"the domain model depends on no adapter: " + m + "providers imports " + m + "providers/fake",
		"internal/lint imports nothing else of immutag: " + m + "lint imports " + m + "testutil",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", join(lines), join(want))
	}
}

func join(l []string) string {
	s := ""
	for _, x := range l {
		s += "  " + x + "\n"
	}
	return s
}
