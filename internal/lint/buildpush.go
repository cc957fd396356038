package lint

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// listEntry is one element of a comma/newline separated action input.
type listEntry struct {
	text       string
	line       int // index into the scalar's lines
	start, end int
}

// splitList splits an input the way the docker actions' getInputList
// does (CSV per line, commas separate), keeping commas inside ${{ }} and
// quotes, and skipping full-line # comments.
func splitList(sc *scalar) []listEntry {
	var out []listEntry
	for i, vl := range sc.lines {
		t := strings.TrimSpace(vl.text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		text := vl.text
		start, inQ, depth := 0, false, 0
		flush := func(end int) {
			seg := text[start:end]
			tt := strings.TrimSpace(seg)
			if tt != "" {
				s := start + strings.Index(seg, tt)
				out = append(out, listEntry{text: tt, line: i, start: s, end: s + len(tt)})
			}
		}
		for j := 0; j < len(text); j++ {
			switch {
			case strings.HasPrefix(text[j:], "${{"):
				depth++
				j += 2
			case depth > 0 && strings.HasPrefix(text[j:], "}}"):
				depth--
				j++
			case text[j] == '"' && depth == 0:
				inQ = !inQ
			case text[j] == ',' && !inQ && depth == 0:
				flush(j)
				start = j + 1
			}
		}
		flush(len(text))
	}
	return out
}

// buildPushPushes: the step pushes its tags (push true or an expression,
// or a registry output) and not by digest only.
func (l *linter) buildPushPushes(st *step) bool {
	pushes := false
	_, pushN := l.src.get(st.with, "push")
	if s, ok := l.src.str(pushN); ok {
		r := strings.ToLower(strings.Join(st.ctx.resolveAll(s), "|"))
		// The action tests /true/i; an expression may render either way.
		pushes = strings.Contains(r, "true") || strings.ContainsRune(r, unknownRune)
	}
	_, outN := l.src.get(st.with, "outputs")
	if sc := l.src.scalarOf(outN); sc != nil {
		for _, vl := range sc.lines {
			o := strings.ToLower(st.ctx.resolve(vl.text))
			if strings.Contains(o, "push-by-digest=true") {
				return false // pushed by digest only: tags are not pushed
			}
			if strings.Contains(o, "type=registry") || strings.Contains(o, "type=image") && strings.Contains(o, "push=true") {
				pushes = true
			}
		}
	}
	return pushes
}

func (l *linter) buildPushStep(st *step) {
	if !l.buildPushPushes(st) {
		return
	}
	_, tagsN := l.src.get(st.with, "tags")
	tags := l.src.scalarOf(tagsN)
	if tags == nil {
		return
	}
	entries := splitList(tags)
	// An entry is deleted only while another keeps the step pushing: when
	// every entry is a rolling tag, each is retagged instead (deleting
	// them all would leave a build that pushes nothing).
	rolling := 0
	for _, e := range entries {
		for _, whole := range st.ctx.resolveAll(e.text) {
			if c, _ := classifyRef(whole, l.mutable); c == refLatest || c == refMutable || c == refBranch {
				rolling++
				break
			}
		}
	}
	canDelete := rolling < len(entries)
	for idx, e := range entries {
		sp := tags.spanAt(e.line, e.start, e.end)
		scope := []int{st.node.Line, sp.line}
		seen := map[string]bool{}
		for _, whole := range st.ctx.resolveAll(e.text) {
			// A value from a variable or step output may itself be a list
			// (the action splits the rendered input on newlines and commas).
			pieces := splitRendered(whole)
			direct := len(pieces) == 1 && !strings.ContainsAny(e.text, "$")
			for _, resolved := range pieces {
				class, tag := classifyRef(resolved, l.mutable)
				if class == refFine || class == refUnknown || seen[resolved] || class == refBranch && st.ctx.noBranch {
					continue
				}
				seen[resolved] = true
				defs := st.ctx.referencedDefs(e.text, nil)
				switch class {
				case refImplicit:
					b := newFix(l.src)
					if direct || strings.HasSuffix(e.text, "}}") && len(pieces) == 1 {
						b.replace(span{line: sp.line, start: sp.end, end: sp.end, exact: sp.exact}, ":${{ github.sha }}")
					} else {
						b.fail()
					}
					l.add(RuleImplicitLatest, SeverityError, sp,
						fmt.Sprintf("docker/build-push-action tags entry %s has no tag, so it pushes %s:latest", quoteTag(e.text), display(resolved)),
						b.fix("tag the image explicitly with the commit sha"), scope...)
				case refBranch:
					b := newFix(l.src)
					l.retagBranch(b, sp, e.text, true, defs)
					l.add(RuleMutableTag, SeverityWarning, sp,
						fmt.Sprintf("docker/build-push-action pushes a tag named after the branch (%s), which every push to that branch moves%s", display(resolved), st.ctx.branchNote()),
						b.fix("replace the branch name with the commit sha"), scope...)
				case refLatest, refMutable:
					b := newFix(l.src)
					desc := fmt.Sprintf("remove the tag %s", quoteTag(display(resolved)))
					if direct && len(entries) > 1 && canDelete {
						l.removeListEntry(b, tags, entries, idx)
					} else {
						desc = fmt.Sprintf("replace :%s with the commit sha in %s", tag, quoteTag(display(resolved)))
						l.retag(b, sp, e.text, tag, true, defs)
					}
					if class == refLatest {
						l.add(RuleExplicitLatest, SeverityError, sp,
							fmt.Sprintf("docker/build-push-action pushes the tag %s (%s)", tag, display(resolved)), b.fix(desc), scope...)
					} else {
						l.add(RuleMutableTag, SeverityWarning, sp,
							fmt.Sprintf("docker/build-push-action pushes the rolling tag %q (%s)", tag, display(resolved)), b.fix(desc), scope...)
					}
				}
			}
		}
	}
}

// splitRendered splits a rendered list input the way the docker actions
// do: newlines, then commas.
func splitRendered(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// quoteTag quotes a tag or reference for a message without Go escapes.
func quoteTag(s string) string { return "`" + s + "`" }

// removeListEntry deletes entry idx: its whole line in a block scalar when
// it is alone there, else the entry and one adjacent comma.
func (l *linter) removeListEntry(b *fixBuilder, sc *scalar, entries []listEntry, idx int) {
	e := entries[idx]
	vl := sc.lines[e.line]
	if !vl.exact {
		b.fail()
		return
	}
	alone := true
	for j, o := range entries {
		if j != idx && o.line == e.line {
			alone = false
		}
	}
	if alone && sc.node.Style&yaml.LiteralStyle != 0 {
		b.deleteLine(vl.line)
		return
	}
	text := vl.text
	j := e.end
	for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
		j++
	}
	if j < len(text) && text[j] == ',' {
		j++
		for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
			j++
		}
		b.replace(sc.spanAt(e.line, e.start, j), "")
		return
	}
	k := e.start
	for k > 0 && (text[k-1] == ' ' || text[k-1] == '\t') {
		k--
	}
	if k > 0 && text[k-1] == ',' {
		b.replace(sc.spanAt(e.line, k-1, e.end), "")
		return
	}
	b.fail()
}

