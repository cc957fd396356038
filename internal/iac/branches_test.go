package iac

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/audit"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func scanBy(t *testing.T, p Policy, dir string) map[string]Finding {
	t.Helper()
	got := map[string]Finding{}
	res := Scan([]string{dir}, Options{Policy: p})
	for _, e := range res.Errors {
		t.Errorf("error: %s: %s", e.File, e.Message)
	}
	for _, f := range res.Findings {
		got[f.Address] = f
	}
	return got
}

// A conditional on a value the scan cannot know is graded when every
// way it can go grades alike, and stays unknown otherwise.
func TestConditionalsGradedWhenEveryBranchAgrees(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tf": `
variable "stage" {}
variable "locked" { type = bool }
locals {
  mode = var.stage == "live" ? "MUTABLE" : null
}
resource "aws_ecr_repository" "null_or_mutable" {
  name                 = "svc/a"
  image_tag_mutability = local.mode
}
resource "aws_ecr_repository" "either" {
  name                 = "svc/b"
  image_tag_mutability = var.locked ? "IMMUTABLE" : "MUTABLE"
}
resource "aws_ecr_repository" "latest_only_when_open" {
  name                 = "svc/c"
  image_tag_mutability = var.locked ? "IMMUTABLE" : "IMMUTABLE_WITH_EXCLUSION"
  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = var.locked ? [] : ["latest"]
    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }
}
resource "google_artifact_registry_repository" "both_true" {
  repository_id = "images"
  format        = "DOCKER"
  docker_config {
    immutable_tags = var.locked ? true : contains(["x"], "x")
  }
}
`,
		"stack.yaml": `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage:
    Type: String
Conditions:
  Live: !Equals [!Ref Stage, live]
Resources:
  Same:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: !If [Live, IMMUTABLE, IMMUTABLE]
  MutableOrDefault:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: !If [Live, MUTABLE, !Ref AWS::NoValue]
  Differ:
    Type: AWS::ECR::Repository
    Properties:
      ImageTagMutability: !If [Live, IMMUTABLE, MUTABLE]
`,
	})
	got := scanBy(t, Policy{}, dir)
	for addr, st := range map[string]audit.Status{
		"aws_ecr_repository.null_or_mutable": drif,
		"aws_ecr_repository.either":          erro,
		// Strict policy: the "latest" exclusion is drift, IMMUTABLE is
		// not: the ways disagree.
		"aws_ecr_repository.latest_only_when_open":      erro,
		"google_artifact_registry_repository.both_true": comp,
		"Resources.Same":             comp,
		"Resources.MutableOrDefault": drif,
		"Resources.Differ":           erro,
	} {
		f, ok := got[addr]
		if !ok {
			t.Errorf("%s: not reported", addr)
			continue
		}
		if f.Status != st {
			t.Errorf("%s: %s, want %s (%s)", addr, f.Status, st, f.Reason)
		}
	}
	if f := got["aws_ecr_repository.null_or_mutable"]; !strings.Contains(f.Immutability.Note, "every way") || f.Edit == "" {
		t.Errorf("null_or_mutable: note %q edit %q", f.Immutability.Note, f.Edit)
	}
	// A policy that allows "latest" makes both ways of the exclusion
	// compliant: the resource is, without knowing which way it goes.
	got = scanBy(t, Policy{MutableTagsAllowed: []string{"latest"}}, dir)
	if f := got["aws_ecr_repository.latest_only_when_open"]; f.Status != comp {
		t.Errorf("latest_only_when_open with latest allowed: %s (%s)", f.Status, f.Reason)
	}
	if f := got["aws_ecr_repository.either"]; f.Status != erro {
		t.Errorf("either with latest allowed: %s (%s)", f.Status, f.Reason)
	}
}

// sarifPrints maps each SARIF result's message to its fingerprint.
func sarifPrints(t *testing.T, dir string) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, Scan([]string{dir}, Options{}), "sarif", RenderOptions{ToolVersion: "test", BaseDir: dir}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Message             struct{ Text string }
				PartialFingerprints map[string]string
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range log.Runs[0].Results {
		out[r.Message.Text] = r.PartialFingerprints["primaryLocationLineHash"]
	}
	return out
}

// Environments that disagree about a declaration give each its own
// alert, whose fingerprint does not depend on the other environments.
func TestSARIFFingerprintsNameTheEnvironment(t *testing.T) {
	files := map[string]string{
		"main.tf": `
