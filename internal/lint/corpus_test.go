package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var testCfg = Config{MutableTags: DefaultMutableTags}

// wantRE reads the corpus's expectations. "# want: rule[, rule]" names the
// findings expected on the next line that is neither blank nor another want
// comment; "# want+N:" moves N lines further (inside a multi-line shell
// command, where a comment line would end the command). "(suppressed)"
// after a rule expects the finding silenced by an ignore comment.
var wantRE = regexp.MustCompile(`#\s*want(?:\+(\d+))?:\s*(.*)$`)

func expectations(t *testing.T, src string) []string {
	t.Helper()
	lines := strings.Split(src, "\n")
	var out []string
	for i, l := range lines {
		m := wantRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		target := -1
		for k := i + 1; k < len(lines); k++ {
			if strings.TrimSpace(lines[k]) != "" && !wantRE.MatchString(lines[k]) {
				target = k + 1
				break
			}
		}
		if target < 0 {
			t.Fatalf("line %d: want comment with no line after it", i+1)
		}
		if m[1] != "" {
			n, _ := strconv.Atoi(m[1])
			target += n
		}
		for _, r := range strings.Split(m[2], ",") {
			r = strings.TrimSpace(r)
			if r != "" {
				out = append(out, fmt.Sprintf("%d:%s", target, r))
			}
		}
	}
	slices.Sort(out)
	return out
}

func got(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := fmt.Sprintf("%d:%s", f.Line, f.RuleID)
		if f.Suppressed() {
			s += "(suppressed)"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func corpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus missing: %v", err)
	}
	return files
}

// TestCorpus lints every corpus workflow and compares rule and line with
// the file's own want comments: true positives must be found, and every
// line without a want comment (the false-positive cases) must stay quiet.
func TestCorpus(t *testing.T) {
	rulesSeen := map[string]bool{}
	for _, file := range corpus(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := LintBytes(file, src, testCfg)
			if err != nil {
				t.Fatalf("lint: %v", err)
			}
			want, have := expectations(t, string(src)), got(fs)
			if !slices.Equal(want, have) {
				t.Errorf("findings differ\nwant %v\nhave %v", want, have)
				for _, f := range fs {
					t.Logf("  %d:%d %s %s", f.Line, f.Column, f.RuleID, f.Message)
				}
			}
			lines := strings.Split(string(src), "\n")
			for _, f := range fs {
				rulesSeen[f.RuleID] = true
				if f.Column < 1 || f.Line < 1 || f.Line > len(lines) {
					t.Errorf("%s at %d:%d: position outside the file", f.RuleID, f.Line, f.Column)
				}
				if f.Fix == nil || f.Fix.Description == "" {
					t.Errorf("%s at line %d: no fix description", f.RuleID, f.Line)
				}
				if _, ok := RuleByID(f.RuleID); !ok {
					t.Errorf("unknown rule id %q", f.RuleID)
				}
			}
		})
	}
	for _, r := range rules {
		if !rulesSeen[r.ID] {
			t.Errorf("corpus never triggers rule %s", r.ID)
		}
	}
}

// TestCorpusFixesConverge applies the fixes one finding at a time and
// re-lints: every fix must apply cleanly, keep the YAML valid, and remove
// at least one finding, until only findings without edits are left.
func TestCorpusFixesConverge(t *testing.T) {
	for _, file := range corpus(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			applied := 0
			for range 50 {
				fs, err := LintBytes(file, src, testCfg)
				if err != nil {
					t.Fatalf("after %d fixes the file no longer parses: %v\n%s", applied, err, src)
				}
				var next *Finding
				active := 0
				for i := range fs {
					if fs[i].Suppressed() {
						continue
					}
					active++
					if next == nil && fs[i].Fix != nil && len(fs[i].Fix.Edits) > 0 {
						next = &fs[i]
					}
				}
				if next == nil {
					return
				}
				out, err := ApplyEdits(src, next.Fix.Edits)
				if err != nil {
					t.Fatalf("fix for %s at line %d does not apply: %v", next.RuleID, next.Line, err)
				}
				after, err := LintBytes(file, out, testCfg)
				if err != nil {
					t.Fatalf("fix for %s at line %d breaks the YAML: %v\n%s", next.RuleID, next.Line, err, out)
				}
				left := 0
				for _, f := range after {
					if !f.Suppressed() {
						left++
					}
				}
				if left >= active {
					t.Fatalf("fix for %s at line %d (%s) left %d findings of %d:\n%s", next.RuleID, next.Line, next.Fix.Description, left, active, out)
				}
				src = out
				applied++
			}
			t.Fatalf("fixes did not converge after %d rounds", applied)
		})
	}
}

// TestMalformed: a clear error with file and line, and the other files of
// the run still linted.
func TestMalformed(t *testing.T) {
	cases := map[string]struct {
		line int
		msg  string
	}{
		"tab-indent.yml":       {4, "cannot start any token"},
		"unclosed-flow.yml":    {6, "did not find expected"},
		"mapping-values.yml":   {6, "mapping values are not allowed"},
		"unknown-anchor.yml":   {2, "unknown anchor 'missing'"},
		"partial-multidoc.yml": {10, "did not find expected node content"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata/malformed", name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = LintBytes(path, src, testCfg)
			fe, ok := err.(*FileError)
			if !ok {
				t.Fatalf("want *FileError, got %T %v", err, err)
			}
			if fe.File != path || fe.Line != c.line || !strings.Contains(fe.Message, c.msg) {
				t.Errorf("got %s:%d %q, want line %d containing %q", fe.File, fe.Line, fe.Message, c.line, c.msg)
			}
			if !strings.HasPrefix(fe.Error(), fmt.Sprintf("%s:%d", path, c.line)) {
				t.Errorf("error text %q does not start with file:line", fe.Error())
			}
		})
	}

	res := Lint([]string{"testdata/malformed", "testdata/workflows/multi-doc.yml", "testdata/no-such-dir"}, testCfg)
	if len(res.Errors) != len(cases)+1 {
		t.Errorf("want %d errors (every malformed file and the missing path), got %d: %v", len(cases)+1, len(res.Errors), res.Errors)
	}
	byFile := map[string][]string{}
	for _, f := range res.Findings {
		byFile[filepath.Base(f.File)] = append(byFile[filepath.Base(f.File)], f.RuleID)
	}
	if !slices.Equal(byFile["multi-doc.yml"], []string{RuleImplicitLatest, RuleExplicitLatest}) {
		t.Errorf("the valid file beside the broken ones was not linted fully: %v", byFile)
	}
	// The documents before the broken one are still linted.
	if !slices.Equal(byFile["partial-multidoc.yml"], []string{RuleImplicitLatest}) {
		t.Errorf("partial-multidoc.yml: want the first document's finding, got %v", byFile["partial-multidoc.yml"])
	}
}
