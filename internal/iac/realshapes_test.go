package iac

import (
	"github.com/immutag/immutag/internal/audit"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Shapes public modules use, each once found graded wrongly.

func TestNonNullableInputTakesDefault(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/wrapper")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		// The wrapper forwards its null default: a nullable = false
		// variable then takes its own default, a nullable one is null
		// and the provider default (MUTABLE) applies.
		"wrapper: main.tf module.strict.aws_ecr_repository.strict": {comp, "strict-strict", "IMMUTABLE", 16},
		"wrapper: main.tf module.loose.aws_ecr_repository.strict":  {comp, "loose-strict", "IMMUTABLE", 16},
		"wrapper: main.tf module.strict.aws_ecr_repository.loose":  {comp, "strict-loose", "IMMUTABLE", 21},
		"wrapper: main.tf module.loose.aws_ecr_repository.loose":   {drif, "loose-loose", "MUTABLE", 21},
	})
}

func TestCalledModuleGradedAtItsCallsOnly(t *testing.T) {
	// Scanned alone, a module is graded with its own defaults.
	got, _ := byAddress(t, Policy{}, "testdata/tf/modules")
	check(t, got, map[string]want{
		// for_each over the empty default: graded once, each unknown.
		"main.tf aws_ecr_repository.this":     {comp, "", "IMMUTABLE", 29},
		"main.tf aws_ecr_repository.optional": {drif, "team/optional", "MUTABLE", 43},
	})
	// A test harness under spec/ calls the module with test values, a
	// generated wrappers/ root calls it once per item, a submodule
	// (modules/mutable) wraps it with other defaults: each calls the
	// module that encloses it, none deploys it, none is followed.
	got, res := byAddress(t, Policy{}, "testdata/tf/harness")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tf aws_ecr_repository.this": {comp, "harnessed", "IMMUTABLE", 6},
	})
}

func TestHarborProxyProjectsAndRepeatedRules(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/harbor")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		// registry_id from a registry resource or data source: only
		// known after apply, never null, so a proxy cache.
		"main.tf harbor_project.hub_cache":  {exem, "hub-cache", "", 11},
		"main.tf harbor_project.quay_cache": {exem, "quay-cache", "", 16},
		// Rules repeated over the projects (for_each = harbor_project.x,
		// count = length(harbor_project.x)) cover every project.
		"main.tf harbor_immutable_tag_rule.team":    {comp, "", "", 31},
		"main.tf harbor_immutable_tag_rule.counted": {drif, "", "", 43},
		// project_id through a local still names the project.
		"main.tf harbor_immutable_tag_rule.shared": {comp, "shared", "", 58},
	})
	if f := got["main.tf harbor_project.hub_cache"]; f.Exemption == nil || !strings.Contains(f.Exemption.Reason, "proxy") {
		t.Errorf("hub_cache exemption: %+v", f.Exemption)
	}
	if f := got["main.tf harbor_immutable_tag_rule.counted"]; f.NameKnown {
		t.Errorf("a rule over repeated projects names one of them: %q", f.Name)
	}
}

func TestOverrideFilesMergeIntoDeclarations(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/override")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// One finding per declaration (not one per file), graded with the
	// override's arguments, blocks and variable defaults.
	check(t, got, map[string]want{
		"main.tf aws_ecr_repository.app":      {comp, "app", "IMMUTABLE", 6},
		"main.tf aws_ecr_repository.loosened": {drif, "loosened", "MUTABLE", 11},
		"main.tf aws_ecr_repository.filtered": {drif, "filtered", "IMMUTABLE_WITH_EXCLUSION", 16},
		"main.tf aws_ecr_repository.from_var": {comp, "from-var", "IMMUTABLE", 29},
	})
	if f := got["main.tf aws_ecr_repository.filtered"]; !slices.Equal(f.Immutability.MutablePatterns, []string{"release-*"}) {
		t.Errorf("override blocks replace the dynamic ones: %v", f.Immutability.MutablePatterns)
	}
	// The edit in main.tf would stay overridden: said, not written.
	f := got["main.tf aws_ecr_repository.loosened"]
	if f.Fixable() || !strings.Contains(f.Edit, "override.tf") {
		t.Errorf("loosened: fixable %v, edit %q", f.Fixable(), f.Edit)
	}
}

