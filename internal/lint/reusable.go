package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// jobUses follows a job that calls a workflow: a local reusable workflow
// (./.github/workflows/x.yml) is linted with the caller's with: values as
// its inputs; docker/github-builder's build and bake workflows run
// docker/metadata-action on their meta-tags and meta-flavor inputs and
// push when push is true.
func (l *linter) jobUses(job *yaml.Node, jr *jobRec, jc *evalCtx, tr triggers) {
	usesKey, usesN := l.src.get(job, "uses")
	_ = usesKey
	withKey, with := l.src.get(job, "with")
	switch {
	case strings.HasPrefix(jr.uses, "./"):
		inputs := map[string]varDef{}
		for _, p := range l.src.pairs(with) {
			if v, ok := l.src.str(p.value); ok {
				vals := jc.resolveAll(v)
				d := varDef{value: vals[0]}
				for _, a := range vals[1:] {
					d.alts = append(d.alts, varDef{value: a})
				}
				inputs[p.key.Value] = d
			}
		}
		path := filepath.Join(l.root, filepath.FromSlash(strings.TrimPrefix(jr.uses, "./")))
		base := l.calledFindings(path, nil)
		got := l.calledFindings(path, inputs)
		l.extra = append(l.extra, got...)
		// Findings the caller's values cause are reported at the caller's
		// with: entry too: that is where the tag is written and fixed.
		seen := map[string]bool{}
		for _, f := range base {
			seen[fmt.Sprintf("%s:%d:%d:%s", f.File, f.Line, f.Column, f.RuleID)] = true
		}
		var caused []Finding
		for _, f := range got {
			if !seen[fmt.Sprintf("%s:%d:%d:%s", f.File, f.Line, f.Column, f.RuleID)] {
				caused = append(caused, f)
			}
		}
		if len(caused) > 0 {
			l.callerFindings(jr, with, jc, caused)
			l.callerMetaFindings(jr, with, jc, caused, path)
		}
	case remoteWorkflowRE.MatchString(jr.uses) && actionName(jr.uses) != "docker/github-builder":
		l.remoteCall(jr.uses, with, jc, job.Line, "a reusable workflow", "with")
	case actionName(jr.uses) == "docker/github-builder":
		st := &step{node: job, uses: jr.uses, usesNode: usesN, with: with, withKey: withKey, ctx: jc, metaPrefix: "meta-"}
		_, out := l.src.get(with, "output")
		o, _ := l.src.str(out)
		_, push := l.src.get(with, "push")
		p, _ := l.src.str(push)
		pr := strings.ToLower(jc.resolve(p))
		if strings.Contains(jc.resolve(o), "image") && (strings.Contains(pr, "true") || strings.ContainsRune(pr, unknownRune)) {
			l.metadataStep(st, tr)
		}
	}
}

// callerFindings reports, at each with: entry whose value holds a
// mutable tag, that the called workflow pushes it.
func (l *linter) callerFindings(jr *jobRec, with *yaml.Node, jc *evalCtx, caused []Finding) {
	where := fmt.Sprintf("%s:%d", filepath.Base(caused[0].File), caused[0].Line)
	for _, p := range l.src.pairs(with) {
		sc := l.src.scalarOf(p.value)
		if sc == nil {
			continue
		}
		for i, vl := range sc.lines {
			t := strings.TrimSpace(vl.text)
			if t == "" {
				continue
			}
			start := strings.Index(vl.text, t)
			sp := sc.spanAt(i, start, start+len(t))
			for _, v := range jc.resolveAll(t) {
				for _, piece := range splitRendered(v) {
					tag := piece
					if strings.ContainsAny(piece, ":/") {
						c, tg := classifyRef(piece, l.mutable)
						if c != refLatest && c != refMutable {
							continue
						}
						tag = tg
					}
					if tag != "latest" && !latestVariantRE.MatchString(tag) && !l.mutable[tag] {
						continue
					}
					b := newFix(l.src)
					if t == tag {
						b.replace(sp, "${{ github.sha }}")
					} else {
						l.retag(b, sp, t, tag, true, jc.referencedDefs(t, nil))
					}
					rule, sev := RuleExplicitLatest, SeverityError
					if l.mutable[tag] {
						rule, sev = RuleMutableTag, SeverityWarning
					}
					l.add(rule, sev, sp, fmt.Sprintf("with: %s passes the tag %s (%s) to %s, which pushes it (%s)", p.key.Value, tag, display(piece), jr.uses, where),
						b.fix(fmt.Sprintf("pass an immutable tag (the commit sha) instead of %s", tag)), sp.line, sp.line)
				}
			}
		}
	}
}

