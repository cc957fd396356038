package lint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLintWorkflow drives the parser entry (LintBytes) with arbitrary
// bytes, seeded with the testdata corpus. Beyond "never panics" it checks
// what consumers rely on: positions inside the file, edits whose Old is the
// current line and that apply, suppressions only with a reason, and
// renderers that accept the result. CI runs it briefly:
//
//	go test -run='^$' -fuzz=FuzzLintWorkflow -fuzztime=20s ./internal/lint
func FuzzLintWorkflow(f *testing.F) {
	for _, dir := range []string{"testdata/workflows", "testdata/malformed"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("x: &x {<<: *x}\n"))
	f.Add([]byte("jobs: {j: {steps: [{run: \"docker push 'a\"}]}}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 64<<10 {
			return
		}
		fs, err := LintBytes("fuzz.yml", src, testCfg)
		lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimSuffix(lines[i], "\r")
		}
		if err != nil {
			fe, ok := err.(*FileError)
			if !ok {
				t.Fatalf("error is %T, want *FileError: %v", err, err)
			}
			if fe.Line < 0 || fe.Line > len(lines)+1 || fe.File != "fuzz.yml" {
				t.Fatalf("error position %d outside %d lines: %v", fe.Line, len(lines), fe)
			}
		}
		for _, fd := range fs {
			if fd.Line < 1 || fd.Line > len(lines) || fd.Column < 1 {
				t.Fatalf("%s at %d:%d outside the file (%d lines)", fd.RuleID, fd.Line, fd.Column, len(lines))
			}
			if _, ok := RuleByID(fd.RuleID); !ok {
				t.Fatalf("unknown rule %q", fd.RuleID)
			}
			if fd.Suppression != nil && strings.TrimSpace(fd.Suppression.Reason) == "" {
				t.Fatalf("suppressed without a reason: %+v", fd)
			}
			if fd.Fix == nil {
				t.Fatalf("%s has no fix", fd.RuleID)
			}
			for _, e := range fd.Fix.Edits {
				if e.Line < 1 || e.Line > len(lines) || lines[e.Line-1] != e.Old {
					t.Fatalf("%s edit of line %d has a stale Old %q", fd.RuleID, e.Line, e.Old)
				}
			}
			if _, err := ApplyEdits(src, fd.Fix.Edits); err != nil {
				t.Fatalf("%s fix does not apply: %v", fd.RuleID, err)
			}
		}
		res := &Result{Files: []string{"fuzz.yml"}, Findings: fs}
		for _, format := range Formats {
			var b bytes.Buffer
			if err := Render(&b, res, format, RenderOptions{BaseDir: "."}); err != nil {
				t.Fatalf("render %s: %v", format, err)
			}
			if format != "text" && !json.Valid(b.Bytes()) {
				t.Fatalf("%s output is not valid JSON", format)
			}
		}
	})
}