func TestModuleCallOffByDefaultIsFollowedOnce(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/gated")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// count = 0 with the defaults: the call's inputs, not the module's
	// own MUTABLE default, say what enabling it creates.
	check(t, got, map[string]want{
		"gated: main.tf module.registry.aws_ecr_repository.this": {comp, "gated", "IMMUTABLE", 10},
	})
}

func TestTerraformFunctionsConfigurationsUse(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/functions")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// yamldecode(file()), startswith, alltrue, one, strcontains and a
	// regular-expression replace evaluate as Terraform evaluates them;
	// file() reads relative paths from the root module's directory.
	check(t, got, map[string]want{
		`main.tf aws_ecr_repository.this["api"]`:                    {comp, "api", "IMMUTABLE", 6},
		`main.tf aws_ecr_repository.this["dev-sandbox"]`:            {drif, "dev-sandbox", "MUTABLE", 6},
		`main.tf aws_ecr_repository.this["worker"]`:                 {comp, "worker", "IMMUTABLE", 6},
		`main.tf aws_ecr_repository.locked[0]`:                      {comp, "worker", "IMMUTABLE", 12},
		`main.tf aws_ecr_repository.outside`:                        {comp, "", "IMMUTABLE", 19},
		`functions: main.tf module.team.aws_ecr_repository.team[0]`: {comp, "team/api", "IMMUTABLE", 6},
		`functions: main.tf module.team.aws_ecr_repository.team[1]`: {comp, "team/dev-sandbox", "IMMUTABLE", 6},
		`functions: main.tf module.team.aws_ecr_repository.team[2]`: {comp, "team/worker", "IMMUTABLE", 6},
	})
	// A file outside the directory the scan runs in stays unread: its
	// content must not reach the report.
	f := got["main.tf aws_ecr_repository.outside"]
	if f.NameKnown || strings.Contains(f.Name, "module") {
		t.Errorf("outside file read into the name: %q", f.Name)
	}
}

func TestCloudFormationForEach(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/cfn-foreach")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// Fn::ForEach (AWS::LanguageExtensions) over a CommaDelimitedList
	// default, nested loops with ${x} and &{x} keys, and a collection
	// with no default (graded once, its identifier unknown).
	check(t, got, map[string]want{
		"repos.yaml Resources.Repoapi":           {comp, "shop/api", "IMMUTABLE", 13},
		"repos.yaml Resources.Repoweb":           {comp, "shop/web", "IMMUTABLE", 13},
		"repos.yaml Resources.devappRepo":        {drif, "dev/app", "MUTABLE", 24},
		"repos.yaml Resources.devjobrunnerRepo":  {drif, "dev/job-runner", "MUTABLE", 24},
		"repos.yaml Resources.prodappRepo":       {drif, "prod/app", "MUTABLE", 24},
		"repos.yaml Resources.prodjobrunnerRepo": {drif, "prod/job-runner", "MUTABLE", 24},
		"repos.yaml Resources.Repo${Name}":       {comp, "", "IMMUTABLE", 31},
	})
	// The generated resources share their declaration: one edit fixes
	// all four.
	var fs []Finding
	for _, f := range got {
		fs = append(fs, f)
	}
	changes, errs := PlanFixes(fs, Policy{})
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	if n := strings.Count(string(changes[0].New), "ImageTagMutability: IMMUTABLE"); n != 3 {
		t.Errorf("%d IMMUTABLE settings after the fix, want 3:\n%s", n, changes[0].New)
	}
}

func TestLegacySyntax(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/legacy")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// count given as a string is converted, as Terraform does; quoted
	// and bare legacy type keywords leave the defaults as written.
	check(t, got, map[string]want{
		"main.tf aws_ecr_repository.numbered[0]": {comp, "alpha", "IMMUTABLE", 19},
		"main.tf aws_ecr_repository.numbered[1]": {comp, "beta", "IMMUTABLE", 19},
		"main.tf aws_ecr_repository.single[0]":   {drif, "single", "MUTABLE", 25},
	})
}

