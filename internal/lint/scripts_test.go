package lint

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLocalScriptsAndMakefiles: a step that runs a repository script or a
// make target pushes what the script or recipe pushes; the finding is
// reported where the push is written and names the calling step, and a
// fix of the script never edits the workflow.
func TestLocalScriptsAndMakefiles(t *testing.T) {
	root := t.TempDir()
	write := fileWriter(t, root)
	write("Makefile", "IMAGE ?= ghcr.io/acme/app\nTAG = $(GIT_SHA)\n\nbuild:\n\tdocker build -t $(IMAGE):$(TAG) .\n\npush: build\n\tdocker push $(IMAGE):$(TAG)\n\tdocker push $(IMAGE):$(CHANNEL)\n\nrelease:\n\tdocker buildx build --push \\\n\t\t-t $(IMAGE):latest .\n")
	write("scripts/release.sh", "#!/usr/bin/env bash\nset -euo pipefail\nimage=\"$1\"\nfor t in \"$GITHUB_SHA\" latest; do\n  docker tag \"$image:build\" \"$image:$t\"\n  docker push \"$image:$t\"\ndone\n")
	wf := write(".github/workflows/release.yml", `on:
  push:
    branches: [main]
jobs:
  make:
    runs-on: ubuntu-latest
    steps:
      - run: make push CHANNEL=nightly GIT_SHA=${GITHUB_SHA}
      - run: make push CHANNEL=${GITHUB_SHA} GIT_SHA=${GITHUB_SHA}
      - run: make release
  script:
    runs-on: ubuntu-latest
    steps:
      - run: ./scripts/release.sh ghcr.io/acme/tool
`)
	fs, err := LintFile(wf, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+":"+f.RuleID)
		if !strings.Contains(f.Message, "run by release.yml:") {
			t.Errorf("message does not name the calling step: %s", f.Message)
		}
	}
	// A recipe line continued with a backslash is one command.
	want := []string{"Makefile:9:mutable-tag", "Makefile:13:explicit-latest", "release.sh:6:explicit-latest"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("findings %v, want %v", got, want)
	}
	// The script's fix rewrites the script only, where the tag is written.
	for _, f := range fs {
		if filepath.Base(f.File) != "release.sh" {
			continue
		}
		src, _ := os.ReadFile(f.File)
		out, err := ApplyEdits(src, f.Fix.Edits)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `for t in "$GITHUB_SHA" ${GITHUB_SHA}; do`) {
			t.Errorf("script fix:\n%s", out)
		}
	}
}

// TestArrayJoinsStayBounded: an array defined once and met on both sides
// of many ifs keeps its elements once (each join used to append both
// sides' copies, doubling it per if until a 200-line install script ran
// out of memory), and its elements are still followed to the push.
func TestArrayJoinsStayBounded(t *testing.T) {
	d := varDef{value: "a", arr: []varDef{{value: "ghcr.io/acme/app:latest"}, {value: "ghcr.io/acme/app:1.0"}}}
	for i := 0; i < 64; i++ {
		d = joinDefs(d, d)
	}
	if len(d.arr) != 2 {
		t.Fatalf("array has %d elements after 64 joins, want 2", len(d.arr))
	}
	var b strings.Builder
	b.WriteString("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n")
	b.WriteString("          tags=(ghcr.io/acme/app:latest ghcr.io/acme/app:${GITHUB_SHA})\n")
	for i := 0; i < 40; i++ {
		b.WriteString("          if [ -n \"$X" + strconv.Itoa(i) + "\" ]; then echo " + strconv.Itoa(i) + "; fi\n")
	}
	b.WriteString("          for t in \"${tags[@]}\"; do docker push \"$t\"; done\n")
	fs, err := LintBytes("w.yml", []byte(b.String()), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != RuleExplicitLatest {
		t.Fatalf("findings %v, want one explicit-latest", fs)
	}
}

// TestGoreleaserConfig: a publishing goreleaser release (the action or
// the command) pushes the images of its configuration; a snapshot does
// not. Entries are deleted by the fix only while another entry remains.
func TestGoreleaserConfig(t *testing.T) {
	root := t.TempDir()
	write := fileWriter(t, root)
	write(".goreleaser.yaml", `dockers:
  - image_templates:
      - "ghcr.io/acme/tool:{{ .Version }}"
      - "ghcr.io/acme/tool:latest"
  - image_templates:
      - "ghcr.io/acme/tool:edge"
    skip_push: true
docker_manifests:
  - name_template: "ghcr.io/acme/tool:latest"
    image_templates: ["ghcr.io/acme/tool:{{ .Version }}-amd64"]
dockers_v2:
  - images: [ghcr.io/acme/tool]
    tags:
      - nightly
`)
	wf := write(".github/workflows/release.yml", `on:
  push:
    tags: ["v*"]
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - uses: goreleaser/goreleaser-action@v6
        with:
          args: release --clean
  snapshot:
    runs-on: ubuntu-latest
    steps:
      - run: goreleaser release --snapshot --clean
`)
	fs, err := LintFile(wf, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+":"+f.RuleID+":"+strconv.Itoa(len(f.Fix.Edits)))
		if !strings.Contains(f.Message, "run by release.yml:8") {
			t.Errorf("message does not name the release step: %s", f.Message)
		}
	}
	// The dockers latest template is deleted (the version stays); the
	// manifest and the only dockers_v2 tag are reported without an edit.
	want := ".goreleaser.yaml:4:explicit-latest:1 .goreleaser.yaml:9:explicit-latest:0 .goreleaser.yaml:14:mutable-tag:0"
	if strings.Join(got, " ") != want {
		t.Fatalf("findings %v\nwant %s", got, want)
	}
}

// TestMakeIfFunction: $(if $(PUSH),--push) in a recipe pushes when the
// step sets PUSH on the make command line, and not otherwise.
func TestMakeIfFunction(t *testing.T) {
	root := t.TempDir()
	for rel, text := range map[string]string{
		"Makefile":                 "image:\n\tdocker buildx build $(if $(PUSH),--push,--load) \\\n\t\t-t registry.example.com/app:edge .\n",
		".github/workflows/ci.yml": "on:\n  push:\n    branches: [main]\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make image\n      - run: make PUSH=1 image\n",
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := LintFile(filepath.Join(root, ".github/workflows/ci.yml"), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Line != 3 || fs[0].RuleID != RuleMutableTag || !strings.Contains(fs[0].Message, "run by ci.yml:9") {
		for _, f := range fs {
			t.Log(f.File, f.Line, f.Message)
		}
		t.Fatalf("want one mutable-tag at Makefile:3 from the PUSH=1 call, got %d findings", len(fs))
	}
}

// fileWriter writes files below root (creating their directories) and
// returns each file's path.
func fileWriter(t *testing.T, root string) func(rel, text string) string {
	return func(rel, text string) string {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
