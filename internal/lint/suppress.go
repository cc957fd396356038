package lint

import (
	"fmt"
	"regexp"
	"strings"
)

// Inline suppression:
//
//	# immutag-lint ignore <rule-id>[,<rule-id>...]: <reason>
//
// A comment after code applies to that line; a comment alone on its line
// applies to the next line that is neither blank nor a comment. A finding
// is silenced when that line falls within the finding's scope (its own
// line, the lines of a multi-line command, or a step's head). The marker
// is matched in any comment, YAML or shell, because run: scripts and
// metadata-action inputs keep their comments inside the YAML value.
var ignoreRE = regexp.MustCompile(`(^|\s)#\s*immutag-lint\s+ignore\b(.*)$`)

type ignoreComment struct {
	line, col int // of the '#'
	target    int
	rules     []string
	reason    string
	problem   string // why the comment is invalid, or ""
}

func parseIgnores(src *source) []ignoreComment {
	var out []ignoreComment
	for i, l := range src.lines {
		if !strings.Contains(l, "immutag-lint") {
			continue
		}
		m := ignoreRE.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		hash := m[2] + len(l[m[2]:m[3]])
		for hash < len(l) && l[hash] != '#' {
			hash++
		}
		c := ignoreComment{line: i + 1, col: src.column(i+1, hash), target: i + 1}
		if strings.TrimSpace(l[:hash]) == "" {
			c.target = 0
			for k := i + 1; k < len(src.lines); k++ {
				t := strings.TrimSpace(src.lines[k])
				if t != "" && !strings.HasPrefix(t, "#") {
					c.target = k + 1
					break
				}
			}
		}
		rest := strings.TrimSpace(l[m[4]:m[5]])
		ids := rest
		if k := strings.Index(rest, ":"); k >= 0 {
			ids, c.reason = rest[:k], strings.TrimSpace(rest[k+1:])
		}
		c.rules = append(c.rules, strings.FieldsFunc(ids, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
		switch {
		case len(c.rules) == 0:
			c.problem = "names no rule"
		case c.reason == "":
			c.problem = "gives no reason"
		}
		for _, id := range c.rules {
			if _, ok := RuleByID(id); !ok || id == RuleInvalidSuppression {
				c.problem = fmt.Sprintf("names unknown rule %q", id)
			}
		}
		out = append(out, c)
	}
	return out
}

// applySuppressions marks silenced findings and adds a finding for every
// invalid ignore comment (which silences nothing: failing closed).
func (l *linter) applySuppressions() {
	for _, c := range parseIgnores(l.src) {
		if c.problem != "" {
			l.findings = append(l.findings, Finding{
				RuleID: RuleInvalidSuppression, Severity: SeverityWarning, File: l.src.file, Line: c.line, Column: c.col,
				Message: "immutag-lint ignore comment " + c.problem + ", so it suppresses nothing: write # immutag-lint ignore <rule-id>: <reason>",
				Fix:     &Fix{Description: "name a known rule id and give the reason after a colon"},
				text:    l.src.line(c.line),
			})
			continue
		}
		for i := range l.findings {
			f := &l.findings[i]
			if f.Suppression != nil || f.RuleID == RuleInvalidSuppression || c.target < f.scopeFrom || c.target > f.scopeTo {
				continue
			}
			for _, id := range c.rules {
				if id == f.RuleID {
					f.Suppression = &Suppression{Line: c.line, Reason: c.reason}
				}
			}
		}
	}
}