func TestEnvironmentsApplyingTheirEnclosingModule(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/envroot")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// envs/prod (a backend) and envs/dev (terraform.tfvars) apply the
	// module at the top of the tree: followed with their inputs. The
	// wrapper under modules/ has neither: not followed.
	check(t, got, map[string]want{
		"prod: main.tf module.app.aws_ecr_repository.this": {comp, "prod-app", "IMMUTABLE", 10},
		"dev: main.tf module.app.aws_ecr_repository.this":  {drif, "dev-app", "MUTABLE", 10},
	})
}

func TestVariableFilesAreEnvironments(t *testing.T) {
	// A root applied with -var-file is graded once per variable file:
	// the default alone (IMMUTABLE) would hide the MUTABLE of dev.
	// backend.tfvars sets no variable of the root, broken.tfvars does
	// not parse (Terraform reads neither unless told) and tests/ feeds
	// a harness: none is an environment, none is an error.
	got, res := byAddress(t, Policy{}, "testdata/tf/varfiles")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"dev.tfvars): main.tf aws_ecr_repository.app":       {drif, "shop/app", "MUTABLE", 12},
		"prod.tfvars.json): main.tf aws_ecr_repository.app": {comp, "shop/app", "IMMUTABLE", 12},
		"dev.tfvars): main.tf aws_ecr_repository.base":      {comp, "shop/base", "IMMUTABLE", 18},
	})
	if len(got) != 3 {
		t.Errorf("want 3 findings (base once), have %v", keys(got))
	}
	// Only what a file changes names the file: prod gives what the
	// defaults give, and base is the same everywhere.
	if f := got["dev.tfvars): main.tf aws_ecr_repository.app"]; !strings.Contains(f.Reason, "-var-file=envs/dev.tfvars") {
		t.Errorf("reason %q does not name the variable file", f.Reason)
	}
	for _, k := range []string{"prod.tfvars.json): main.tf aws_ecr_repository.app", "dev.tfvars): main.tf aws_ecr_repository.base"} {
		if f := got[k]; strings.Contains(f.Reason, "-var-file") {
			t.Errorf("%s: reason %q names a file that changes nothing", k, f.Reason)
		}
	}
	// A variable file that changes nothing is not named either.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`variable "force" {
  default = false
}
resource "aws_ecr_repository" "r" {
  name         = "r"
  force_delete = var.force
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "teardown.tfvars"), []byte("force = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = Scan([]string{dir}, Options{})
	if len(res.Findings) != 1 || strings.Contains(res.Findings[0].Reason, "teardown") {
		t.Errorf("findings %+v", res.Findings)
	}
}

func TestKnownRegistryModulesReadFromTheirInputs(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/registry")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tf module.api.aws_ecr_repository.this[0]":                {drif, "shop/api", "MUTABLE", 4},
		"main.tf module.web.aws_ecr_repository.this[0]":                {comp, "shop/web", "IMMUTABLE", 13},
		`main.tf module.per_team["red"].aws_ecr_repository.this[0]`:    {drif, "team/red", "IMMUTABLE_WITH_EXCLUSION", 18},
		`main.tf module.per_team["blue"].aws_ecr_repository.this[0]`:   {drif, "team/blue", "IMMUTABLE_WITH_EXCLUSION", 18},
		`main.tf module.legacy.aws_ecr_repository.name["legacy/a"]`:    {drif, "legacy/a", "MUTABLE", 45},
		`main.tf module.legacy.aws_ecr_repository.name["legacy/b"]`:    {drif, "legacy/b", "MUTABLE", 45},
		`main.tf module.current.aws_ecr_repository.name["current/a"]`:  {comp, "current/a", "IMMUTABLE", 51},
		`main.tf module.unpinned_git.aws_ecr_repository.name["git/a"]`: {erro, "git/a", "", 57},
		"main.tf module.lgallard.aws_ecr_repository.repo[0]":           {drif, "shop/worker", "MUTABLE", 62},
	})
	if len(got) != 9 {
		t.Errorf("want 9 findings (no public repository, no policies-only call), have %v", keys(got))
	}
	if f := got["main.tf module.api.aws_ecr_repository.this[0]"]; f.Edit != `set repository_image_tag_mutability = "IMMUTABLE"` {
		t.Errorf("edit %q", f.Edit)
	}
	// With latest allowed, the exclusion is kept on the call.
	tmp := copyTree(t, "testdata/tf/registry")
	p := Policy{MutableTagsAllowed: []string{"latest"}}
	changes, errs := PlanFixes(Scan([]string{tmp}, Options{Policy: p}).Findings, p)
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	after, res := byAddress(t, p, tmp)
	if len(res.Errors) != 0 {
		t.Fatalf("errors after the fix: %v", res.Errors)
	}
	for k, f := range after {
		if f.Status == drif {
			t.Errorf("%s still drift: %s", k, f.Reason)
		}
	}
	if f := after[`main.tf module.per_team["red"].aws_ecr_repository.this[0]`]; f.Immutability.Native != "IMMUTABLE_WITH_EXCLUSION" {
		t.Errorf("allowed exclusion dropped: %s", f.Immutability.Native)
	}
}