// localAction follows a step that runs a local action
// (uses: ./.github/actions/x): its action.yml is linted with the step's
// with: values as inputs, and its findings are reported in that file. A
// composite action that runs docker/metadata-action and exports the tags
// is otherwise only linted when named on the command line, while the
// default run lints .github/workflows.
func (l *linter) localAction(st *step) {
	if l.root == "" {
		return
	}
	dir := filepath.Join(l.root, filepath.FromSlash(strings.TrimPrefix(st.uses, "./")))
	inputs := map[string]varDef{}
	for _, p := range l.src.pairs(st.with) {
		if v, ok := l.src.str(p.value); ok {
			vals := st.ctx.resolveAll(v)
			d := varDef{value: vals[0]}
			for _, a := range vals[1:] {
				d.alts = append(d.alts, varDef{value: a})
			}
			inputs[p.key.Value] = d
		}
	}
	for _, name := range []string{"action.yml", "action.yaml"} {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			l.lintCalled(path, inputs)
			return
		}
	}
}

// calledFindings lints a local reusable workflow with its caller's
// inputs (nil: its own defaults) and returns its findings.
func (l *linter) calledFindings(path string, inputs map[string]varDef) []Finding {
	saved := l.extra
	l.extra = nil
	l.lintCalled(path, inputs)
	out := l.extra
	l.extra = saved
	return out
}

// lintCalled lints a local reusable workflow with its caller's inputs;
// its findings are reported in that file.
func (l *linter) lintCalled(path string, inputs map[string]varDef) {
	if l.root == "" || l.depth >= 3 {
		return
	}
	src, err := readLocal(path)
	if err != nil || oddLineBreak(path, src) != nil {
		return // the file is linted (and its error reported) on its own
	}
	sub := newLinter(path, src, l.cfg)
	sub.depth = l.depth + 1
	sub.callerInputs = inputs
	docs, _ := parseDocuments(path, src)
	for _, d := range docs {
		sub.document(d)
	}
	sub.applySuppressions()
	l.extra = append(l.extra, sub.findings...)
	l.extra = append(l.extra, sub.extra...)
}

