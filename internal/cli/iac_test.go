package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

const (
	iacCompliant = "resource \"aws_ecr_repository\" \"a\" {\n  name                 = \"a\"\n  image_tag_mutability = \"IMMUTABLE\"\n}\n"
	iacMutable   = "resource \"aws_ecr_repository\" \"b\" {\n  name = \"b\" # keep this comment\n}\n"
	iacBroken    = "resource \"aws_ecr_repository\" \"c\" {\n  name = \n"
)

func TestIACExitCodes(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		code  int
	}{
		{"compliant", map[string]string{"a.tf": iacCompliant}, []string{"--fail-on-findings"}, CodeOK},
		{"findings are reported, not fatal", map[string]string{"b.tf": iacMutable}, nil, CodeOK},
		{"findings with the gate", map[string]string{"b.tf": iacMutable}, []string{"--fail-on-findings"}, CodeDrift},
		{"broken file", map[string]string{"a.tf": iacCompliant, "sub/c.tf": iacBroken}, []string{"--fail-on-findings"}, CodeError},
		{"findings win over a broken file", map[string]string{"b.tf": iacMutable, "sub/c.tf": iacBroken}, []string{"--fail-on-findings"}, CodeDrift},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeWorkflows(t, c.files)
			r := run(t, testFactory(t), "", append([]string{"iac", dir}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nerr: %v", r.code, c.code, r.stdout, r.err)
			}
		})
	}
}

func TestIACJSONAndPolicyFromConfig(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"b.tf": iacMutable})
	f := testFactory(t)
	f.Config = func() (*config.Config, error) {
		return &config.Config{Version: 1, Policy: config.Policy{Exemptions: []config.Exemption{{Provider: "ecr-prod", Repository: "b", Reason: "legacy"}}}}, nil
	}
	r := run(t, f, "", "iac", "-o", "json", "--fail-on-findings", dir)
	if r.code != CodeOK {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
	var doc struct {
		Findings []struct {
			Status    string `json:"status"`
			Line      int    `json:"line"`
			Address   string `json:"address"`
			Exemption *struct {
				Reason string `json:"reason"`
			} `json:"exemption"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 1 || doc.Findings[0].Status != "exempt" || doc.Findings[0].Exemption.Reason != "legacy" || doc.Findings[0].Line != 1 {
		t.Errorf("findings %+v", doc.Findings)
	}
}

func TestIACDryRunAndFix(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"b.tf": iacMutable})
	p := filepath.Join(dir, "b.tf")
	r := run(t, testFactory(t), "", "iac", "--dry-run", dir)
	if r.code != CodeOK || !strings.Contains(r.stdout, `+  image_tag_mutability = "IMMUTABLE"`) {
		t.Fatalf("dry run: exit %d\n%s", r.code, r.stdout)
	}
	if b, _ := os.ReadFile(p); string(b) != iacMutable {
		t.Fatalf("dry run changed the file:\n%s", b)
	}
	r = run(t, testFactory(t), "", "iac", "--fix", "--fail-on-findings", dir)
	if r.code != CodeOK {
		t.Fatalf("fix: exit %d: %v\n%s", r.code, r.err, r.stdout)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `image_tag_mutability = "IMMUTABLE"`) || !strings.Contains(string(b), "# keep this comment") {
		t.Errorf("after the fix:\n%s", b)
	}
}

const iacCode = `resource "aws_ecr_repository" "api" {
  name                 = "api"
  image_tag_mutability = "MUTABLE"
}

resource "aws_ecr_repository" "web" {
  name                 = "web"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "old" {
  name = "old"
}
`

// TestAuditIACFindsRevertingCode: api was made immutable live but the
// code still says MUTABLE, so the next apply reverts it.
func TestAuditIACFindsRevertingCode(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"main.tf": iacCode})
	p := fake.New("a", providers.KindECR).Add("s",
		fake.Repo{Name: "api", Immutability: imm(providers.ModeImmutable)}).Add("s",
		fake.Repo{Name: "web", Immutability: imm(providers.ModeImmutable)}).Add("s",
		fake.Repo{Name: "old", Immutability: imm(providers.ModeMutable)}).Add("s",
		fake.Repo{Name: "console", Immutability: imm(providers.ModeMutable)})
	r := run(t, fakeFactory(t, p), "", "audit", "-o", "json", "--iac", dir)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	validateReport(t, []byte(r.stdout))
	var rep struct {
		Findings []audit.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]*audit.CodeRef{}
	for _, f := range rep.Findings {
		got[f.Repository] = f.Code
	}
	if c := got["api"]; c == nil || !c.Managed || c.Agrees || !strings.HasPrefix(c.Finding, "will be reverted by the next apply") || c.Line != 1 || c.Address != "aws_ecr_repository.api" {
		t.Errorf("api: %+v", c)
	}
	if c := got["web"]; c == nil || !c.Managed || !c.Agrees || c.Finding != "" {
		t.Errorf("web: %+v", c)
	}
	if c := got["old"]; c == nil || !c.Managed || !c.Agrees || c.Status != audit.StatusDrift {
		t.Errorf("old: %+v", c)
	}
	if c := got["console"]; c == nil || c.Managed {
		t.Errorf("console: %+v", c)
	}
	if !strings.Contains(r.stderr, "1 repositories will be reverted by the next apply") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestFixIACEmitsPatch(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"main.tf": iacCode})
	p := fake.New("a", providers.KindECR).Add("s",
		fake.Repo{Name: "old", Immutability: imm(providers.ModeMutable)}).Add("s",
		fake.Repo{Name: "console", Immutability: imm(providers.ModeMutable)}).Add("s",
		fake.Repo{Name: "web", Immutability: imm(providers.ModeImmutable)})
	patch := filepath.Join(t.TempDir(), "code.patch")
	r := run(t, fakeFactory(t, p), "", "fix", "-o", "json", "--iac", dir, "--emit-patch", patch)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	b, err := os.ReadFile(patch)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// old is fixed live, so its code changes; api is not in the live
	// plan (not changed live), so its code is left to immutag iac.
	if !strings.Contains(s, "+  image_tag_mutability = \"IMMUTABLE\"") || !strings.Contains(s, " resource \"aws_ecr_repository\" \"old\" {") {
		t.Errorf("patch:\n%s", s)
	}
	if strings.Contains(s, "-  image_tag_mutability = \"MUTABLE\"") {
		t.Errorf("patch changes api, which the fix does not touch:\n%s", s)
	}
	if !strings.Contains(s, "# unmanaged (no scanned resource declares it): ecr s/console") || strings.Count(s, "# unmanaged") != 1 {
		t.Errorf("unmanaged not listed:\n%s", s)
	}
	if src, _ := os.ReadFile(filepath.Join(dir, "main.tf")); string(src) != iacCode {
		t.Error("--emit-patch changed the code")
	}
	r = run(t, fakeFactory(t, p), "", "fix", "--emit-patch", patch)
	if r.err == nil || !strings.Contains(r.err.Error(), "--iac") {
		t.Errorf("--emit-patch without --iac: %v", r.err)
	}
}