func TestTerragruntUnitsApplyTheirModules(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tg")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		// The module's own default would say compliant; each unit's
		// inputs (with the included root's) decide.
		"api: main.tf aws_ecr_repository.this": {comp, "shop/api", "IMMUTABLE", 10},
		"web: main.tf aws_ecr_repository.this": {drif, "shop/dev-web", "MUTABLE", 10},
		// Registry and git sources of known modules, read from inputs;
		// a dependency's output stays unknown.
		"registry: terragrunt.hcl aws_ecr_repository.this[0]":        {drif, "shop/stage", "MUTABLE", 2},
		`legacy: terragrunt.hcl aws_ecr_repository.name["legacy/a"]`: {erro, "legacy/a", "", 2},
	})
	if len(got) != 4 {
		t.Errorf("want 4 findings (the module graded only through its units), have %v", keys(got))
	}
	f := got["registry: terragrunt.hcl aws_ecr_repository.this[0]"]
	if !f.Fixable() || !strings.HasSuffix(f.Edit, "in the inputs of testdata/tg/live/stage/registry/terragrunt.hcl") {
		t.Errorf("a Terragrunt input is edited where it is set: fixable %v, edit %q", f.Fixable(), f.Edit)
	}
	if f := got["web: main.tf aws_ecr_repository.this"]; !strings.Contains(f.Reason, "terragrunt") {
		t.Errorf("reason %q does not name the unit", f.Reason)
	}
}

func TestNestedStacksPassTheirParameters(t *testing.T) {
	res := Scan([]string{"testdata/cfn-nested"}, Options{})
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	got := map[string]Finding{}
	for _, f := range res.Findings {
		got[f.Name] = f
	}
	// Graded per parent stack with the parameters it passes (a list
	// parameter passed as one string is split), never with the child's
	// defaults alone: those say IMMUTABLE.
	for name, w := range map[string]audit.Status{"scratch-a": drif, "scratch-b": drif, "prod-api": comp} {
		f, ok := got[name]
		if !ok {
			t.Errorf("%s: not found; have %v", name, got)
			continue
		}
		if f.Status != w {
			t.Errorf("%s: %s, want %s (%s)", name, f.Status, w, f.Reason)
		}
	}
	// The S3 TemplateURL names registry.yaml, the only file of that
	// name in the scan: graded with its defaults for that stack, saying so.
	if f := got["default-a"]; f.Status != comp || !strings.Contains(f.Immutability.Note, "TemplateURL https://example-bucket.s3.amazonaws.com/registry.yaml") {
		t.Errorf("default-a: %s (%s) note %q", f.Status, f.Reason, f.Immutability.Note)
	}
	if len(res.Findings) != 4 {
		t.Errorf("want 4 findings (no standalone grading of the child), have %d", len(res.Findings))
	}
	if f := got["scratch-a"]; !strings.Contains(f.Reason, "Resources.Scratch") || !strings.HasSuffix(f.Root, "Resources.Scratch") {
		t.Errorf("finding does not name its parent stack: root %q, reason %q", f.Root, f.Reason)
	}
}