variable "mutability" { default = "IMMUTABLE" }
resource "aws_ecr_repository" "app" {
  name                 = "app"
  image_tag_mutability = var.mutability
}
`,
		"envs/blue.tfvars":  `mutability = "MUTABLE"` + "\n",
		"envs/green.tfvars": `mutability = "MUTABLE_WITH_EXCLUSION"` + "\n",
	}
	both := sarifPrints(t, writeFiles(t, files))
	delete(files, "envs/blue.tfvars")
	files["envs/red.tfvars"] = `mutability = "MUTABLE"` + "\n"
	files["envs/amber.tfvars"] = `mutability = "IMMUTABLE"` + "\n"
	others := sarifPrints(t, writeFiles(t, files))
	var blue, green, green2 string
	for msg, fp := range both {
		switch {
		case strings.Contains(msg, "blue"):
			blue = fp
		case strings.Contains(msg, "green"):
			green = fp
		}
	}
	for msg, fp := range others {
		if strings.Contains(msg, "green") {
			green2 = fp
		}
	}
	if blue == "" || green == "" || green2 == "" {
		t.Fatalf("results missing: %v / %v", both, others)
	}
	if blue == green {
		t.Errorf("blue and green share fingerprint %s", blue)
	}
	if green != green2 {
		t.Errorf("green's fingerprint changed with the other environments: %s then %s", green, green2)
	}
	seen := map[string]bool{}
	for _, fp := range others {
		if seen[fp] {
			t.Errorf("fingerprint %s repeated: %v", fp, others)
		}
		seen[fp] = true
	}
}

// A creation template applied only to pull-through cache repositories is
// exempt as the audit exempts those repositories; one also applied on
// push is graded.
func TestCreationTemplateForPullThroughCacheOnly(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tf": `
resource "aws_ecr_pull_through_cache_rule" "hub" {
  ecr_repository_prefix = "hub"
  upstream_registry_url = "registry-1.docker.io"
}
resource "aws_ecr_repository_creation_template" "cache" {
  prefix               = "hub"
  image_tag_mutability = "MUTABLE"
  applied_for          = ["PULL_THROUGH_CACHE"]
}
resource "aws_ecr_repository_creation_template" "pushed" {
  prefix      = "apps"
  applied_for = ["PULL_THROUGH_CACHE", "CREATE_ON_PUSH"]
}
`,
		"t.yaml": `Resources:
  Cache:
    Type: AWS::ECR::RepositoryCreationTemplate
    Properties:
      Prefix: quay
      AppliedFor: [PULL_THROUGH_CACHE]
  Replicas:
    Type: AWS::ECR::RepositoryCreationTemplate
    Properties:
      Prefix: ROOT
      AppliedFor: [REPLICATION]
      ImageTagMutability: MUTABLE
`,
	})
	got := scanBy(t, Policy{}, dir)
	for addr, st := range map[string]audit.Status{
		"aws_ecr_repository_creation_template.cache":  audit.StatusExempt,
		"aws_ecr_repository_creation_template.pushed": drif,
		"Resources.Cache":    audit.StatusExempt,
		"Resources.Replicas": drif,
	} {
		if f := got[addr]; f.Status != st {
			t.Errorf("%s: %s, want %s (%s)", addr, f.Status, st, f.Reason)
		}
	}
}

// A nested stack uploaded to S3 is graded from the file of the same name
// in the scan when only one has it, with the parameters the parent
// passes, and the finding says so; otherwise the scan says it did not
// read the nested template.
func TestNestedStacksByUploadedFileName(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"parent.yaml": `Parameters:
  Bucket:
    Type: String
Resources:
  Registry:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: !Sub https://${Bucket}.s3.amazonaws.com/stacks/registry.yaml
      Parameters:
        Mutability: MUTABLE
  Joined:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: !Join ["", ["https://", !Ref Bucket, ".s3.amazonaws.com/", "other.yaml"]]
  Twice:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example-bucket.s3.amazonaws.com/common.yaml
`,
		"nested/registry.yaml": `Parameters:
  Mutability:
    Type: String
    Default: IMMUTABLE
Resources:
  Repo:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: images/app
      ImageTagMutability: !Ref Mutability
