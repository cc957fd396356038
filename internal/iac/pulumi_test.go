package iac

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// pulumiFindings keys findings by address and the stacks they hold in.
func pulumiFindings(t *testing.T, res *Result) map[string]Finding {
	t.Helper()
	out := map[string]Finding{}
	for _, f := range res.Findings {
		k := filepath.Base(f.File) + " " + f.Address
		if len(f.envs) > 0 {
			k += " (" + strings.Join(f.envs, ", ") + ")"
		}
		if _, dup := out[k]; dup {
			t.Errorf("duplicate finding %s", k)
		}
		out[k] = f
	}
	return out
}

func TestPulumiYAMLPrograms(t *testing.T) {
	res := Scan([]string{"testdata/pulumi"}, Options{})
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	got := pulumiFindings(t, res)
	type w struct {
		status audit.Status
		name   string
	}
	wants := map[string]w{
		// config default IMMUTABLE, set MUTABLE by Pulumi.prod.yaml
		// under the project's namespace (shop:mutability).
		"Pulumi.yaml resources.api (stack dev)":  {comp, "shop/api"},
		"Pulumi.yaml resources.api (stack prod)": {drif, "shop/api"},
		// No setting: ECR's default. ${pulumi.stack} names it per stack.
		"Pulumi.yaml resources.worker (stack dev)":  {drif, "shop/worker-dev"},
		"Pulumi.yaml resources.worker (stack prod)": {drif, "shop/worker-prod"},
		"Pulumi.yaml resources.web":                 {drif, "shop/web"},
		// Auto-named by Pulumi: the name is not known.
		"Pulumi.yaml resources.auto": {drif, ""},
		"Pulumi.yaml resources.bare": {drif, ""},
		// A boolean config given as text in the stack file.
		"Pulumi.yaml resources.images (stack dev)":  {drif, "images"},
		"Pulumi.yaml resources.images (stack prod)": {comp, "images"},
		"Pulumi.yaml resources.charts":              {drif, "charts"},
		"Pulumi.yaml resources.flow":                {drif, "flow"},
		"Pulumi.yaml resources.remote":              {audit.StatusExempt, "remote"},
		"Pulumi.yaml resources.template":            {drif, "template:team"},
		"Pulumi.yaml resources.kept":                {drif, "shop/kept"},
		// Main.yaml of a project without stacks: a config key without a
		// default and another resource's output stay unknown.
		"Main.yaml resources.repo":  {erro, "registry/main"},
		"Main.yaml resources.other": {erro, "registry/other"},
		// A stack importing an ESC environment: a key its file does not
		// set may come from there, whatever the default says.
		"Pulumi.yaml resources.repo (stack eu.prod)": {erro, "esc/repo"},
	}
	for k, want := range wants {
		f, ok := got[k]
		if !ok {
			t.Errorf("%s: not found", k)
			continue
		}
		if f.Status != want.status || f.Name != want.name {
			t.Errorf("%s: %s %q, want %s %q (%s)", k, f.Status, f.Name, want.status, want.name, f.Reason)
		}
	}
	// Not found: another language's project, a PYTHON repository, a
	// resource read with get, an S3 bucket.
	if len(got) != len(wants) {
		for k := range got {
			if _, ok := wants[k]; !ok {
				t.Errorf("unexpected finding %s", k)
			}
		}
	}
	if f := got["Pulumi.yaml resources.web"]; f.Type != pulumiECR || f.Syntax != SyntaxPulumi || f.Line != 26 {
		t.Errorf("web: type %s syntax %s line %d", f.Type, f.Syntax, f.Line)
	}
	if f := got["Main.yaml resources.other"]; !strings.Contains(f.Reason, "output of resource repo") {
		t.Errorf("other: reason %q does not say why", f.Reason)
	}
	if f := got["Main.yaml resources.repo"]; !strings.Contains(f.Reason, "imageTagMutability") || !strings.Contains(f.Reason, "repoMutability") {
		t.Errorf("repo: reason %q does not name the property and the config key", f.Reason)
	}
}