func TestFixNeverAddsABlockBesideItsDynamicBlock(t *testing.T) {
	tmp := copyTree(t, "testdata/tf/dynfix")
	before := Scan([]string{tmp}, Options{})
	for _, f := range before.Findings {
		if f.Status != drif {
			t.Fatalf("%s: %s, want drift (%s)", f.Address, f.Status, f.Reason)
		}
	}
	changes, errs := PlanFixes(before.Findings, Policy{})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "dynamic block") {
		t.Fatalf("want one by-hand error for the computed dynamic block, have %v", errs)
	}
	// The file with the computed block is refused as a whole; the toggle
	// alone is fixed in a copy without it.
	if len(changes) != 0 {
		t.Fatalf("a file with an edit that cannot be made exactly was changed")
	}
	src, _ := os.ReadFile(filepath.Join(tmp, "main.tf"))
	toggle := strings.SplitN(string(src), "# The dynamic block is the module's logic", 2)[0]
	if err := os.WriteFile(filepath.Join(tmp, "main.tf"), []byte(toggle), 0o644); err != nil {
		t.Fatal(err)
	}
	changes, errs = PlanFixes(Scan([]string{tmp}, Options{}).Findings, Policy{})
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(tmp, "main.tf"))
	if strings.Count(string(out), "docker_config") != 1 || strings.Contains(string(out), `dynamic "`) {
		t.Errorf("the dynamic block was not replaced by one static block:\n%s", out)
	}
	after := Scan([]string{tmp}, Options{})
	if len(after.Findings) != 1 || after.Findings[0].Status != comp {
		t.Errorf("after the fix: %+v", after.Findings)
	}
}

func TestServerlessVariablesAreResolved(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/sls")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"serverless.yml Resources.Api":    {drif, "shop-dev-api", "MUTABLE", 11},
		"serverless.yml Resources.Worker": {comp, "shop-worker", "IMMUTABLE", 17},
		"serverless.yml Resources.Jobs":   {erro, "", "", 23},
	})
	if f := got["serverless.yml Resources.Jobs"]; f.NameKnown || !strings.Contains(f.Reason, "ssm:/shop/mutability") {
		t.Errorf("Jobs: name known %v, reason %q", f.NameKnown, f.Reason)
	}
}

func TestCommunityDockerHubProviderRepositories(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/hublegacy")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tf dockerhub_repository.api":                 {drif, "api", "enabled=false", 12},
		"main.tf docker_hub_repository_immutable_tags.web": {comp, "web", "", 26},
	})
	if len(got) != 2 {
		t.Errorf("want 2 findings (web graded by its immutable tags resource), have %v", keys(got))
	}
	if f := got["main.tf dockerhub_repository.api"]; f.Fixable() || !strings.Contains(f.Remediation, "by hand") {
		t.Errorf("no setting to write: fixable %v, remediation %q", f.Fixable(), f.Remediation)
	}
}

func TestWorkspaceKeyedSettings(t *testing.T) {
	res := Scan([]string{"testdata/tf/workspaces"}, Options{})
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	got := map[string]Finding{}
	for _, f := range res.Findings {
		got[f.Address+" "+f.Name+" "+string(f.Status)] = f
	}
	for _, k := range []string{
		"aws_ecr_repository.app app-dev drift",
		"aws_ecr_repository.app app-prod compliant",
		"aws_ecr_repository.gate gate drift",
		"aws_ecr_repository.gate gate compliant",
		"aws_ecr_repository.fixed fixed compliant",
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: not found; have %v", k, keys(got))
		}
	}
	// The default workspace has no settings key: it fails to plan, and
	// is not reported as an unreadable value beside dev and prod.
	if len(res.Findings) != 5 {
		t.Errorf("want 5 findings, have %v", keys(got))
	}
	if f := got["aws_ecr_repository.gate gate drift"]; !strings.Contains(f.Reason, "workspace default") {
		t.Errorf("reason %q does not name the workspaces", f.Reason)
	}
}

func TestKnownModuleWrappedByAHouseModule(t *testing.T) {
	// Graded at the caller's address with its inputs, not also once
	// more with the house module's own (unknown) name.
	got, res := byAddress(t, Policy{}, "testdata/tf/registry-wrapped")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"live: main.tf module.app.module.ecr.aws_ecr_repository.this[0]": {drif, "shop/wrapped", "MUTABLE", 11},
	})
	if len(got) != 1 {
		t.Errorf("want 1 finding, have %v", keys(got))
	}
}