// retag replaces the tag in a reference written at sp (raw is its text) by
// the commit sha; when the tag is not written there but comes from a
// variable, the variable's definition is changed instead.
func (l *linter) retag(b *fixBuilder, sp span, raw, tag string, yamlInput bool, defs []varDef) {
	if tag != "latest" && latestVariantRE.MatchString(tag) {
		// latest${{ matrix.suffix }}: the literal latest is what is written.
		if i, ok := tagIndex(raw, "latest"); ok {
			b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len("latest"), exact: sp.exact}, shaText(raw, i, yamlInput))
			return
		}
	}
	// cond && 'latest' || 'dev' inside an expression: the literal becomes
	// the commit sha.
	if yamlInput {
		if i := strings.Index(raw, "'"+tag+"'"); i >= 0 && strings.Contains(raw[:i], "${{") {
			b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len(tag) + 2, exact: sp.exact}, "github.sha")
			return
		}
	}
	if i, ok := tagIndex(raw, tag); ok {
		if tag != "latest" && latestVariantRE.MatchString(tag) {
			// postgresql-latest -> postgresql-<sha>: the variant keeps its
			// name and stays distinct from the plain sha tag.
			k := strings.Index(tag, "latest")
			b.replace(span{line: sp.line, start: sp.start + i + k, end: sp.start + i + k + len("latest"), exact: sp.exact}, shaText(raw, i+k, yamlInput))
			return
		}
		b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len(tag), exact: sp.exact}, shaText(raw, i, yamlInput))
		return
	}
	for _, d := range defs {
		// A definition may list several references with the tag
		// (TAGS="$A:latest,$B:latest"): each is pushed, each is changed.
		if all := tagIndexes(d.site.raw, tag); len(all) > 0 {
			k, n := 0, len(tag)
			if tag != "latest" && latestVariantRE.MatchString(tag) {
				k, n = strings.Index(tag, "latest"), len("latest")
			}
			for _, i := range all {
				b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i + k, end: d.site.sp.start + i + k + n, exact: d.site.sp.exact},
					shaText(d.site.raw, i+k, d.site.yaml))
			}
			return
		}
	}
	// $IMAGE:latest-${{ matrix.node }}: a variant built from latest and a
	// value; the literal latest is what is written.
	if tag != "latest" && latestVariantRE.MatchString(tag) {
		for _, d := range defs {
			var at []int
			for from := 0; from < len(d.site.raw); {
				i := strings.Index(d.site.raw[from:], ":latest")
				if i < 0 {
					break
				}
				i += from + 1
				rest := d.site.raw[i+len("latest"):]
				if strings.HasPrefix(rest, "$") || len(rest) > 1 && strings.IndexByte("-_.", rest[0]) >= 0 && rest[1] == '$' {
					at = append(at, i)
				}
				from = i
			}
			for _, i := range at {
				b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i, end: d.site.sp.start + i + len("latest"), exact: d.site.sp.exact},
					shaText(d.site.raw, i, d.site.yaml))
			}
			if len(at) > 0 {
				return
			}
		}
	}
	// NAME=latest / NAME="latest": the variable holds only the tag.
	for _, d := range defs {
		raw := d.site.raw
		eq := strings.IndexByte(raw, '=')
		if eq < 0 || d.site.yaml {
			continue
		}
		val := raw[eq+1:]
		if strings.Trim(val, `"'`) == tag && len(val)-len(strings.Trim(val, `"'`)) <= 2 {
			i := eq + 1 + strings.Index(val, tag)
			b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i, end: d.site.sp.start + i + len(tag), exact: d.site.sp.exact},
				shaText(raw, i, false))
			return
		}
	}
	for _, d := range defs {
		if i := strings.Index(d.site.raw, "'"+tag+"'"); d.site.yaml && i >= 0 && strings.Contains(d.site.raw[:i], "${{") {
			b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i, end: d.site.sp.start + i + len(tag) + 2, exact: d.site.sp.exact}, "github.sha")
			return
		}
	}
	// TAG=$(... && echo latest || echo ...) and ${REF/main/latest}: the
	// echoed word or the replacement becomes the commit sha.
	if !yamlInput {
		if i, ok := shellTagWord(raw, tag); ok {
			b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len(tag), exact: sp.exact}, "${GITHUB_SHA}")
			return
		}
	}
	for _, d := range defs {
		if d.site.yaml {
			continue
		}
		if i, ok := shellTagWord(d.site.raw, tag); ok {
			b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i, end: d.site.sp.start + i + len(tag), exact: d.site.sp.exact}, "${GITHUB_SHA}")
			return
		}
	}
	for _, d := range defs {
		if strings.TrimSpace(d.site.raw) == tag {
			if d.site.yaml {
				b.replace(d.site.sp, "${{ github.sha }}")
			} else {
				b.replace(d.site.sp, "${GITHUB_SHA}")
			}
			return
		}
	}
	// alpha-${FLAVOR}: a rolling word written before a variable part; the
	// word becomes the commit sha and the variant keeps its suffix.
	if rollingVariant(tag, l.mutable) {
		for _, w := range strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if !l.mutable[strings.ToLower(w)] {
				continue
			}
			at := func(raw string) int {
				for _, sep := range []string{"-$", "_$", ".$"} {
					if i := strings.Index(raw, ":"+w+sep); i >= 0 {
						return i + 1
					}
				}
				return -1
			}
			if i := at(raw); i >= 0 {
				b.replace(span{line: sp.line, start: sp.start + i, end: sp.start + i + len(w), exact: sp.exact}, shaText(raw, i, yamlInput))
				return
			}
			for _, d := range defs {
				if i := at(d.site.raw); i >= 0 {
					b.replace(span{line: d.site.sp.line, start: d.site.sp.start + i, end: d.site.sp.start + i + len(w), exact: d.site.sp.exact},
						shaText(d.site.raw, i, d.site.yaml))
					return
				}
			}
		}
	}
	b.fail()
}

