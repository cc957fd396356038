package iac

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

type want struct {
	status audit.Status
	name   string
	native string
	line   int
}

// byAddress scans paths and indexes the findings by file base name and
// address ("main.tf aws_ecr_repository.x").
func byAddress(t *testing.T, p Policy, paths ...string) (map[string]Finding, *Result) {
	t.Helper()
	res := Scan(paths, Options{Policy: p})
	out := map[string]Finding{}
	for _, f := range res.Findings {
		k := filepath.Base(f.File) + " " + f.Address
		if f.Root != "" {
			k = filepath.Base(f.Root) + ": " + k
		}
		if _, dup := out[k]; dup {
			t.Errorf("duplicate finding %s", k)
		}
		out[k] = f
	}
	return out, res
}

func check(t *testing.T, got map[string]Finding, wants map[string]want) {
	t.Helper()
	for k, w := range wants {
		f, ok := got[k]
		if !ok {
			t.Errorf("%s: not found; have %v", k, keys(got))
			continue
		}
		if f.Status != w.status {
			t.Errorf("%s: status %s, want %s (%s)", k, f.Status, w.status, f.Reason)
		}
		if w.name != "" && f.Name != w.name {
			t.Errorf("%s: repository %q, want %q", k, f.Name, w.name)
		}
		if w.native != "" && f.Immutability.Native != w.native {
			t.Errorf("%s: native %q, want %q", k, f.Immutability.Native, w.native)
		}
		if w.line != 0 && f.Line != w.line {
			t.Errorf("%s: line %d, want %d", k, f.Line, w.line)
		}
	}
	for k := range got {
		if _, ok := wants[k]; !ok {
			t.Errorf("unexpected finding %s (%s)", k, got[k].Status)
		}
	}
}

func keys(m map[string]Finding) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

const (
	comp = audit.StatusCompliant
	drif = audit.StatusDrift
	exem = audit.StatusExempt
	erro = audit.StatusError
)

func TestTerraformDocumentedExamplesAndMutableVariants(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/basic")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tf aws_ecr_repository.immutable":                       {comp, "web/api", "IMMUTABLE", 2},
		"main.tf aws_ecr_repository.default":                         {drif, "web/default", "MUTABLE", 7},
		"main.tf aws_ecr_repository.mutable":                         {drif, "web/mutable", "MUTABLE", 11},
		"main.tf aws_ecr_repository.excl":                            {drif, "web/excl", "IMMUTABLE_WITH_EXCLUSION", 16},
		"main.tf aws_ecr_repository.mutexcl":                         {drif, "web/mutexcl", "MUTABLE_WITH_EXCLUSION", 30},
		"main.tf google_artifact_registry_repository.docker":         {comp, "images", "dockerConfig.immutableTags=true", 40},
		"main.tf google_artifact_registry_repository.docker_mutable": {drif, "scratch", "dockerConfig.immutableTags=false", 50},
		"main.tf google_artifact_registry_repository.remote":         {exem, "dockerhub-mirror", "", 62},
		"main.tf docker_hub_repository.hub":                          {comp, "api", "enabled=true rules=[.*]", 69},
		"main.tf docker_hub_repository.hub_attr":                     {drif, "worker", "enabled=true rules=[v.*]", 78},
		"main.tf docker_hub_repository.hub_plain":                    {drif, "plain", "enabled=false", 87},
		"main.tf aws_ecr_repository.ignored":                         {drif, "web/ignored", "MUTABLE", 96},
	})
	if f := got["main.tf aws_ecr_repository.default"]; f.Edit != `set image_tag_mutability = "IMMUTABLE"` {
		t.Errorf("edit %q", f.Edit)
	}
	if f := got["main.tf aws_ecr_repository.excl"]; !slices.Equal(f.Offending, []string{"latest", "dev-*"}) {
		t.Errorf("offending %v", f.Offending)
	}
}

func TestExclusionsAllowedByPolicy(t *testing.T) {
	// The same semantics as audit: IMMUTABLE_WITH_EXCLUSION is compliant
	// only when every exclusion is allowed; MUTABLE_WITH_EXCLUSION never.
	p := Policy{MutableTagsAllowed: []string{"latest", "dev-*", "v*"}}
	got, _ := byAddress(t, p, "testdata/tf/basic/main.tf")
	if f := got["main.tf aws_ecr_repository.excl"]; f.Status != comp {
		t.Errorf("excl: %s %s", f.Status, f.Reason)
	}
	if f := got["main.tf aws_ecr_repository.mutexcl"]; f.Status != drif {
		t.Errorf("mutexcl: %s", f.Status)
	}
	p = Policy{MutableTagsAllowed: []string{"latest"}}
	got, _ = byAddress(t, p, "testdata/tf/basic/main.tf")
	f := got["main.tf aws_ecr_repository.excl"]
	if f.Status != drif || !slices.Equal(f.Offending, []string{"dev-*"}) {
		t.Errorf("excl: %s %v", f.Status, f.Offending)
	}
	// The fix keeps the allowed exclusion and drops the other.
	if f.Edit != `set image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"; remove image_tag_mutability_exclusion_filter except "latest"` {
		t.Errorf("edit %q", f.Edit)
	}
}

