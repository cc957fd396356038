package lint

import (
	"fmt"
	"slices"
	"strings"
)

// lintCompose reports the service images a `docker compose push` pushes,
// in the compose file, with ${VAR} and ${VAR:-default} interpolated from
// the pushing step's environment. It returns false when the file cannot
// be read.
func (l *linter) lintCompose(path string, env map[string]varDef, only []string) bool {
	if l.root == "" || l.depth >= 3 {
		return false
	}
	src, err := readLocal(path)
	if err != nil || oddLineBreak(path, src) != nil {
		return false
	}
	sub := newLinter(path, src, l.cfg)
	sub.depth = l.depth + 1
	docs, _ := parseDocuments(path, src)
	ctx := &evalCtx{env: []map[string]varDef{env}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{}}
	for _, d := range docs {
		_, services := sub.src.get(sub.src.deref(d), "services")
		for _, p := range sub.src.pairs(services) {
			if len(only) > 0 && !slices.Contains(only, p.key.Value) {
				continue
			}
			_, img := sub.src.get(p.value, "image")
			sc := sub.src.scalarOf(img)
			if sc == nil || len(sc.lines) != 1 {
				continue
			}
			vl := sc.lines[0]
			sp := sc.spanAt(0, 0, len(vl.text))
			x := &shExpander{ctx: ctx, vars: map[string]varDef{}}
			for _, v := range x.wordAll(`"` + strings.ReplaceAll(vl.text, `"`, `\"`) + `"`) {
				class, tag := classifyRef(v, sub.mutable)
				b := newFix(sub.src)
				switch class {
				case refImplicit:
					b.replace(span{line: sp.line, start: sp.end, end: sp.end, exact: sp.exact}, ":${GITHUB_SHA}")
					sub.add(RuleImplicitLatest, SeverityError, sp,
						fmt.Sprintf("`docker compose push` pushes service %q's image %s, which has no tag: %s:latest", p.key.Value, quoteTag(vl.text), display(v)),
						b.fix("tag the service image with the commit sha (compose interpolates ${GITHUB_SHA} from the environment)"))
				case refLatest, refMutable:
					sub.retag(b, sp, vl.text, tag, false, nil)
					rule, sev := RuleExplicitLatest, SeverityError
					msg := fmt.Sprintf("`docker compose push` pushes service %q's image with the tag %s (%s)", p.key.Value, tag, display(v))
					if class == refMutable {
						rule, sev = RuleMutableTag, SeverityWarning
						msg = fmt.Sprintf("`docker compose push` pushes service %q's image with the rolling tag %q (%s)", p.key.Value, tag, display(v))
					}
					sub.add(rule, sev, sp, msg, b.fix(fmt.Sprintf("replace :%s with the commit sha", tag)))
				}
			}
		}
	}
	sub.applySuppressions()
	l.extra = append(l.extra, sub.findings...)
	return true
}