// shellTagWordRE finds a tag echoed inside a command substitution, given
// as the replacement of ${name/pattern/replacement}, or as the default of
// ${name:-default} (${CI_COMMIT_TAG:-latest}).
var shellTagWordRE = regexp.MustCompile(`(\becho\s+(?:-n\s+)?["']?|\$\{[A-Za-z_][A-Za-z0-9_]*//?[^/}]*/|\$\{[A-Za-z_][A-Za-z0-9_]*:?-)([A-Za-z0-9_.-]+)(["']?(?:\s|;|\)|&|\|)|\})`)

func shellTagWord(raw, tag string) (int, bool) {
	for _, m := range shellTagWordRE.FindAllStringSubmatchIndex(raw, -1) {
		if raw[m[4]:m[5]] == tag && !inSingleQuotes(raw, m[4]) {
			return m[4], true
		}
	}
	return 0, false
}

// tagIndexes finds every ":tag" that ends a reference in raw (see
// tagIndex) and returns the offsets of the tags.
func tagIndexes(raw, tag string) []int {
	var out []int
	for from := 0; from < len(raw); {
		i := strings.Index(raw[from:], ":"+tag)
		if i < 0 {
			break
		}
		i += from
		rest := raw[i+1+len(tag):]
		if rest == "" || strings.IndexByte("\"', \t\n;)}$", rest[0]) >= 0 || strings.HasPrefix(rest, `\n`) {
			out = append(out, i+1)
		}
		from = i + 1
	}
	return out
}