func TestFixLeavesOtherLinesAsWritten(t *testing.T) {
	// hclwrite formats the whole file it writes: only the lines the
	// edit changes may differ, the rest keep their own spacing.
	tmp := copyTree(t, "testdata/tf/unformatted")
	changes, errs := PlanFixes(Scan([]string{tmp}, Options{}).Findings, Policy{})
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	old := strings.Split(string(changes[0].Old), "\n")
	nw := strings.Split(string(changes[0].New), "\n")
	if len(old) != len(nw) {
		t.Fatalf("lines %d -> %d:\n%s", len(old), len(nw), changes[0].New)
	}
	for i := range old {
		if old[i] != nw[i] && !strings.Contains(old[i], "image_tag_mutability") {
			t.Errorf("line %d changed: %q -> %q", i+1, old[i], nw[i])
		}
	}
	if !strings.Contains(string(changes[0].New), `image_tag_mutability = "IMMUTABLE"`) {
		t.Errorf("not fixed:\n%s", changes[0].New)
	}
}

func TestServerlessVariablesReferringToThemselves(t *testing.T) {
	dir := t.TempDir()
	src := "service: s\ncustom:\n  a:\n    b: ${self:custom.a}\n  c: ${self:custom.c}\nresources:\n  Resources:\n    R:\n" +
		"      Type: AWS::ECR::Repository\n      Properties:\n        RepositoryName: ${self:custom.c}\n        ImageTagMutability: ${self:custom.a.b}\n"
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res := Scan([]string{dir}, Options{})
	if len(res.Findings) != 1 || res.Findings[0].Status != erro || res.Findings[0].NameKnown {
		t.Fatalf("want one unreadable finding with a computed name, have %+v", res.Findings)
	}
	if r := res.Findings[0].Reason; len(r) > 300 || !strings.Contains(r, "not a string") {
		t.Errorf("reason %q", r)
	}
}