// manifestAction models actions that push the tags they are given:
// akhilerm/tag-push-action (dst), Noelware/docker-manifest-action (tags;
// base-image in v0.x), int128/docker-manifest-create-action (tags, push
// defaults to true). It reports mutable destinations and returns whether
// the step pushes.
func (l *linter) manifestAction(st *step, action string) bool {
	var input string
	push := true
	switch action {
	case "akhilerm/tag-push-action":
		input = "dst"
	case "noelware/docker-manifest-action":
		input = "tags"
		if _, n := l.src.get(st.with, "tags"); n == nil {
			input = "base-image"
			_, p := l.src.get(st.with, "push")
			s, _ := l.src.str(p)
			r := strings.ToLower(strings.Join(st.ctx.resolveAll(s), "|"))
			push = strings.Contains(r, "true") || strings.ContainsRune(r, unknownRune)
		}
	case "int128/docker-manifest-create-action":
		input = "tags"
		_, p := l.src.get(st.with, "push")
		if s, ok := l.src.str(p); ok {
			r := strings.ToLower(strings.Join(st.ctx.resolveAll(s), "|"))
			push = false
			for _, v := range strings.Split(r, "|") {
				push = push || strings.TrimSpace(v) != "false"
			}
		}
	default:
		return false
	}
	if !push {
		return false
	}
	_, n := l.src.get(st.with, input)
	sc := l.src.scalarOf(n)
	if sc == nil {
		return true
	}
	entries := splitList(sc)
	for idx, e := range entries {
		sp := sc.spanAt(e.line, e.start, e.end)
		seen := map[string]bool{}
		for _, whole := range st.ctx.resolveAll(e.text) {
			pieces := splitRendered(whole)
			direct := len(pieces) == 1 && !strings.Contains(e.text, "$")
			for _, v := range pieces {
				class, tag := classifyRef(v, l.mutable)
				if seen[v] || class == refFine || class == refUnknown {
					continue
				}
				seen[v] = true
				b := newFix(l.src)
				switch class {
				case refImplicit:
					if direct {
						b.replace(span{line: sp.line, start: sp.end, end: sp.end, exact: sp.exact}, ":${{ github.sha }}")
					} else {
						b.fail()
					}
					l.add(RuleImplicitLatest, SeverityError, sp,
						fmt.Sprintf("%s %s entry %s has no tag, so it pushes %s:latest", action, input, quoteTag(e.text), display(v)),
						b.fix("tag the image explicitly with the commit sha"), st.node.Line, sp.line)
				default:
					desc := fmt.Sprintf("remove the tag %s", quoteTag(display(v)))
					if direct && len(entries) > 1 {
						l.removeListEntry(b, sc, entries, idx)
					} else {
						desc = fmt.Sprintf("replace :%s with the commit sha in %s", tag, quoteTag(display(v)))
						l.retag(b, sp, e.text, tag, true, st.ctx.referencedDefs(e.text, nil))
					}
					rule, sev, msg := RuleExplicitLatest, SeverityError, fmt.Sprintf("%s pushes the tag %s (%s)", action, tag, display(v))
					if class == refMutable {
						rule, sev, msg = RuleMutableTag, SeverityWarning, fmt.Sprintf("%s pushes the rolling tag %q (%s)", action, tag, display(v))
					}
					l.add(rule, sev, sp, msg, b.fix(desc), st.node.Line, sp.line)
				}
			}
		}
	}
	return true
}

// callerMetaFindings: when the caller's with: values make the called
// workflow's docker/metadata-action emit latest (tags rules such as
// type=semver passed through an input, or latest=true in a flavor input),
// the with: line holding the rule is reported too: that is where a reader
// of the caller sees what is pushed. The fix passes latest=false in the
// called workflow's flavor input when it has one.
func (l *linter) callerMetaFindings(jr *jobRec, with *yaml.Node, jc *evalCtx, caused []Finding, path string) {
	var cause *Finding
	for i, f := range caused {
		switch f.RuleID {
		case RuleMetadataAutoLatest, RuleMetadataLatestTrue, RuleDisabledLatestNoVeto:
			cause = &caused[i]
		}
	}
	if cause == nil {
		return
	}
	where := fmt.Sprintf("%s:%d", filepath.Base(cause.File), cause.Line)
	flavorIn, valueOnly := calledFlavorInput(path)
	for _, p := range l.src.pairs(with) {
		sc := l.src.scalarOf(p.value)
		if sc == nil {
			continue
		}
		isFlavor := flavorIn != "" && p.key.Value == flavorIn
		for i, vl := range sc.lines {
			t := strings.TrimSpace(vl.text)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			trigger := false
			for _, v := range jc.resolveAll(t) {
				for _, sub := range strings.Split(v, "\n") {
					sub = strings.TrimSpace(sub)
					if isFlavor && valueOnly {
						// latest=${{ inputs.X }}: the input is the value.
						v := strings.ToLower(strings.Trim(sub, `"'`))
						trigger = trigger || v == "true" || v == "auto" && cause.RuleID == RuleMetadataAutoLatest
						continue
					}
					if isFlavor {
						trigger = trigger || latestTrueRE.MatchString(sub)
						continue
					}
					e := parseMetaEntry(sub)
					if e == nil {
						continue
					}
					// Rules that make latest auto emit it (type=raw,value=latest
					// is reported by callerFindings).
					if e.typ == "semver" || e.typ == "pep440" || e.typ == "match" || e.typ == "ref" && e.attrs["event"] == "tag" {
						trigger = true
					}
				}
			}
			if !trigger {
				continue
			}
			start := strings.Index(vl.text, t)
			sp := sc.spanAt(i, start, start+len(t))
			b := newFix(l.src)
			switch {
			case flavorIn == "":
				b.fail()
			case isFlavor && valueOnly:
				b.replace(sp, falseText(sc))
			case isFlavor:
				b.replace(sp, latestTrueRE.ReplaceAllString(t, "latest=false"))
			default:
				l.passFlavorFix(b, with, flavorIn, valueOnly)
			}
			what := "emits latest on release tag builds (flavor latest is auto)"
			if isFlavor && !strings.Contains(strings.ToLower(t), "auto") {
				what = "adds latest to every run that produces a tag"
			}
			l.add(cause.RuleID, SeverityError, sp,
				fmt.Sprintf("with: %s passes `%s` to %s, whose docker/metadata-action then %s (%s)", p.key.Value, t, jr.uses, what, where),
				b.fix(fmt.Sprintf("pass latest=false in the called workflow's %s input", flavorIn)), sp.line, sp.line)
			break // one finding per with: entry
		}
	}
}

