package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The least-privilege examples are documentation people paste into
// production. These checks keep the audit sets read-only and the fix sets
// no wider than audit plus the one write each fix makes.

func iamFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "examples", "iam"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func awsActions(t *testing.T, file string) []string {
	t.Helper()
	var doc struct {
		Statement []struct {
			Effect string
			Action any
		}
	}
	if err := json.Unmarshal(iamFile(t, "aws", file), &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		switch a := s.Action.(type) {
		case string:
			out = append(out, a)
		case []any:
			for _, x := range a {
				out = append(out, x.(string))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestIAMExamplesAWS(t *testing.T) {
	audit := awsActions(t, "immutag-audit-policy.json")
	for _, a := range audit {
		if !strings.HasPrefix(a, "ecr:Describe") {
			t.Errorf("audit policy allows %s, which is not a read", a)
		}
	}
	fix := awsActions(t, "immutag-fix-policy.json")
	want := slices.Sorted(slices.Values(append(slices.Clone(audit), "ecr:PutImageTagMutability")))
	if !slices.Equal(fix, want) {
		t.Errorf("fix policy allows %v, want audit plus PutImageTagMutability: %v", fix, want)
	}
	for _, a := range append(fix, awsActions(t, "immutag-creation-templates-policy.json")...) {
		if strings.Contains(a, "Delete") || strings.Contains(a, "*") || a == "ecr:SetRepositoryPolicy" {
			t.Errorf("%s has no place in a fix policy", a)
		}
	}
	if got := awsActions(t, "immutag-scanner-assume-roles-policy.json"); !slices.Equal(got, []string{"sts:AssumeRole"}) {
		t.Errorf("scanner policy allows %v", got)
	}
}

func TestIAMExamplesGCP(t *testing.T) {
	perms := func(file string) []string {
		var r struct {
			IncludedPermissions []string `yaml:"includedPermissions"`
		}
		if err := yaml.Unmarshal(iamFile(t, "gcp", file), &r); err != nil {
			t.Fatal(err)
		}
		return r.IncludedPermissions
	}
	audit, fix := perms("immutag-audit-role.yaml"), perms("immutag-fix-role.yaml")
	for _, p := range audit {
		if !strings.HasSuffix(p, ".list") && !strings.HasSuffix(p, ".get") {
			t.Errorf("audit role includes %s", p)
		}
	}
	if extra := slices.DeleteFunc(slices.Clone(fix), func(p string) bool { return slices.Contains(audit, p) }); !slices.Equal(extra, []string{"artifactregistry.repositories.update"}) {
		t.Errorf("fix role adds %v to the audit role, want only repositories.update", extra)
	}
}

func TestIAMExamplesAzure(t *testing.T) {
	role := func(file string) (actions, data []string) {
		var r struct{ Actions, DataActions []string }
		if err := json.Unmarshal(iamFile(t, "azure", file), &r); err != nil {
			t.Fatal(err)
		}
		return r.Actions, r.DataActions
	}
	a, d := role("immutag-audit-role.json")
	for _, x := range append(a, d...) {
		if !strings.HasSuffix(x, "/read") {
			t.Errorf("audit role grants %s", x)
		}
	}
	fa, fd := role("immutag-fix-role.json")
	if !slices.Equal(fa, a) {
		t.Errorf("fix role actions %v differ from audit %v", fa, a)
	}
	if extra := slices.DeleteFunc(slices.Clone(fd), func(x string) bool { return slices.Contains(d, x) }); !slices.Equal(extra, []string{"Microsoft.ContainerRegistry/registries/repositories/metadata/write"}) {
		t.Errorf("fix role adds %v", extra)
	}
}

func TestIAMExamplesHarbor(t *testing.T) {
	access := func(file string) []string {
		var r struct {
			Permissions []struct {
				Access []struct{ Resource, Action string }
			}
		}
		if err := json.Unmarshal(iamFile(t, "harbor", file), &r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range r.Permissions {
			for _, a := range p.Access {
				out = append(out, a.Resource+":"+a.Action)
			}
		}
		return out
	}
	for _, a := range access("robot-audit.json") {
		if !strings.HasSuffix(a, ":list") {
			t.Errorf("audit robot may %s", a)
		}
	}
	for _, a := range access("robot-fix.json") {
		if strings.HasSuffix(a, ":delete") || strings.HasSuffix(a, ":push") {
			t.Errorf("fix robot may %s", a)
		}
	}
}
