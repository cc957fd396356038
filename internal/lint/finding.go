package lint

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Severity grades a finding. The values are SARIF result levels.
type Severity string

// Severities, most severe first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityNote    Severity = "note"
)

// Finding is one problem at one place in one workflow file.
type Finding struct {
	RuleID   string   `json:"rule_id"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	// Line and Column are 1-based; columns count Unicode code points, as
	// the YAML parser and SARIF's unicodeCodePoints column kind do.
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
	Message   string `json:"message"`
	// Fix says how to remove the finding. Edits is empty when the linter
	// cannot rewrite the source safely (flow-style YAML, escaped strings);
	// Description still says what to change.
	Fix *Fix `json:"fix,omitempty"`
	// Suppression is set when an inline comment with a reason silenced it.
	Suppression *Suppression `json:"suppressed,omitempty"`

	// scopeFrom..scopeTo are the lines an ignore comment may name to
	// silence this finding (a multi-line shell command, a whole step).
	scopeFrom, scopeTo int
	// text is the flagged source line, for stable SARIF fingerprints.
	text string
}

// Suppressed reports whether an inline comment silenced the finding.
func (f *Finding) Suppressed() bool { return f.Suppression != nil }

// Fix is the exact change that removes a finding.
type Fix struct {
	Description string `json:"description"`
	Edits       []Edit `json:"edits,omitempty"`
}

// Edit replaces one source line. New holds the replacement lines: none
// deletes the line, several insert lines. Old is the line as it is now, so
// an edit is never applied to a file that changed since it was linted.
type Edit struct {
	Line int      `json:"line"`
	Old  string   `json:"old"`
	New  []string `json:"new"`
}

// Suppression records the comment that silenced a finding.
type Suppression struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ApplyEdits applies edits to src. Identical edits (two findings asking for
// the same change) are applied once; different edits of the same line, or
// an edit whose Old no longer matches, are an error and nothing is changed.
func ApplyEdits(src []byte, edits []Edit) ([]byte, error) {
	nl := "\n"
	if bytes.Contains(src, []byte("\r\n")) {
		nl = "\r\n"
	}
	text := string(src)
	trailing := strings.HasSuffix(text, "\n")
	if trailing {
		text = strings.TrimSuffix(text, "\n")
	}
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	byLine := map[int]Edit{}
	for _, e := range edits {
		if e.Line < 1 || e.Line > len(lines) {
			return nil, fmt.Errorf("edit of line %d: file has %d lines", e.Line, len(lines))
		}
		if lines[e.Line-1] != e.Old {
			return nil, fmt.Errorf("edit of line %d: line is %q, edit expects %q", e.Line, lines[e.Line-1], e.Old)
		}
		if prev, ok := byLine[e.Line]; ok {
			if !equalLines(prev.New, e.New) {
				return nil, fmt.Errorf("conflicting edits of line %d", e.Line)
			}
			continue
		}
		byLine[e.Line] = e
	}
	order := make([]int, 0, len(byLine))
	for l := range byLine {
		order = append(order, l)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(order)))
	for _, l := range order {
		e := byLine[l]
		repl := append([]string{}, e.New...)
		lines = append(lines[:l-1], append(repl, lines[l:]...)...)
	}
	out := strings.Join(lines, nl)
	if trailing {
		out += nl
	}
	return []byte(out), nil
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// mergeSamePlace folds findings of one rule at one place (the values a
// reference may take: each branch, matrix entry or loop item) into one
// finding whose message and fix name every tag. Edits are combined when
// they agree; otherwise the first finding's edits are kept.
func mergeSamePlace(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.File == f.File && p.Line == f.Line && p.Column == f.Column && p.RuleID == f.RuleID && (p.Suppression == nil) == (f.Suppression == nil) {
				if !strings.Contains(p.Message, f.Message) {
					p.Message += "; " + f.Message
				}
				if p.Fix != nil && f.Fix != nil {
					fix := *p.Fix
					if !strings.Contains(fix.Description, f.Fix.Description) {
						fix.Description += "; " + f.Fix.Description
					}
					if len(fix.Edits) > 0 && len(f.Fix.Edits) > 0 && !conflicting(fix.Edits, f.Fix.Edits) {
						fix.Edits = unionEdits(fix.Edits, f.Fix.Edits)
					}
					p.Fix = &fix
				}
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

func conflicting(a, b []Edit) bool {
	by := map[int]Edit{}
	for _, e := range a {
		by[e.Line] = e
	}
	for _, e := range b {
		if o, ok := by[e.Line]; ok && (o.Old != e.Old || !equalLines(o.New, e.New)) {
			return true
		}
	}
	return false
}

func unionEdits(a, b []Edit) []Edit {
	out := append([]Edit(nil), a...)
	seen := map[int]bool{}
	for _, e := range a {
		seen[e.Line] = true
	}
	for _, e := range b {
		if !seen[e.Line] {
			out = append(out, e)
			seen[e.Line] = true
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// sortFindings orders findings by file, position and rule, and drops exact
// duplicates (a step reached twice through a YAML alias).
func sortFindings(fs []Finding) []Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		return a.Message < b.Message
	})
	out := fs[:0]
	for i, f := range fs {
		if i > 0 {
			p := out[len(out)-1]
			if p.File == f.File && p.Line == f.Line && p.Column == f.Column && p.RuleID == f.RuleID && p.Message == f.Message {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}
