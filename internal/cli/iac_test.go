package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
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