// passFlavorFix sets latest=false in the caller's with: value for the
// called workflow's flavor input: a line of its own in a block value, or
// a new with: entry.
func (l *linter) passFlavorFix(b *fixBuilder, with *yaml.Node, key string, valueOnly bool) {
	for _, p := range l.src.pairs(with) {
		if p.key.Value != key {
			continue
		}
		if valueOnly {
			// The input is latest's value: it becomes false.
			if sc := l.src.scalarOf(p.value); sc != nil && len(sc.lines) == 1 && sc.lines[0].exact {
				vl := sc.lines[0]
				b.replace(span{line: vl.line, start: vl.off, end: vl.off + len(vl.text), exact: true}, falseText(sc))
				return
			}
			b.fail()
			return
		}
		sc := l.src.scalarOf(p.value)
		if sc == nil || sc.node.Style&yaml.LiteralStyle == 0 {
			b.fail()
			return
		}
		last := -1
		for i, vl := range sc.lines {
			if strings.TrimSpace(vl.text) != "" {
				last = i
			}
		}
		if last < 0 || !sc.lines[last].exact {
			b.fail()
			return
		}
		vl := sc.lines[last]
		b.insertAfter(vl.line, l.src.line(vl.line)[:vl.off]+"latest=false")
		return
	}
	if with == nil || with.Kind != yaml.MappingNode || with.Style&yaml.FlowStyle != 0 || len(with.Content) == 0 {
		b.fail()
		return
	}
	k := with.Content[0]
	src := l.src.line(k.Line)
	off := l.src.byteOffset(k.Line, k.Column)
	if strings.TrimSpace(src[:off]) != "" {
		b.fail()
		return
	}
	if valueOnly {
		b.insertBefore(k.Line, src[:off]+key+": 'false'")
		return
	}
	b.insertBefore(k.Line, src[:off]+key+": latest=false")
}

// falseText is false written inside the scalar's own quotes, or quoted
// when the scalar is plain (an input of type string).
func falseText(sc *scalar) string {
	if sc.node.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		return "false"
	}
	return "'false'"
}

// calledFlavorInput names the workflow_call input of the reusable
// workflow at path that its docker/metadata-action steps read as flavor:
// a whole line of it (flavor: ${{ inputs.NAME }}), or only latest's value
// (latest=${{ inputs.NAME }}: valueOnly). "" when there is none.
func calledFlavorInput(path string) (name string, valueOnly bool) {
	src, err := readLocal(path)
	if err != nil {
		return "", false
	}
	docs, ferr := parseDocuments(path, src)
	if ferr != nil {
		return "", false
	}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 32 || name != "" {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value != "flavor" || v.Kind != yaml.ScalarNode {
					continue
				}
				for _, line := range strings.Split(v.Value, "\n") {
					line = strings.TrimSpace(line)
					if m := flavorInputRE.FindStringSubmatch(line); m != nil && m[0] == line {
						name = m[1]
						return
					}
					if m := latestInputRE.FindStringSubmatch(line); m != nil {
						name, valueOnly = m[1], true
						return
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
	return name, valueOnly
}

var latestInputRE = regexp.MustCompile(`(?i)(?:^|,)\s*latest\s*=\s*\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}\s*(?:,|$)`)

var latestTrueRE = regexp.MustCompile(`(?i)\blatest\s*=\s*true\b`)

var flavorInputRE = regexp.MustCompile(`\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}`)