func TestUnknownValuesSayWhy(t *testing.T) {
	dir := t.TempDir()
	src := `variable "templates" {
  type    = list(object({ prefix = string, mutability = optional(string, "MUTABLE") }))
  default = []
}

resource "aws_ecr_repository_creation_template" "this" {
  for_each             = { for x in var.templates : x.prefix => x }
  prefix               = each.key
  applied_for          = ["PULL_THROUGH_CACHE"]
  image_tag_mutability = each.value.mutability
}

resource "aws_ecr_repository" "ws" {
  name                 = "ws"
  image_tag_mutability = upper(terraform.workspace)
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res := Scan([]string{dir}, Options{})
	if len(res.Findings) != 2 {
		t.Fatalf("findings %+v", res.Findings)
	}
	for _, f := range res.Findings {
		if f.Status != erro {
			t.Errorf("%s: %s, want error", f.Address, f.Status)
		}
		if strings.Contains(f.Reason, "is only known after apply") {
			t.Errorf("%s: %q: neither value waits for an apply", f.Address, f.Reason)
		}
	}
	if r := res.Findings[0].Reason; !strings.Contains(r, "for_each has no element") {
		t.Errorf("reason %q", r)
	}
	if r := res.Findings[1].Reason; !strings.Contains(r, "workspace is chosen when Terraform runs") {
		t.Errorf("reason %q", r)
	}
}

func TestFilesetListsRepositoryFiles(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/fileset")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		`main.tf aws_ecr_repository.r["api"]`: {drif, "shop/api", "MUTABLE", 9},
		`main.tf aws_ecr_repository.r["web"]`: {comp, "shop/web", "IMMUTABLE", 9},
	})
	if len(got) != 2 {
		t.Errorf("want 2 findings, have %v", keys(got))
	}
}

func TestFindInMapDefaultValue(t *testing.T) {
	dir := t.TempDir()
	src := `Transform: AWS::LanguageExtensions
Parameters:
  Env:
    Type: String
    Default: dev
  Other:
    Type: String
Mappings:
  Cfg:
    prod:
      Mut: IMMUTABLE
Resources:
  Missing:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: !FindInMap [Cfg, !Ref Env, Mut, {DefaultValue: MUTABLE}]
  UnknownKey:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: !FindInMap [Cfg, !Ref Other, Mut, {DefaultValue: IMMUTABLE}]
`
	if err := os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]Finding{}
	for _, f := range Scan([]string{dir}, Options{}).Findings {
		got[f.Address] = f
	}
	// The default applies only where the key is known and missing: an
	// unknown key may name an entry that is not the default.
	if f := got["Resources.Missing"]; f.Status != drif || f.Immutability.Native != "MUTABLE" {
		t.Errorf("Missing: %s %s (%s)", f.Status, f.Immutability.Native, f.Reason)
	}
	if f := got["Resources.UnknownKey"]; f.Status != erro {
		t.Errorf("UnknownKey: %s (%s)", f.Status, f.Reason)
	}
}

func TestOpenTofuFiles(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/tofu")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tofu aws_ecr_repository.app":    {drif, "shop/app", "MUTABLE", 2},
		"extra.tofu aws_ecr_repository.extra": {drif, "shop/extra", "MUTABLE", 1},
	})
	if len(got) != 2 {
		t.Errorf("want 2 findings (main.tf shadowed by main.tofu), have %v", keys(got))
	}
	tmp := copyTree(t, "testdata/tf/tofu")
	changes, errs := PlanFixes(Scan([]string{tmp}, Options{}).Findings, Policy{})
	if len(errs) != 0 || len(changes) != 2 {
		t.Fatalf("changes %d, errors %v", len(changes), errs)
	}
	for _, c := range changes {
		if !strings.HasSuffix(c.File, ".tofu") {
			t.Errorf("edited %s", c.File)
		}
	}
}

func TestTerragruntInputsAreFixedWhereSet(t *testing.T) {
	tmp := copyTree(t, "testdata/tg-fix")
	before := Scan([]string{tmp}, Options{})
	if len(before.Errors) != 0 || len(before.Findings) != 6 {
		t.Fatalf("findings %d, errors %v", len(before.Findings), before.Errors)
	}
	for _, f := range before.Findings {
		if f.Status != drif {
			t.Fatalf("%s %s: %s, want drift (%s)", f.File, f.Address, f.Status, f.Reason)
		}
		// An input set by a merge() is not an object to edit: by hand.
		merged := strings.Contains(f.File, "merged")
		if f.Fixable() == merged || merged != strings.Contains(f.Edit, "by hand") {
			t.Errorf("%s: fixable %v, edit %q", f.File, f.Fixable(), f.Edit)
		}
	}
	changes, errs := PlanFixes(before.Findings, Policy{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := map[string]FileChange{}
	for _, c := range changes {
		rel, _ := filepath.Rel(tmp, c.File)
		got[filepath.ToSlash(rel)] = c
	}
	// The input is edited in the configuration that sets it: the
	// included root.hcl, not the unit; the module is not touched.
	wants := map[string][]string{
		"live/root.hcl":            {`  repository_image_tag_mutability = "IMMUTABLE" # legacy default`},
		"live/lone/terragrunt.hcl": {`inputs = { name = "shop/lone", image_tag_mutability = "IMMUTABLE" }`},
		"live/web/terragrunt.hcl":  {`  mutability = "IMMUTABLE"`},
		// Merged into web's finding (the same repository and edit), and
		// still edited.
		"live/web-eu/terragrunt.hcl": {`  mutability = "IMMUTABLE"`},
		// docker_config { immutable_tags = var.immutable } in the module.
		"live/images/terragrunt.hcl": {`  immutable = true`},
		"live/excl/terragrunt.hcl":   {`  image_tag_mutability = "IMMUTABLE"`, `  scan_on_push = true`},
	}
	if len(got) != len(wants) {
		t.Errorf("changed %d files, want %d", len(got), len(wants))
	}
	for file, lines := range wants {
		c, ok := got[file]
		if !ok {
			t.Errorf("%s not changed", file)
			continue
		}
		for _, l := range lines {
			if !strings.Contains(string(c.New), l+"\n") {
				t.Errorf("%s lacks %q:\n%s", file, l, c.New)
			}
		}
		// Lines the edit does not touch stay as written.
		old := strings.Split(string(c.Old), "\n")
		for _, l := range old {
			if !strings.Contains(l, "mutab") && !strings.Contains(l, "filter") && !strings.Contains(l, "shop/lone") && !strings.Contains(l, "]") && !strings.Contains(string(c.New), l) {
				t.Errorf("%s: line %q lost", file, l)
			}
		}
	}
	if c := got["live/excl/terragrunt.hcl"]; strings.Contains(string(c.New), "filter") {
		t.Errorf("the mutable exclusion is still passed:\n%s", c.New)
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	after := Scan([]string{tmp}, Options{})
	if len(after.Errors) != 0 || len(after.Findings) != 6 {
		t.Fatalf("after: findings %d, errors %v", len(after.Findings), after.Errors)
	}
	for _, f := range after.Findings {
		if w := map[bool]audit.Status{true: drif, false: comp}[strings.Contains(f.File, "merged")]; f.Status != w {
			t.Errorf("after the fix %s: %s, want %s (%s)", f.File, f.Status, w, f.Reason)
		}
	}
}

