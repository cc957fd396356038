package iac

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzScan writes src as name in a fresh directory, scans it with panics
// unrecovered, and plans and checks the fixes: whatever the input, the
// scan must not panic and an edit must leave a file that parses.
func fuzzScan(t *testing.T, name string, src []byte) {
	recoverPanics = false
	defer func() { recoverPanics = true }()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	res := Scan([]string{dir}, Options{})
	changes, _ := PlanFixes(res.Findings, Policy{})
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	after := Scan([]string{dir}, Options{})
	if len(changes) > 0 && len(after.Errors) > len(res.Errors) {
		t.Fatalf("the fix broke the file: %v\n%s", after.Errors, changes[0].Diff())
	}
}

func FuzzTerraform(f *testing.F) {
	for _, p := range []string{"testdata/tf/basic/main.tf", "testdata/tf/others/main.tf", "testdata/tf/modules/ecr/main.tf", "testdata/tf/stacks/prod/main.tf",
		"testdata/tf/functions/main.tf", "testdata/tf/legacy/main.tf", "testdata/tf/harbor/main.tf", "testdata/tf/override/main.tf",
		"testdata/tf/registry/main.tf", "testdata/tf/workspaces/main.tf", "testdata/tf/dynfix/main.tf", "testdata/tf/unformatted/main.tf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`resource "aws_ecr_repository" "x" { dynamic "image_tag_mutability_exclusion_filter" { for_each = [1] content {} } }`))
	f.Fuzz(func(t *testing.T, src []byte) { fuzzScan(t, "main.tf", src) })
}

func FuzzCloudFormation(f *testing.F) {
	for _, p := range []string{"testdata/cfn/stack.yaml", "testdata/cfn/stack.json", "testdata/cfn-foreach/repos.yaml", "testdata/sls/serverless.yml",
		"testdata/cfn-nested/parent.yaml", "testdata/cfn-nested/stacks/registry.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties: !If [C, {}, {}]\n"))
	f.Add([]byte("service: s\ncustom:\n  a:\n    b: ${self:custom.a}\nresources:\n  Resources:\n    R:\n      Type: AWS::ECR::Repository\n" +
		"      Properties:\n        ImageTagMutability: ${self:custom.a.b}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fuzzScan(t, "stack.yaml", src)
	})
}

func FuzzPulumiYAML(f *testing.F) {
	for _, p := range []string{"testdata/pulumi/app/Pulumi.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: p\nruntime: yaml\nvariables:\n  a: ${b}\n  b: ${a}\nresources:\n  r:\n    type: aws:ecr:Repository\n    properties:\n      imageTagMutability: ${a}\n"))
	f.Add([]byte("name: p\nruntime: yaml\nresources:\n  r:\n    type: aws:ecr:Repository\n    properties: {imageTagMutability: MUTABLE, name: x}\n"))
	f.Add([]byte("name: p\nruntime: yaml\nresources:\n  r:\n    type: gcp:artifactregistry:Repository\n    properties:\n      format: DOCKER\n      dockerConfig: ${x[0]}\n"))
	f.Fuzz(func(t *testing.T, src []byte) { fuzzScan(t, "Pulumi.yaml", src) })
}