`,
		"a/common.yaml": "Resources:\n  R:\n    Type: AWS::ECR::Repository\n",
		"b/common.yaml": "Resources:\n  R:\n    Type: AWS::ECR::Repository\n",
	})
	res := Scan([]string{dir}, Options{})
	var repo *Finding
	for i, f := range res.Findings {
		if f.Address == "Resources.Repo" {
			if repo != nil {
				t.Errorf("Resources.Repo reported twice")
			}
			repo = &res.Findings[i]
		}
	}
	if repo == nil || repo.Status != drif || !strings.Contains(repo.Immutability.Note, "registry.yaml") {
		t.Fatalf("nested registry: %+v", repo)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"Resources.Joined: the nested template ...other.yaml was not read (no file of that name", "Resources.Twice: the nested template https://example-bucket.s3.amazonaws.com/common.yaml was not read (2 files"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// The Artifact Registry module of GoogleCloudPlatform is read from its
// inputs before terraform init: docker_config is null by default, so
// tags are mutable; the fix sets the call's docker_config input.
func TestArtifactRegistryModuleReadFromItsInputs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tf": `
module "images" {
  source        = "GoogleCloudPlatform/artifact-registry/google"
  version       = "~> 0.3"
  project_id    = "p"
  location      = "europe-west1"
  repository_id = "images"
  format        = "DOCKER"
}
module "locked" {
  source        = "GoogleCloudPlatform/artifact-registry/google"
  project_id    = "p"
  location      = "europe-west1"
  repository_id = "locked"
  format        = "DOCKER"
  docker_config = { immutable_tags = true }
}
module "mirror" {
  source        = "github.com/GoogleCloudPlatform/terraform-google-artifact-registry?ref=v0.3.0"
  project_id    = "p"
  location      = "europe-west1"
  repository_id = "hub"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
}
module "fabric" {
  source     = "github.com/GoogleCloudPlatform/cloud-foundation-fabric//modules/artifact-registry?ref=v36.0.0"
  project_id = "p"
  location   = "europe-west1"
  name       = "fabric"
  format     = { docker = { standard = { immutable_tags = false } } }
}
module "fabric_remote" {
  source     = "github.com/GoogleCloudPlatform/cloud-foundation-fabric//modules/artifact-registry?ref=v36.0.0"
  project_id = "p"
  location   = "europe-west1"
  name       = "fabric-hub"
  format     = { docker = { remote = { public_repository = "DOCKER_HUB" } } }
}
module "charts" {
  source        = "GoogleCloudPlatform/artifact-registry/google"
  project_id    = "p"
  location      = "europe-west1"
  repository_id = "py"
  format        = "PYTHON"
}
`,
	})
	got := scanBy(t, Policy{}, dir)
	for addr, st := range map[string]audit.Status{
		"module.images.google_artifact_registry_repository.repo":            drif,
		"module.locked.google_artifact_registry_repository.repo":            comp,
		"module.mirror.google_artifact_registry_repository.repo":            audit.StatusExempt,
		"module.fabric.google_artifact_registry_repository.registry":        drif,
		"module.fabric_remote.google_artifact_registry_repository.registry": audit.StatusExempt,
	} {
		if f := got[addr]; f.Status != st {
			t.Errorf("%s: %s, want %s (%s)", addr, f.Status, st, f.Reason)
		}
	}
	if _, ok := got["module.charts.google_artifact_registry_repository.repo"]; ok {
		t.Errorf("a PYTHON repository is not a container repository")
	}
	if f := got["module.images.google_artifact_registry_repository.repo"]; f.Name != "images" || !strings.Contains(f.Edit, "docker_config") {
		t.Errorf("images: name %q edit %q", f.Name, f.Edit)
	}
	changes, errs := PlanFixes(Scan([]string{dir}, Options{}).Findings, Policy{})
	if len(errs) != 0 {
		t.Fatalf("plan errors: %v", errs)
	}
	if err := WriteChanges(changes); err != nil {
		t.Fatal(err)
	}
	again := scanBy(t, Policy{}, dir)
	for _, addr := range []string{"module.images.google_artifact_registry_repository.repo", "module.fabric.google_artifact_registry_repository.registry"} {
		if f := again[addr]; f.Status != comp {
			t.Errorf("%s after the fix: %s (%s)", addr, f.Status, f.Reason)
		}
	}
}

// A local that is the workspace keys settings as terraform.workspace
// does: each workspace the map names is graded.
func TestWorkspaceThroughALocal(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tf": `
variable "settings" {}
locals {
  env = terraform.workspace
  cfg = lookup(var.settings, local.env).repo
}
resource "aws_ecr_repository" "app" {
  name                 = local.cfg.name
  image_tag_mutability = try(local.cfg.mutability, "MUTABLE")
}
`,
		"terraform.tfvars": `settings = {
  live    = { repo = { name = "app", mutability = "IMMUTABLE" } }
  staging = { repo = { name = "app-staging" } }
}
`,
	})
	got := map[string]Finding{}
	for _, f := range Scan([]string{dir}, Options{}).Findings {
		got[f.Name] = f
	}
	if f := got["app"]; f.Status != comp {
		t.Errorf("live: %s (%s)", f.Status, f.Reason)
	}
	if f := got["app-staging"]; f.Status != drif || !strings.Contains(f.Reason, "workspace staging") {
		t.Errorf("staging: %s (%s)", f.Status, f.Reason)
	}
}

// A template the AWS CDK synthesized is graded like any other, but its
// fix is made in the CDK app: cdk synth would write the edit away.
func TestCDKSynthesizedTemplatesAreFixedInTheApp(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cdk.out/Shop.template.json": `{
 "Resources": {
  "ApiRepoF00D": {
   "Type": "AWS::ECR::Repository",
   "Properties": {"RepositoryName": {"Fn::Join": ["-", ["shop", {"Ref": "AWS::Region"}]]}},
   "Metadata": {"aws:cdk:path": "Shop/ApiRepo/Resource"}
  },
  "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2"}, "Condition": "CDKMetadataAvailable"}
 },
 "Conditions": {"CDKMetadataAvailable": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
 "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"}}
}`,
		"cdk.out/manifest.json": `{"version": "36.0.0", "artifacts": {}}`,
	})
	res := Scan([]string{dir}, Options{})
	if len(res.Errors) != 0 || len(res.Findings) != 1 {
		t.Fatalf("errors %v findings %d", res.Errors, len(res.Findings))
	}
	f := res.Findings[0]
	if f.Status != drif || !strings.Contains(f.Edit, "by hand") || !strings.Contains(f.Edit, "Shop/ApiRepo") {
		t.Errorf("%s: %s edit %q", f.Address, f.Status, f.Edit)
	}
	changes, errs := PlanFixes(res.Findings, Policy{})
	if len(changes) != 0 || len(errs) != 0 {
		t.Errorf("a synthesized template is not edited: %d changes, %v", len(changes), errs)
	}
}

// A pull-through cache rule declares the repositories it creates on first
// pull: exempt as the audit exempts them, and as immutable as the
// creation template for PULL_THROUGH_CACHE with its prefix makes them.
func TestPullThroughCacheRulesFollowTheirTemplate(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.tf": `
resource "aws_ecr_pull_through_cache_rule" "hub" {
  ecr_repository_prefix = "hub"
  upstream_registry_url = "registry-1.docker.io"
}
resource "aws_ecr_pull_through_cache_rule" "quay" {
  ecr_repository_prefix = "quay"
  upstream_registry_url = "quay.io"
}
resource "aws_ecr_repository_creation_template" "hub" {
  prefix               = "hub"
  image_tag_mutability = "IMMUTABLE"
  applied_for          = ["PULL_THROUGH_CACHE"]
}
`,
		"t.yaml": "Resources:\n  Ghcr:\n    Type: AWS::ECR::PullThroughCacheRule\n    Properties:\n      EcrRepositoryPrefix: ghcr\n      UpstreamRegistryUrl: ghcr.io\n",
	})
	got := scanBy(t, Policy{}, dir)
	for addr, st := range map[string]audit.Status{
		"aws_ecr_pull_through_cache_rule.hub":  comp,
		"aws_ecr_pull_through_cache_rule.quay": audit.StatusExempt,
		"Resources.Ghcr":                       audit.StatusExempt,
	} {
		if f := got[addr]; f.Status != st {
			t.Errorf("%s: %s, want %s (%s)", addr, f.Status, st, f.Reason)
		}
	}
}
