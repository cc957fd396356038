package lint

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTaskfileAndJustfile: `task NAME` and `just RECIPE` run recipes
// beside the workflow; their pushes are reported where written, with the
// call's variables and arguments, dependencies and nested task calls.
func TestTaskfileAndJustfile(t *testing.T) {
	root := t.TempDir()
	write := fileWriter(t, root)
	write("Taskfile.yml", `version: '3'
vars:
  REPO: registry.example.com/team/svc
  REV:
    sh: git rev-parse HEAD
tasks:
  image:
    cmds:
      - docker build -t {{.REPO}}:{{.REV}} .
  publish:
    deps: [image]
    cmds:
      - docker push {{.REPO}}:{{.REV}}
      - task: alias
        vars: {CHANNEL: beta}
  alias:
    cmds:
      - crane tag {{.REPO}}:{{.REV}} {{.CHANNEL}}
  ship:
    vars:
      CHANNEL: '{{.CHANNEL | default "latest"}}'
    cmds:
      - docker push {{.REPO}}:{{.CHANNEL}}
  digest-only:
    cmds:
      - docker push {{.REPO}}:{{.REV}}
`)
	write("justfile", `repo := "registry.example.com/team/cli"
channel := env_var_or_default("CHANNEL", "latest")

build:
    docker build -t {{repo}}:{{channel}} .

upload: build
    docker push {{ quote(repo) }}:{{channel}}

stamp version="dev":
    docker push {{repo}}:{{version}}
`)
	wf := write(".github/workflows/ci.yml", `on:
  push:
    branches: [main]
jobs:
  task:
    runs-on: ubuntu-latest
    steps:
      - run: task publish
      - run: task ship
      - run: task ship CHANNEL=${GITHUB_SHA}
      - run: task digest-only
  just:
    runs-on: ubuntu-latest
    env:
      CHANNEL: ${{ github.sha }}
    steps:
      - run: just upload
      - run: just stamp
      - run: just stamp "${GITHUB_SHA}"
      - run: CHANNEL=nightly just upload
`)
	fs, err := LintFile(wf, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+":"+f.RuleID)
		if !strings.Contains(f.Message, "run by ci.yml:") {
			t.Errorf("message does not name the calling step: %s", f.Message)
		}
	}
	want := []string{"Taskfile.yml:18:mutable-tag", "Taskfile.yml:23:explicit-latest", "justfile:8:mutable-tag", "justfile:11:mutable-tag"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		for _, f := range fs {
			t.Log(f.File, f.Line, f.Message)
		}
		t.Fatalf("findings %v, want %v", got, want)
	}
}

// TestTaskfileIncludes: `task NS:NAME` runs NAME of the Taskfile included
// as NS (a file or a directory, by namespace or alias, flattened or
// nested), with the include's vars: under the included file's own and
// the include's dir: (or a task's dir:) as the directory its scripts run
// in; findings are reported in the included file.
func TestTaskfileIncludes(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Taskfile.yml", `version: '3'
vars:
  REGISTRY: ghcr.io/example
includes:
  release:
    taskfile: ./build/release.yml
    vars:
      CHANNEL: latest
  docker:
    taskfile: ./docker
    aliases: [d]
    dir: ./docker
  tools:
    taskfile: ./build/tools.yml
    flatten: true
tasks:
  sha:
    cmds:
      - docker push {{.REGISTRY}}/root:{{.SHA}}
  moved:
    dir: tools
    cmds:
      - ./tag.sh
`)
	write("tools/tag.sh", `#!/bin/sh
crane tag ghcr.io/example/moved:1.0.0 beta
`)
	write("build/release.yml", `version: '3'
vars:
  CHANNEL: '{{.CHANNEL | default "stable-sha"}}'
  FIXED: '{{.FIXED | default "1.0.0"}}'
includes:
  nested: ./nested.yml
tasks:
  push:
    cmds:
      - docker push {{.REGISTRY}}/app:{{.CHANNEL}}
  pinned:
    cmds:
      - docker push {{.REGISTRY}}/app:{{.FIXED}}
  chain:
    cmds:
      - task: push
      - task: nested:edge
`)
	write("build/nested.yml", `version: '3'
tasks:
  edge:
    cmds:
      - crane copy {{.REGISTRY}}/app:1.0.0 {{.REGISTRY}}/app:edge
`)
	write("docker/Taskfile.yml", `version: '3'
tasks:
  publish:
    cmds:
      - ./push.sh nightly
`)
	write("docker/push.sh", `#!/bin/sh
docker push ghcr.io/example/docker:"$1"
`)
	write("build/tools.yml", `version: '3'
tasks:
  tool-push:
    cmds:
      - docker push ghcr.io/example/tool:canary
`)
	wf := filepath.Join(root, ".github/workflows/ci.yml")
	write(".github/workflows/ci.yml", `on:
  push:
    branches: [main]
jobs:
  task:
    runs-on: ubuntu-latest
    steps:
      - run: task release:push
      - run: task release:pinned
      - run: task release:chain
      - run: task d:publish
      - run: task tool-push
      - run: task sha SHA=${GITHUB_SHA}
      - run: task moved
`)
	fs, err := LintFile(wf, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		rel, _ := filepath.Rel(root, f.File)
		got = append(got, rel+":"+strconv.Itoa(f.Line)+":"+f.RuleID)
		// A script a task runs names the Taskfile line that runs it.
		if !strings.Contains(f.Message, "run by ci.yml:") && !strings.Contains(f.Message, "run by Taskfile.yml:") {
			t.Errorf("message does not name the calling step: %s", f.Message)
		}
	}
	want := []string{"build/nested.yml:5:mutable-tag", "build/release.yml:10:explicit-latest",
		"build/tools.yml:5:mutable-tag", "docker/push.sh:2:mutable-tag", "tools/tag.sh:2:mutable-tag"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		for _, f := range fs {
			t.Log(f.File, f.Line, f.Message)
		}
		t.Fatalf("findings %v, want %v", got, want)
	}
}