func TestExemptionsByRepositoryName(t *testing.T) {
	p := Policy{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Exemptions: []config.Exemption{
		{Provider: "ecr-prod", Repository: "web/mutable", Reason: "legacy"},
		{Repository: "web/def*", Reason: "expired", Expires: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}
	got, _ := byAddress(t, p, "testdata/tf/basic/main.tf")
	if f := got["main.tf aws_ecr_repository.mutable"]; f.Status != exem || f.Exemption == nil || f.Exemption.Reason != "legacy" {
		t.Errorf("mutable: %s %+v", f.Status, f.Exemption)
	}
	if f := got["main.tf aws_ecr_repository.default"]; f.Status != drif || !strings.Contains(f.Reason, "expired") {
		t.Errorf("default: %s %s", f.Status, f.Reason)
	}
}

func TestModulesVariablesCountForEachDynamic(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/modules", "testdata/tf/stacks")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		// prod calls the module with for_each names, a lower-case mode
		// (upper() in a local), a dynamic exclusion block and an
		// optional() object attribute.
		`prod: main.tf module.registry.aws_ecr_repository.this["api"]`:    {drif, "team/api", "IMMUTABLE_WITH_EXCLUSION", 29},
		`prod: main.tf module.registry.aws_ecr_repository.this["web"]`:    {drif, "team/web", "IMMUTABLE_WITH_EXCLUSION", 29},
		`prod: main.tf module.registry.aws_ecr_repository.optional`:       {comp, "team/optional", "IMMUTABLE", 43},
		`dev: main.tf module.registry.aws_ecr_repository.this["scratch"]`: {comp, "team/scratch", "IMMUTABLE", 29},
		// dev's call leaves optional at the module's default: reported
		// at the call's address. The module directory is not graded on
		// its own: the stacks call it, and Terraform plans it only so.
		`dev: main.tf module.registry.aws_ecr_repository.optional`: {drif, "team/optional", "MUTABLE", 43},
		// count = 0 with the defaults: still graded once.
		"main.tf aws_ecr_repository.skipped":       {drif, "prod/skipped", "MUTABLE", 24},
		"main.tf aws_ecr_repository.counted[0]":    {comp, "prod/counted-0", "IMMUTABLE", 18},
		"main.tf aws_ecr_repository.counted[1]":    {drif, "prod/counted-1", "MUTABLE", 18},
		"main.tf aws_ecr_repository.from_var":      {erro, "prod/from-var", "", 29},
		"main.tf aws_ecr_repository.from_resource": {erro, "prod/from-resource", "", 36},
	})
	if f := got["main.tf aws_ecr_repository.from_var"]; !strings.Contains(f.Reason, `variable "computed_mode" has no default`) {
		t.Errorf("from_var reason: %s", f.Reason)
	}
	if f := got["main.tf aws_ecr_repository.from_resource"]; !strings.Contains(f.Reason, "aws_kms_key.k.arn") {
		t.Errorf("from_resource reason: %s", f.Reason)
	}
	if f := got[`prod: main.tf module.registry.aws_ecr_repository.this["api"]`]; !slices.Equal(f.Immutability.MutablePatterns, []string{"latest"}) {
		t.Errorf("dynamic exclusions: %v", f.Immutability.MutablePatterns)
	}
}