func TestPulumiYAMLFixes(t *testing.T) {
	tmp := copyTree(t, "testdata/pulumi")
	before := Scan([]string{tmp}, Options{})
	changes, errs := PlanFixes(before.Findings, Policy{})
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	c := changes[0]
	if filepath.Base(c.File) != "Pulumi.yaml" {
		t.Fatalf("changed %s", c.File)
	}
	for _, l := range []string{
		"      imageTagMutability: IMMUTABLE\n      name: ${prefix}/worker-${pulumi.stack}\n",
		"      dockerConfig:\n        immutableTags: true\n",
		"      dockerConfig: {immutableTags: true}\n      repositoryId: charts\n",
		"      dockerConfig: {immutableTags: true}\n  remote:",
		"  bare:\n    properties:\n      imageTagMutability: IMMUTABLE\n    type: aws:ecr:Repository\n",
	} {
		if !strings.Contains(string(c.New), l) {
			t.Errorf("edited program lacks %q:\n%s", l, c.New)
		}
	}
	if strings.Contains(string(c.New), "imageTagMutabilityExclusionFilters") || strings.Contains(string(c.New), ": MUTABLE") || strings.Contains(string(c.New), "immutableTags: false") {
		t.Errorf("a mutable setting is left:\n%s", c.New)
	}
	// Comments and untouched resources stay as written.
	for _, l := range []string{"  # Compliant with the default; the prod stack sets MUTABLE.\n", "      format: PYTHON\n", "    get:\n      id: legacy\n"} {
		if !strings.Contains(string(c.New), l) {
			t.Errorf("lost %q", l)
		}
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	after := Scan([]string{tmp}, Options{})
	if len(after.Errors) != 0 {
		t.Fatalf("errors after the fix: %v", after.Errors)
	}
	for _, f := range after.Findings {
		want := comp
		switch {
		case strings.HasSuffix(f.Address, ".remote"):
			want = audit.StatusExempt
		case filepath.Base(f.File) == "Main.yaml" || filepath.Base(filepath.Dir(f.File)) == "esc":
			// Unknown is not drift: nothing to fix, still unknown.
			want = erro
		}
		if f.Status != want {
			t.Errorf("after the fix %s %v: %s, want %s (%s)", f.Address, f.envs, f.Status, want, f.Reason)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "node", "Pulumi.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestPulumiTypeTokens(t *testing.T) {
	for in, want := range map[string]string{
		"aws:ecr/repository:Repository":                                 pulumiECR,
		"aws:ecr:Repository":                                            pulumiECR,
		"gcp:artifactregistry/repository:Repository":                    pulumiAR,
		"aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": pulumiECRTemplate,
		"aws-native:ecr:Repository":                                     "aws-native:ecr:Repository",
	} {
		if got := pulumiType(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestPulumiIndexMatchesLiveRepositories(t *testing.T) {
	x := NewIndex(Scan([]string{"testdata/pulumi/app"}, Options{}))
	for _, c := range []struct {
		name     string
		managed  bool
		reverted bool
	}{
		// Immutable live, mutable in the program: the next pulumi up
		// turns it back.
		{"shop/web", true, true},
		// options.ignoreChanges keeps the live setting.
		{"shop/kept", true, false},
		{"shop/nowhere", false, false},
		// A creation template is not a repository.
		{"template:team", false, false},
	} {
		f := &audit.Finding{Kind: providers.KindECR, Scope: "123/eu-west-1", Repository: c.name, Status: comp}
		x.Annotate(f)
		if f.Code.Managed != c.managed || strings.HasPrefix(f.Code.Finding, Reverted) != c.reverted {
			t.Errorf("%s: %+v", c.name, f.Code)
		}
	}
}

func TestPulumiFixKeepsAllowedExclusions(t *testing.T) {
	dir := t.TempDir()
	src := "name: p\nruntime: yaml\nresources:\n  web:\n    type: aws:ecr:Repository\n    properties:\n      imageTagMutabilityExclusionFilters:\n" +
		"        - filter: latest\n          filterType: WILDCARD\n        - filter: dev-*\n          filterType: WILDCARD\n" +
		"      name: p/web\n      imageTagMutability: IMMUTABLE_WITH_EXCLUSION\n"
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	pol := Policy{MutableTagsAllowed: []string{"latest"}}
	res := Scan([]string{dir}, Options{Policy: pol})
	if len(res.Findings) != 1 || res.Findings[0].Status != drif {
		t.Fatalf("findings %+v", res.Findings)
	}
	changes, errs := PlanFixes(res.Findings, pol)
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	out := string(changes[0].New)
	if strings.Contains(out, "dev-*") || !strings.Contains(out, "latest") || !strings.Contains(out, "imageTagMutability: IMMUTABLE_WITH_EXCLUSION") {
		t.Errorf("the allowed exclusion is not the only one kept:\n%s", out)
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	if after := Scan([]string{dir}, Options{Policy: pol}); len(after.Findings) != 1 || after.Findings[0].Status != comp {
		t.Errorf("after the fix: %+v\n%s", after.Findings, out)
	}
}