// tagIndex finds ":tag" at the end of a reference in raw (possibly before a
// closing quote) and returns the offset of tag.
func tagIndex(raw, tag string) (int, bool) {
	for from := len(raw); from > 0; {
		i := strings.LastIndex(raw[:from], ":"+tag)
		if i < 0 {
			return 0, false
		}
		rest := raw[i+1+len(tag):]
		if rest == "" || strings.IndexByte("\"', \t\n;)}$", rest[0]) >= 0 || strings.HasPrefix(rest, `\n`) {
			return i + 1, true
		}
		from = i
	}
	return 0, false
}

// shaText is the commit sha in the syntax of the place it goes: an
// expression in action inputs and env values, the GITHUB_SHA variable in
// shell (expanded even inside double quotes; single quotes are closed
// around it).
func shaText(raw string, at int, yamlInput bool) string {
	if yamlInput {
		return "${{ github.sha }}"
	}
	if inSingleQuotes(raw, at) {
		return `'"${GITHUB_SHA}"'`
	}
	return "${GITHUB_SHA}"
}

func inSingleQuotes(raw string, at int) bool {
	inS, inD := false, false
	for i := 0; i < at && i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\\' && !inS:
			i++
		case c == '\'' && !inD:
			inS = !inS
		case c == '"' && !inS:
			inD = !inD
		}
	}
	return inS
}

// branchVarRE finds where a reference names the run's branch: GitHub's
// and GitLab's predefined variables, the ref with its prefix cut, and the
// github.ref_name / head_ref expressions.
var branchVarRE = regexp.MustCompile(`\$\{\{\s*(?:github\.ref_name|github\.head_ref|github\.base_ref|github\.event\.pull_request\.head\.ref|github\.event\.workflow_run\.head_branch)\s*\}\}|\$\{GITHUB_REF(?:#refs/heads/|##\*/|#refs/\*/|##refs/heads/)\}|\$\{?(?:CI_COMMIT_REF_SLUG|CI_COMMIT_REF_NAME|CI_COMMIT_BRANCH|CI_MERGE_REQUEST_SOURCE_BRANCH_NAME|CI_DEFAULT_BRANCH|GITHUB_REF_NAME|GITHUB_HEAD_REF)\b\}?`)

// retagBranch replaces the branch name in a reference (or in the
// definitions it was built from) with the commit sha: the same image is
// still pushed, under a tag no other commit can take.
func (l *linter) retagBranch(b *fixBuilder, sp span, raw string, yamlInput bool, defs []varDef) {
	sha := func(raw, m string, at int, yaml bool) string {
		switch {
		case strings.HasPrefix(m, "${{"):
			return "${{ github.sha }}"
		case yaml && !l.src.gitlab:
			return "${{ github.sha }}"
		case inSingleQuotes(raw, at):
			return `'"${GITHUB_SHA}"'`
		}
		return "${GITHUB_SHA}"
	}
	if locs := branchVarRE.FindAllStringIndex(raw, -1); len(locs) > 0 {
		for _, m := range locs {
			b.replace(span{line: sp.line, start: sp.start + m[0], end: sp.start + m[1], exact: sp.exact}, sha(raw, raw[m[0]:m[1]], m[0], yamlInput))
		}
		return
	}
	for _, d := range defs {
		if d.site == nil {
			continue
		}
		if locs := branchVarRE.FindAllStringIndex(d.site.raw, -1); len(locs) > 0 {
			for _, m := range locs {
				b.replace(span{line: d.site.sp.line, start: d.site.sp.start + m[0], end: d.site.sp.start + m[1], exact: d.site.sp.exact},
					sha(d.site.raw, d.site.raw[m[0]:m[1]], m[0], d.site.yaml))
			}
			return
		}
	}
	b.fail()
}