func TestOtherRegistriesAndACRNote(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/tf/others")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"main.tf harbor_project.bare":                           {drif, "bare", "", 1},
		"main.tf harbor_immutable_tag_rule.all":                 {comp, "ruled", "", 9},
		"main.tf harbor_immutable_tag_rule.releases":            {drif, "partial", "", 19},
		"main.tf harbor_immutable_tag_rule.off":                 {drif, "partial", "", 25},
		"main.tf harbor_project.proxy":                          {exem, "dockerhub-proxy", "", 31},
		"main.tf docker_hub_repository_immutable_tags.managed":  {comp, "managed", "enabled=true rules=[.*]", 41},
		"main.tf docker_hub_repository_immutable_tags.some":     {drif, "legacy", "", 47},
		"main.tf docker_hub_repository_immutable_tags.disabled": {drif, "old", "enabled=false", 54},
		"main.tf harbor_immutable_tag_rule.covered_all":         {comp, "covered", "", 108},
		// Rules add up: covered_all already protects every tag.
		"main.tf harbor_immutable_tag_rule.covered_releases":        {comp, "covered", "", 113},
		"main.tf gitlab_project_container_tag_protection.immutable": {comp, "group/app", "", 59},
		"main.tf gitlab_project_container_tag_protection.releases":  {drif, "group/lib", "", 73},
		"main.tf gitlab_project_container_tag_protection.protected": {drif, "group/lib", "", 79}, "main.tf gitlab_project_container_tag_protection.app_protected": {comp, "group/app", "", 66},
		"main.tf aws_ecr_repository_creation_template.root": {comp, "template:ROOT", "IMMUTABLE", 86},
		"main.tf aws_ecr_repository_creation_template.team": {audit.StatusExempt, "template:team", "MUTABLE", 92}, // pull-through cache only, as the audit exempts those repositories
		"hub.tf.json docker_hub_repository.json_repo":       {comp, "json-repo", "", 4},
		"hub.tf.json aws_ecr_repository.json_ecr":           {drif, "json/ecr", "MUTABLE", 11},
	})
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "tag locks") {
		t.Errorf("notes: %v", res.Notes)
	}
}

func TestCloudFormation(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/cfn")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"stack.yaml Resources.Immutable":   {comp, "prod/api", "IMMUTABLE", 20},
		"stack.yaml Resources.Defaulted":   {drif, "prod/defaulted", "MUTABLE", 25},
		"stack.yaml Resources.NoProps":     {drif, "", "MUTABLE", 29},
		"stack.yaml Resources.FromParam":   {drif, "from-param", "MUTABLE", 31},
		"stack.yaml Resources.FromMap":     {comp, "from-map", "IMMUTABLE", 36},
		"stack.yaml Resources.Conditional": {comp, "conditional", "IMMUTABLE", 41},
		"stack.yaml Resources.Unknown":     {erro, "unknown", "", 46},
		"stack.yaml Resources.Excluding":   {drif, "excluding", "IMMUTABLE_WITH_EXCLUSION", 51},
		// Condition IsDev is false with the defaults; another deployment
		// creates it as written, so it is graded like a count = 0 root.
		"stack.yaml Resources.DevOnly":    {drif, "dev-only", "MUTABLE", 62},
		"stack.yaml Resources.Template":   {drif, "template:team", "MUTABLE", 67},
		"stack.json Resources.Repo":       {drif, "", "MUTABLE", 4},
		"serverless.yml Resources.Images": {comp, "shop-images", "IMMUTABLE", 6},
		"stack.json Resources.Good":       {comp, "good", "IMMUTABLE", 11},
		"stack.json Resources.Excl":       {drif, "excl", "MUTABLE_WITH_EXCLUSION", 18},
	})
	if f := got["stack.yaml Resources.Excluding"]; !slices.Equal(f.Immutability.MutablePatterns, []string{"latest", "dev-*"}) {
		t.Errorf("exclusions %v", f.Immutability.MutablePatterns)
	}
}

func TestPlanJSON(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/plan")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"plan.json aws_ecr_repository.app":                                     {comp, "app", "IMMUTABLE", 8},
		`plan.json module.registry.aws_ecr_repository.this["api"]`:             {drif, "team/api", "IMMUTABLE_WITH_EXCLUSION", 34},
		"plan.json module.registry.google_artifact_registry_repository.docker": {drif, "images", "", 46},
		"plan.json module.registry.aws_ecr_repository.computed":                {erro, "computed", "", 59},
	})
}

func TestSuppressions(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/suppress")
	for k, w := range map[string]string{
		"main.tf aws_ecr_repository.scratch":   "scratch images, rebuilt every hour",
		"main.tf aws_ecr_repository.inside":    "load tests overwrite tags",
		"main.tf aws_ecr_repository.noreason":  "",
		"main.tf aws_ecr_repository.wrongrule": "",
		"stack.yaml Resources.Cache":           "a cache that mirrors upstream tags",
	} {
		f := got[k]
		if f.Suppressed != (w != "") || f.SuppressReason != w {
			t.Errorf("%s: suppressed=%t reason=%q, want %q", k, f.Suppressed, f.SuppressReason, w)
		}
	}
	if len(res.Invalid) != 1 || res.Invalid[0].Line != 11 || !strings.Contains(res.Invalid[0].Message, "no reason") {
		t.Errorf("invalid: %v", res.Invalid)
	}
	// Two active findings plus the invalid comment.
	if n := res.Active(); n != 3 {
		t.Errorf("active %d, want 3", n)
	}
}

