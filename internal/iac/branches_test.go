package iac

import (
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
