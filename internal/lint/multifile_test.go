package lint

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBakeHCL lints the bake corpus file against its want comments.
func TestBakeHCL(t *testing.T) {
	path := "testdata/bake/docker-bake.hcl"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := LintBytes(path, src, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if want, have := expectations(t, string(src)), got(fs); !slices.Equal(want, have) {
		t.Errorf("want %v\nhave %v", want, have)
		for _, f := range fs {
			t.Logf("%d:%d %s %s", f.Line, f.Column, f.RuleID, f.Message)
		}
	}
	for _, f := range fs {
		if f.File != path {
			t.Errorf("finding in %s, want %s", f.File, path)
		}
	}
}

func TestBakeJSON(t *testing.T) {
	path := "testdata/bake/docker-bake.json"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := LintBytes(path, src, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != RuleExplicitLatest || fs[0].Line != 7 || !strings.Contains(fs[0].Message, "ghcr.io/acme/json:latest") {
		t.Fatalf("want one explicit-latest on line 7, got %+v", fs)
	}
}

// writeTree writes files under a temporary repository root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// where lists findings as base-name:line:rule.
func where(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+":"+f.RuleID)
	}
	slices.Sort(out)
	return out
}

// A local reusable workflow is linted with the caller's with: values: the
// push of latest only happens through the caller.
func TestReusableWorkflowInputs(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/release.yml": `on: push
jobs:
  call:
    uses: ./.github/workflows/build.yml
    with:
      tag: latest
`,
		".github/workflows/build.yml": `on:
  workflow_call:
    inputs:
      tag:
        type: string
        required: true
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/app:${{ inputs.tag }}
`,
	})
	res := Lint([]string{filepath.Join(root, ".github/workflows/release.yml")}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"build.yml:14:explicit-latest", "release.yml:6:explicit-latest"}) {
		t.Fatalf("got %v", w)
	}
	// Linted on its own, the input has no default: nothing is known.
	res = Lint([]string{filepath.Join(root, ".github/workflows/build.yml")}, testCfg)
	if len(res.Findings) != 0 {
		t.Fatalf("got %v", where(res.Findings))
	}
}

func TestGitHubBuilder(t *testing.T) {
	src := `on:
  push:
    tags: ["v*"]
jobs:
  build:
    uses: docker/github-builder/.github/workflows/build.yml@v1
    with:
      output: image
      push: ${{ github.event_name != 'pull_request' }}
      meta-images: ghcr.io/acme/app
      meta-tags: |
        type=semver,pattern={{version}}
  local:
    uses: docker/github-builder/.github/workflows/build.yml@v1
    with:
      output: local
      meta-tags: type=semver,pattern={{version}}
`
	fs, err := LintBytes("w.yml", []byte(src), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != RuleMetadataAutoLatest || fs[0].Line != 12 {
		t.Fatalf("got %+v", fs)
	}
	if fs[0].Fix == nil || len(fs[0].Fix.Edits) != 1 || !strings.Contains(strings.Join(fs[0].Fix.Edits[0].New, "\n"), "meta-flavor: latest=false") {
		t.Fatalf("fix %+v", fs[0].Fix)
	}
}

func TestManifestActions(t *testing.T) {
	src := `on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: akhilerm/tag-push-action@v2.2.0
        with:
          src: ghcr.io/acme/app:${{ github.sha }}
          dst: |
            ghcr.io/acme/app:${{ github.sha }}
            ghcr.io/acme/app:latest
      - uses: Noelware/docker-manifest-action@v1
        with:
          inputs: ghcr.io/acme/app:amd64,ghcr.io/acme/app:arm64
          tags: ghcr.io/acme/multi:latest,ghcr.io/acme/multi:${{ github.sha }}
      - uses: int128/docker-manifest-create-action@v2
        with:
          tags: ghcr.io/acme/m2
          sources: |
            ghcr.io/acme/app@sha256:0123
      - uses: int128/docker-manifest-create-action@v2
        with:
          push: false
          tags: ghcr.io/acme/m3:latest
          sources: ghcr.io/acme/app@sha256:0123
`
	fs, err := LintBytes("w.yml", []byte(src), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if g := got(fs); !slices.Equal(g, []string{"11:explicit-latest", "15:explicit-latest", "18:implicit-latest"}) {
		t.Fatalf("got %v", g)
	}
}

// GitLab include: files and bake files reached from a workflow are
// linted with the including file's variables; findings are reported in
// the file that holds the tag.
func TestIncludesAndBakeAction(t *testing.T) {
	root := writeTree(t, map[string]string{
		".gitlab-ci.yml": `include:
  - local: /ci/release.yml
variables:
  CHANNEL: latest
`,
		"ci/release.yml": `release:
  script:
    - docker push "registry.example.com/app:$CHANNEL"
`,
		".github/workflows/bake.yml": `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    env:
      VERSION: ${{ github.sha }}
    steps:
      - uses: docker/bake-action@v6
        with:
          push: true
          set: |
            *.tags+=ghcr.io/acme/set:edge
`,
		"docker-bake.hcl": `variable "VERSION" { default = "latest" }
target "default" {
  tags = ["ghcr.io/acme/bake:${VERSION}", "ghcr.io/acme/bake:nightly"]
}
`,
	})
	res := Lint([]string{filepath.Join(root, ".gitlab-ci.yml"), filepath.Join(root, ".github/workflows/bake.yml")}, Config{MutableTags: []string{"edge", "nightly"}})
	if w := where(res.Findings); !slices.Equal(w, []string{"bake.yml:12:mutable-tag", "docker-bake.hcl:3:mutable-tag", "release.yml:3:explicit-latest"}) {
		t.Fatalf("got %v %v", w, res.Errors)
	}
}

// docker compose push pushes the services' images, reported in the
// compose file; docker push --all-tags pushes every tag the job built.
func TestComposeAndAllTags(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/ci.yml": `on: push
env:
  TAG: ${{ github.sha }}
jobs:
  compose:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker compose build
          docker compose push
  all-tags:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker build -t ghcr.io/acme/app:${GITHUB_SHA} -t ghcr.io/acme/app:latest .
          docker push --all-tags ghcr.io/acme/app
`,
		"docker-compose.yml": `services:
  web:
    image: ghcr.io/acme/web:${TAG}
  worker:
    image: ghcr.io/acme/worker
  db:
    image: ghcr.io/acme/db:${DB_TAG:-latest}
`,
	})
	res := Lint([]string{filepath.Join(root, ".github/workflows/ci.yml")}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"ci.yml:15:explicit-latest", "docker-compose.yml:5:implicit-latest", "docker-compose.yml:7:explicit-latest"}) {
		t.Fatalf("got %v", w)
	}
}
