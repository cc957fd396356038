package iac

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/immutag/immutag/internal/audit"
)

// Inline suppression, as lint's:
//
//	# immutag-iac ignore <rule-id>[,<rule-id>...]: <reason>
//
// (// comments work in Terraform too). A comment after code applies to
// that line; a comment alone on its line applies to the next line that is
// neither blank nor a comment. A finding is silenced when that line is
// within its resource's declaration, header included. JSON has no
// comments, so JSON files cannot carry one.
var ignoreRE = regexp.MustCompile(`(^|\s)(#|//)\s*immutag-iac\s+ignore\b(.*)$`)

// SuppressibleRules are the rule ids a suppression may name.
var SuppressibleRules = []string{audit.RuleMutable, audit.RuleMutablePatterns, audit.RuleUnsupported, audit.RuleUnreadable}

type suppression struct {
	line, target int
	rules        []string
	reason       string
	problem      string
}

func parseSuppressions(src []byte) []suppression {
	if !strings.Contains(string(src), "immutag-iac") {
		return nil
	}
	lines := strings.Split(string(src), "\n")
	var out []suppression
	for i, l := range lines {
		m := ignoreRE.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		s := suppression{line: i + 1, target: i + 1}
		if strings.TrimSpace(l[:m[4]]) == "" {
			s.target = 0
			for k := i + 1; k < len(lines); k++ {
				t := strings.TrimSpace(lines[k])
				if t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "//") {
					s.target = k + 1
					break
				}
			}
		}
		rest := strings.TrimSpace(l[m[6]:m[7]])
		ids := rest
		if k := strings.Index(rest, ":"); k >= 0 {
			ids, s.reason = rest[:k], strings.TrimSpace(rest[k+1:])
		}
		s.rules = strings.FieldsFunc(ids, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		switch {
		case len(s.rules) == 0:
			s.problem = "names no rule"
		case s.reason == "":
			s.problem = "gives no reason"
		}
		for _, id := range s.rules {
			ok := false
			for _, r := range SuppressibleRules {
				ok = ok || r == id
			}
			if !ok {
				s.problem = fmt.Sprintf("names unknown rule %q (want one of %s)", id, strings.Join(SuppressibleRules, ", "))
			}
		}
		out = append(out, s)
	}
	return out
}

// applySuppressions silences findings and records invalid comments,
// which silence nothing (fail closed).
func applySuppressions(res *Result) {
	files := map[string]bool{}
	for _, f := range res.Findings {
		if f.Syntax == SyntaxHCL || f.Syntax == SyntaxCFNYAML || f.Syntax == SyntaxPulumi {
			files[f.File] = true
		}
	}
	for file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, s := range parseSuppressions(src) {
			if s.problem != "" {
				res.Invalid = append(res.Invalid, FileError{File: file, Line: s.line, Message: "immutag-iac ignore comment " + s.problem + "; it silences nothing"})
				continue
			}
			for i := range res.Findings {
				f := &res.Findings[i]
				if f.File != file || s.target < f.Line || s.target > max(f.endLine, f.Line) {
					continue
				}
				for _, r := range s.rules {
					if r == f.Rule {
						f.Suppressed, f.SuppressReason = true, s.reason
					}
				}
			}
		}
	}
}