func TestTerragruntInputsEdits(t *testing.T) {
	set := func(k string, v any) *edit { return &edit{ops: []op{{kind: opSet, path: []string{k}, value: v}}} }
	for _, c := range []struct{ name, src, want string }{
		{"no inputs", "terraform {\n  source = \"x\"\n}\n", "terraform {\n  source = \"x\"\n}\n\ninputs = {\n  m = \"IMMUTABLE\"\n}\n"},
		{"empty object", "inputs = {\n}\n", "inputs = {\n  m = \"IMMUTABLE\"\n}\n"},
		{"added with the others' indentation", "inputs = {\n    a = 1\n}\n", "inputs = {\n    a = 1\n    m = \"IMMUTABLE\"\n}\n"},
		{"quoted key replaced", "inputs = {\n  \"m\" = local.m\n}\n", "inputs = {\n  \"m\" = \"IMMUTABLE\"\n}\n"},
		{"one line, empty", "inputs = {}\n", "inputs = { m = \"IMMUTABLE\" }\n"},
	} {
		out, err := editTerragrunt("t.hcl", []byte(c.src), []*edit{set("m", "IMMUTABLE")})
		if err != nil || string(out) != c.want {
			t.Errorf("%s: %v\n%s\nwant\n%s", c.name, err, out, c.want)
		}
	}
	// A removal that shares its line with another input is refused
	// rather than guessed.
	src := "inputs = { a = 1, f = [\"x\"] }\n"
	if _, err := editTerragrunt("t.hcl", []byte(src), []*edit{{ops: []op{{kind: opRemove, path: []string{"f"}}}}}); err == nil {
		t.Errorf("a removal inside one line was made")
	}
	// An object a merge() builds is not edited.
	if _, err := editTerragrunt("t.hcl", []byte("inputs = merge(local.a, {})\n"), []*edit{set("m", "IMMUTABLE")}); err == nil {
		t.Errorf("inputs = merge(...) was edited")
	}
}

func TestConditionalsOnTheLoopVariable(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/loopcond")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	// Each instance is graded with its own element (the variable's
	// optional() defaults under terraform.tfvars), the key named.
	check(t, got, map[string]want{
		`main.tf aws_ecr_repository.each["api"]`:                       {comp, "api", "IMMUTABLE", 21},
		`main.tf aws_ecr_repository.each["worker"]`:                    {drif, "worker", "MUTABLE", 21},
		`main.tf aws_ecr_repository.each["batch"]`:                     {comp, "batch", "IMMUTABLE", 21},
		`main.tf aws_ecr_repository.deep["api"]`:                       {comp, "deep-api", "IMMUTABLE", 27},
		`main.tf aws_ecr_repository.deep["batch"]`:                     {drif, "deep-batch", "MUTABLE", 27},
		`main.tf aws_ecr_repository.deep["worker"]`:                    {comp, "deep-worker", "IMMUTABLE", 27},
		`main.tf aws_ecr_repository.listed[0]`:                         {comp, "a", "IMMUTABLE", 33},
		`main.tf aws_ecr_repository.listed[1]`:                         {drif, "b", "MUTABLE", 33},
		`main.tf aws_ecr_repository.keyed["a"]`:                        {comp, "keyed-a", "IMMUTABLE", 39},
		`main.tf aws_ecr_repository.keyed["b"]`:                        {drif, "keyed-b", "MUTABLE", 39},
		`main.tf google_artifact_registry_repository.images["api"]`:    {comp, "api", "", 45},
		`main.tf google_artifact_registry_repository.images["batch"]`:  {comp, "batch", "", 45},
		`main.tf google_artifact_registry_repository.images["worker"]`: {drif, "worker", "", 45},
		// A map only known when applied: unknown, once, never compliant.
		`main.tf aws_ecr_repository.later`: {erro, "", "", 59},
	})
	if len(got) != 14 {
		t.Errorf("want 14 findings, have %v", keys(got))
	}
}