func TestRenderJSONAndSARIF(t *testing.T) {
	res := Scan([]string{"testdata/tf/basic"}, Options{})
	var buf bytes.Buffer
	if err := Render(&buf, res, "json", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []struct {
			File       string `json:"file"`
			Line       int    `json:"line"`
			Column     int    `json:"column"`
			Address    string `json:"address"`
			Status     string `json:"status"`
			Edit       string `json:"edit"`
			Repository string `json:"repository"`
		} `json:"findings"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 12 || doc.Summary["drift"] != 8 || doc.Summary["active"] != 8 {
		t.Errorf("findings %d summary %v", len(doc.Findings), doc.Summary)
	}
	buf.Reset()
	if err := Render(&buf, res, "sarif", RenderOptions{BaseDir: "testdata/tf"}); err != nil {
		t.Fatal(err)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &sarif); err != nil {
		t.Fatal(err)
	}
	rs := sarif.Runs[0].Results
	if len(rs) != 8 {
		t.Fatalf("sarif results %d, want 8 (drift only)", len(rs))
	}
	if l := rs[0].Locations[0].PhysicalLocation; l.ArtifactLocation.URI != "basic/main.tf" || l.Region.StartLine != 7 || rs[0].RuleID != audit.RuleMutable {
		t.Errorf("first result %+v %s", l, rs[0].RuleID)
	}
}

// copyTree copies a testdata directory to a temporary one for edits.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestFixMakesEverythingCompliant applies every edit and scans again:
// nothing fixable may stay in drift, nothing that was compliant may
// change, and comments and untouched lines stay byte for byte.
func TestFixMakesEverythingCompliant(t *testing.T) {
	for _, dir := range []string{"testdata/tf/basic", "testdata/tf/others", "testdata/cfn", "testdata/tf/modules"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp := copyTree(t, dir)
			before := Scan([]string{tmp}, Options{})
			changes, errs := PlanFixes(before.Findings, Policy{})
			if len(errs) != 0 {
				t.Fatalf("plan errors: %v", errs)
			}
			if err := WriteChanges(changes); err != nil {
				t.Fatal(err)
			}
			after := Scan([]string{tmp}, Options{})
			if len(after.Errors) != 0 {
				t.Fatalf("edited files do not parse: %v", after.Errors)
			}
			if len(after.Findings) != len(before.Findings) && filepath.Base(dir) != "others" {
				t.Errorf("findings %d -> %d", len(before.Findings), len(after.Findings))
			}
			for _, f := range after.Findings {
				if f.Status == drif && f.Syntax != SyntaxTFJSON {
					t.Errorf("%s still drift after the fix: %s", f.Address, f.Reason)
				}
			}
			for _, c := range changes {
				for _, l := range strings.Split(string(c.Old), "\n") {
					if strings.Contains(l, "#") && !strings.Contains(string(c.New), strings.TrimSpace(l[strings.Index(l, "#"):])) {
						t.Errorf("%s: comment %q lost", c.File, l)
					}
				}
			}
		})
	}
}

func TestFixNeverLoosens(t *testing.T) {
	tmp := copyTree(t, "testdata/tf/basic")
	before := Scan([]string{tmp}, Options{})
	changes, _ := PlanFixes(before.Findings, Policy{MutableTagsAllowed: []string{"latest"}})
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	after := Scan([]string{tmp}, Options{Policy: Policy{MutableTagsAllowed: []string{"latest"}}})
	rank := map[audit.Status]int{comp: 2, exem: 2, drif: 0, erro: 0}
	for i, f := range after.Findings {
		b := before.Findings[i]
		if f.Address != b.Address {
			t.Fatalf("order changed: %s vs %s", f.Address, b.Address)
		}
		if b.Status == comp && f.Immutability.Native != b.Immutability.Native {
			t.Errorf("%s: a compliant resource was changed: %s -> %s", f.Address, b.Immutability.Native, f.Immutability.Native)
		}
		if rank[f.Status] < rank[b.Status] {
			t.Errorf("%s: %s -> %s", f.Address, b.Status, f.Status)
		}
	}
	// The allowed exclusion is kept.
	src, _ := os.ReadFile(filepath.Join(tmp, "main.tf"))
	if !strings.Contains(string(src), `filter      = "latest"`) || strings.Contains(string(src), `"dev-*"`) {
		t.Errorf("exclusions after the fix:\n%s", src)
	}
}

func TestDiffIsUnified(t *testing.T) {
	tmp := copyTree(t, "testdata/cfn")
	res := Scan([]string{filepath.Join(tmp, "stack.yaml")}, Options{})
	changes, errs := PlanFixes(res.Findings, Policy{})
	if len(errs) != 0 || len(changes) != 1 {
		t.Fatalf("changes %d errs %v", len(changes), errs)
	}
	d := changes[0].Diff()
	for _, want := range []string{"--- a/", "+++ b/", "@@ ", "-      ImageTagMutability: !Ref Mutability # the default is mutable", "+      ImageTagMutability: IMMUTABLE # the default is mutable"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	// Dry run: the file is untouched.
	now, _ := os.ReadFile(filepath.Join(tmp, "stack.yaml"))
	if !bytes.Equal(now, changes[0].Old) {
		t.Error("planning changed the file")
	}
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.tf"), []byte("resource \"aws_ecr_repository\" \"x\" {\n  name = \n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("Resources:\n  R:\n    Type: AWS::ECR::Repository\n   bad: [\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("not: [cloudformation\n"), 0o644)
	res := Scan([]string{dir, filepath.Join(dir, "missing")}, Options{})
	var files []string
	for _, e := range res.Errors {
		files = append(files, filepath.Base(e.File))
	}
	slices.Sort(files)
	if !slices.Contains(files, "bad.tf") || !slices.Contains(files, "bad.yaml") || !slices.Contains(files, "missing") || slices.Contains(files, "other.yaml") {
		t.Errorf("errors for %v: %v", files, res.Errors)
	}
	for _, e := range res.Errors {
		if filepath.Base(e.File) == "bad.tf" && e.Line != 2 && e.Line != 3 {
			t.Errorf("bad.tf error line %d", e.Line)
		}
	}
}

func TestIndexMatchesLiveRepositories(t *testing.T) {
	res := Scan([]string{"testdata/tf/others", "testdata/tf/basic"}, Options{})
	x := NewIndex(res)
	cases := []struct {
		kind            providers.Kind
		scope, name     string
		managed, agrees bool
		status          audit.Status
		reverted        bool
	}{
		// Harbor rules belong to the project (the live scope).
		{"harbor", "ruled", "team/api", true, true, comp, false},
		{"harbor", "bare", "x", true, false, comp, true},
		{"dockerhub", "acme", "managed", true, true, comp, false},
		{"dockerhub", "acme", "plain", true, false, comp, true},
		{"ecr", "123/eu-west-1", "web/api", true, true, comp, false},
		{"ecr", "123/eu-west-1", "web/mutable", true, true, drif, false},
		{"artifactregistry", "p/europe-west1", "scratch", true, false, comp, true},
		{"gitlab", "group/app", "group/app/image", true, true, comp, false},
		{"gitlab", "group/lib", "group/lib/image", true, false, comp, true},
		{"ecr", "123/eu-west-1", "nowhere", false, false, comp, false},
		// lifecycle.ignore_changes keeps the live setting: not reverted.
		{"ecr", "123/eu-west-1", "web/ignored", true, false, comp, false},
	}
	for _, c := range cases {
		f := &audit.Finding{Kind: c.kind, Scope: c.scope, Repository: c.name, Status: c.status}
		x.Annotate(f)
		got := f.Code
		if got.Managed != c.managed || got.Agrees != c.agrees || strings.HasPrefix(got.Finding, Reverted) != c.reverted {
			t.Errorf("%s %s/%s: %+v", c.kind, c.scope, c.name, got)
		}
	}
}

// TestRegistryModulesDownloadedByInit: a registry module that terraform
// init downloaded is followed through .terraform/modules/modules.json;
// its copy is never edited.
func TestRegistryModulesDownloadedByInit(t *testing.T) {
	got, res := byAddress(t, Policy{}, "testdata/initialized")
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	check(t, got, map[string]want{
		"initialized: main.tf module.ecr.aws_ecr_repository.this": {drif, "shop/registry-module", "MUTABLE", 10},
	})
	f := got["initialized: main.tf module.ecr.aws_ecr_repository.this"]
	if f.Fixable() || !strings.Contains(f.Edit, "downloaded by terraform init") {
		t.Errorf("fixable %t edit %q", f.Fixable(), f.Edit)
	}
}
