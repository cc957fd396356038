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
	write := func(rel, text string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
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
