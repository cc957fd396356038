package lint

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// applyAll applies every finding's edits the way `immutag lint --fix`
// does: finding by finding, skipping one whose edits conflict with those
// already taken. It returns the new text and how many findings were fixed.
func applyAll(src []byte, fs []Finding, file string) ([]byte, int) {
	var taken []Edit
	n := 0
	for _, f := range fs {
		if f.Suppressed() || f.Fix == nil || len(f.Fix.Edits) == 0 || f.File != file {
			continue
		}
		try := append(append([]Edit(nil), taken...), f.Fix.Edits...)
		if _, err := ApplyEdits(src, try); err != nil {
			continue
		}
		taken, n = try, n+1
	}
	out, err := ApplyEdits(src, taken)
	if err != nil {
		return src, 0
	}
	return out, n
}

var exprTextRE = regexp.MustCompile(`\$\{\{.*?\}\}`)

// metaInputs lists, in order, the tags and flavor inputs of every
// docker/metadata-action step (and docker/github-builder call) with
// GitHub's expressions rendered to a placeholder value.
func metaInputs(t *testing.T, file string, src []byte) [][2]string {
	t.Helper()
	s := newSource(file, src)
	docs, err := parseDocuments(file, src)
	if err != nil {
		t.Fatalf("%s no longer parses: %v", file, err)
	}
	var out [][2]string
	read := func(with *yaml.Node, prefix string) {
		_, tags := s.get(with, prefix+"tags")
		_, fl := s.get(with, prefix+"flavor")
		tv, _ := s.str(tags)
		fv, _ := s.str(fl)
		out = append(out, [2]string{exprTextRE.ReplaceAllString(tv, "true"), exprTextRE.ReplaceAllString(fv, "true")})
	}
	steps := func(n *yaml.Node) {
		for _, st := range s.items(n) {
			_, uses := s.get(st, "uses")
			if u, _ := s.str(uses); actionName(u) == "docker/metadata-action" {
				_, with := s.get(st, "with")
				read(with, "")
			}
		}
	}
	for _, d := range docs {
		top := s.deref(d)
		_, jobs := s.get(top, "jobs")
		for _, p := range s.pairs(jobs) {
			_, st := s.get(p.value, "steps")
			steps(st)
			_, uses := s.get(p.value, "uses")
			if u, _ := s.str(uses); actionName(u) == "docker/github-builder" {
				_, with := s.get(p.value, "with")
				read(with, "meta-")
			}
		}
		_, runs := s.get(top, "runs")
		_, st := s.get(runs, "steps")
		steps(st)
	}
	return out
}

// runScripts lists every run: script and whether the shell parser
// accepts it.
func runScripts(file string, src []byte) []bool {
	s := newSource(file, src)
	docs, _ := parseDocuments(file, src)
	var out []bool
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		n = s.deref(n)
		if n == nil || depth > 64 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "run" || n.Content[i].Value == "script" {
					for _, v := range append([]*yaml.Node{n.Content[i+1]}, s.items(n.Content[i+1])...) {
						if str, ok := s.str(v); ok {
							_, err := parseShell(str)
							out = append(out, err == nil)
						}
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	for _, d := range docs {
		walk(d, 0)
	}
	return out
}

// TestFixesKeepPipelinesWorking applies every suggested edit of each
// corpus file at once, as a user running --fix would, and checks that the
// result is still a pipeline that works: valid YAML, every metadata-action
// input still accepted by the action's grammar, at least one tag still
// pushed on branch and tag runs wherever one was before, every script
// still parsed by the shell, and fewer findings on a re-lint.
func TestFixesKeepPipelinesWorking(t *testing.T) {
	files := corpus(t)
	files = append(files, "testdata/bake/docker-bake.hcl")
	total, withEdits := 0, 0
	runs := []mgRun{{"refs/heads/main", "main"}, {"refs/tags/v1.2.3", "main"}, {"refs/tags/v2.0.0-rc.1", "main"}}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := LintBytes(file, src, testCfg)
			for _, f := range before {
				if f.Suppressed() || f.RuleID == RuleInvalidWorkflow || f.RuleID == RuleInvalidSuppression {
					continue
				}
				total++
				if f.Fix != nil && len(f.Fix.Edits) > 0 {
					withEdits++
				}
			}
			fixed, n := applyAll(src, before, file)
			if n == 0 {
				return
			}
			after, err := LintBytes(file, fixed, testCfg)
			if err != nil {
				t.Fatalf("the fixed file does not parse: %v\n%s", err, fixed)
			}
			active := func(fs []Finding) int {
				c := 0
				for _, f := range fs {
					if !f.Suppressed() {
						c++
					}
				}
				return c
			}
			if active(after) >= active(before) {
				t.Errorf("%d fixes applied but %d findings remain of %d", n, active(after), active(before))
			}
			if strings.HasSuffix(file, ".hcl") {
				if _, err := (&linter{src: newSource(file, fixed), mutable: map[string]bool{}}).bakeHCL(fixed, nil); err != nil {
					t.Errorf("the fixed bake file does not parse: %v\n%s", err, fixed)
				}
				return
			}
			ob, nb := metaInputs(t, file, src), metaInputs(t, file, fixed)
			if len(ob) != len(nb) {
				t.Fatalf("metadata steps: %d before, %d after", len(ob), len(nb))
			}
			for i := range ob {
				for _, r := range runs {
					old, err := mgTags(ob[i][0], ob[i][1], r)
					if err != nil {
						continue // the action rejects the original too
					}
					tags, err := mgTags(nb[i][0], nb[i][1], r)
					if err != nil {
						t.Errorf("metadata step %d: the fixed inputs are rejected: %v\ntags: %q\nflavor: %q", i, err, nb[i][0], nb[i][1])
						continue
					}
					if len(old) > 0 && len(tags) == 0 {
						t.Errorf("metadata step %d: %s pushed %v before the fix and no tag after it\ntags: %q\nflavor: %q", i, r.ref, old, nb[i][0], nb[i][1])
					}
				}
			}
			os, ns := runScripts(file, src), runScripts(file, fixed)
			for i := range os {
				if i < len(ns) && os[i] && !ns[i] {
					t.Errorf("script %d no longer parses after the fix", i)
				}
			}
		})
	}
	t.Logf("%d of %d findings carry edits", withEdits, total)
}
