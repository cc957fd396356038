package lint

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// metaEntry is one line of docker/metadata-action's tags input, parsed the
// way the action parses it (src/tag.ts Parse: CSV fields, key=value, a bare
// word is a raw value, keys lower-cased).
type metaEntry struct {
	text string // as written, trimmed
	// from is the entry an expression in text resolved to ("" when text
	// is the entry itself).
	from   string
	typ    string
	attrs  map[string]string
	line   int // index into the tags scalar's lines; -1 for the defaults
	start  int // byte range of text within that value line
	end    int
	opaque bool // the whole entry is an expression the linter cannot read
	// indirect: one of several entries an expression at this place holds;
	// it cannot be edited here.
	indirect bool
}

// Default priorities from metadata-action src/tag.ts.
var metaPriority = map[string]float64{
	"schedule": 1000, "semver": 900, "pep440": 900, "match": 800,
	"edge": 700, "ref": 600, "raw": 200, "sha": 100,
}

func (e *metaEntry) priority() float64 {
	if p, err := strconv.ParseFloat(strings.TrimSpace(e.attrs["priority"]), 64); err == nil {
		return p
	}
	return metaPriority[e.typ]
}

type tri int

const (
	no tri = iota
	yes
	maybe
)

// enabled evaluates the enable attribute for a tag run (refs/tags/*) or
// for other runs. ${{ }} expressions are rendered by GitHub before the
// action sees them, so they are unknown here; {{is_default_branch}} is
// the action's own template and is false on tag refs (meta.ts).
func (e *metaEntry) enabled(tagRun bool) tri {
	v, ok := e.attrs["enable"]
	if !ok {
		return yes
	}
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, "true"):
		return yes
	case strings.EqualFold(v, "false"):
		return no
	case v == "{{is_default_branch}}":
		if tagRun {
			return no
		}
		return maybe
	case v == "{{is_not_default_branch}}":
		if tagRun {
			return yes
		}
		return maybe
	}
	return maybe
}

func (e *metaEntry) literallyDisabled() bool {
	v, ok := e.attrs["enable"]
	return ok && strings.EqualFold(strings.TrimSpace(v), "false")
}

func csvFields(s string) []string {
	var out []string
	var b strings.Builder
	inQ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && inQ && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}

var metaTypes = map[string]bool{"schedule": true, "semver": true, "pep440": true, "match": true,
	"edge": true, "ref": true, "raw": true, "sha": true}

// parseMetaEntry returns nil for an entry the action would reject.
func parseMetaEntry(resolved string) *metaEntry {
	e := &metaEntry{attrs: map[string]string{}}
	for _, f := range csvFields(resolved) {
		parts := strings.Split(f, "=")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if len(parts) == 1 {
			e.attrs["value"] = parts[0]
			continue
		}
		k := strings.ToLower(parts[0])
		if k == "type" {
			if !metaTypes[parts[1]] {
				return nil
			}
			e.typ = parts[1]
			continue
		}
		e.attrs[k] = parts[1]
	}
	if e.typ == "" {
		e.typ = "raw"
	}
	switch e.typ {
	case "schedule":
		if _, ok := e.attrs["pattern"]; !ok {
			e.attrs["pattern"] = "nightly"
		}
	case "ref":
		if ev := e.attrs["event"]; ev != "branch" && ev != "tag" && ev != "pr" {
			return nil
		}
	case "raw":
		if _, ok := e.attrs["value"]; !ok {
			return nil
		}
	case "semver", "pep440", "match":
		if _, ok := e.attrs["pattern"]; !ok {
			return nil
		}
	}
	return e
}

// metaDefaults are the entries the action uses when tags is empty.
func metaDefaults() []*metaEntry {
	var out []*metaEntry
	for _, s := range []string{"type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"} {
		e := parseMetaEntry(s)
		e.text, e.line = s, -1
		out = append(out, e)
	}
	return out
}

type flavorInfo struct {
	key, node *yaml.Node
	sc        *scalar
	latest    string // auto, true, false, or "" when unreadable
	expr      bool   // latest comes from an expression
	exprText  string // that expression as written
	field     span   // the last latest=... field
	hasField  bool
}

func (l *linter) flavor(st *step) flavorInfo {
	fi := flavorInfo{latest: "auto"}
	fi.key, fi.node = l.src.get(st.with, st.metaPrefix+"flavor")
	fi.sc = l.src.scalarOf(fi.node)
	if fi.sc == nil {
		return fi
	}
	for i, vl := range fi.sc.lines {
		t := strings.TrimSpace(vl.text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !strings.Contains(t, "=") && strings.HasPrefix(t, "${{") {
			// flavor: ${{ inputs.flavor }}: the entries are in the value
			// (a caller's with:). Only a latest=false every value sets is
			// taken: there is no place here to report or fix another one.
			all := true
			for _, v := range st.ctx.resolveAll(t) {
				set := false
				for _, ln := range strings.Split(v, "\n") {
					for _, f := range exprFields(ln) {
						k, val, ok := strings.Cut(f.text, "=")
						if ok && strings.EqualFold(strings.TrimSpace(k), "latest") {
							set = strings.TrimSpace(val) == "false"
						}
					}
				}
				all = all && set
			}
			if all {
				fi.latest = "false"
			}
			continue
		}
		// Fields split the way the action's CSV parse sees them after
		// GitHub rendered the expressions: a comma inside ${{ }} is not a
		// field separator.
		for _, f := range exprFields(vl.text) {
			eq := strings.IndexByte(f.text, '=')
			if eq < 0 || !strings.EqualFold(strings.TrimSpace(f.text[:eq]), "latest") {
				continue
			}
			raw := strings.TrimSpace(f.text[eq+1:])
			fi.field = fi.sc.spanAt(i, f.start, f.end)
			fi.hasField = true
			fi.expr = false
			fi.exprText = ""
			vals := st.ctx.resolveAll(raw)
			switch {
			case len(vals) == 1 && (vals[0] == "auto" || vals[0] == "true" || vals[0] == "false"):
				fi.latest = vals[0]
			case strings.Contains(raw, "${{"):
				fi.latest, fi.expr = "", true
				fi.exprText = raw
				if len(vals) > 0 && !slices.Contains(vals, "true") && !slices.ContainsFunc(vals, func(v string) bool { return strings.ContainsRune(v, unknownRune) }) {
					fi.latest, fi.expr = vals[0], false // every value the expression can take is false or auto
				}
			default:
				fi.latest = "" // the action rejects it
			}
		}
	}
	return fi
}

type field struct {
	text       string
	start, end int
}

// exprFields splits a line on commas outside ${{ }} and double quotes,
// trimming each field; offsets are into line.
func exprFields(line string) []field {
	var out []field
	start, inQ, depth := 0, false, 0
	flush := func(end int) {
		seg := line[start:end]
		tt := strings.TrimSpace(seg)
		if tt != "" {
			s := start + strings.Index(seg, tt)
			out = append(out, field{text: tt, start: s, end: s + len(tt)})
		}
	}
	for j := 0; j < len(line); j++ {
		switch {
		case strings.HasPrefix(line[j:], "${{"):
			depth++
			j += 2
		case depth > 0 && strings.HasPrefix(line[j:], "}}"):
			depth--
			j++
		case line[j] == '"' && depth == 0:
			inQ = !inQ
		case line[j] == ',' && !inQ && depth == 0:
			flush(j)
			start = j + 1
		}
	}
	flush(len(line))
	return out
}

func (l *linter) metadataStep(st *step, tr triggers) {
	usesSpan := l.src.nodeSpan(st.usesNode)
	stepLine := st.node.Line
	_, tagsNode := l.src.get(st.with, st.metaPrefix+"tags")
	tags := l.src.scalarOf(tagsNode)
	var entries []*metaEntry
	if tags != nil {
		for i, vl := range tags.lines {
			t := strings.TrimSpace(vl.text)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			start := strings.Index(vl.text, t)
			// An expression may hold several entries (a matrix value, a
			// step output written as a block) and several possible values:
			// each line of each value is an entry written at t.
			for _, resolved := range st.ctx.resolveAll(t) {
				subs := strings.Split(resolved, "\n")
				indirect := len(subs) > 1 || strings.Contains(t, "${{")
				for _, sub := range subs {
					sub = strings.TrimSpace(sub)
					if sub == "" || strings.HasPrefix(sub, "#") && len(subs) > 1 {
						continue
					}
					if strings.Trim(sub, unknownStr+" ") == "" {
						entries = append(entries, &metaEntry{text: t, line: i, start: start, end: start + len(t), opaque: true, attrs: map[string]string{}})
						continue
					}
					e := parseMetaEntry(sub)
					if e == nil {
						continue
					}
					e.text, e.line, e.start, e.end = t, i, start, start+len(t)
					if sub != t {
						e.from = sub
					}
					e.indirect = indirect && len(subs) > 1
					entries = append(entries, e)
				}
			}
		}
	}
	defaults := len(entries) == 0 && (tags == nil || strings.TrimSpace(st.ctx.resolve(tags.value)) == "" || onlyComments(tags.value))
	if defaults {
		entries = metaDefaults()
	}
	allOpaque := len(entries) > 0
	for _, e := range entries {
		allOpaque = allOpaque && e.opaque
	}
	fi := l.flavor(st)
	where := func(e *metaEntry) span {
		if e.line < 0 {
			return usesSpan
		}
		return tags.spanAt(e.line, e.start, e.end)
	}

	if fi.latest == "true" || fi.expr {
		b := newFix(l.src)
		b.replace(fi.field, "latest=false")
		msg := "docker/metadata-action flavor latest=true adds the tag latest to every run that produces a tag, branch and pull-request builds included"
		if fi.expr {
			msg = fmt.Sprintf("docker/metadata-action flavor latest=%s adds the tag latest to every run that produces a tag when the expression is true", fi.exprText)
		}
		l.add(RuleMetadataLatestTrue, SeverityError, fi.field, msg, b.fix("set latest=false in the flavor input"), stepLine, fi.field.line)
	}

	var disabled *metaEntry
	for _, e := range entries {
		if !e.opaque && e.typ == "raw" && e.attrs["value"] == "latest" && e.literallyDisabled() {
			disabled = e
			break
		}
	}
	if fi.latest == "auto" && !allOpaque {
		trig := autoLatestTrigger(entries, tr)
		switch {
		case trig != nil && disabled != nil:
			sp := where(disabled)
			l.add(RuleDisabledLatestNoVeto, SeverityError, sp,
				fmt.Sprintf("type=raw,value=latest,enable=false does not stop latest: disabled entries are skipped, and %s still makes docker/metadata-action emit latest on tag builds (flavor latest is auto)", describeTrigger(trig)),
				l.flavorFix(st, fi), stepLine, sp.line)
		case trig != nil:
			sp := where(trig)
			var msg string
			switch {
			case (trig.typ == "semver" || trig.typ == "pep440" || trig.typ == "match") && strings.TrimSpace(trig.attrs["value"]) != "":
				msg = fmt.Sprintf("docker/metadata-action emits latest on every run whose value is a release version: flavor latest is auto and %s decides it (value= makes it apply to branch builds too; prerelease versions do not move latest)", describeTrigger(trig))
			case trig.typ == "semver" || trig.typ == "pep440":
				msg = fmt.Sprintf("docker/metadata-action emits latest on every release tag build: flavor latest is auto and %s decides it (prerelease versions do not move latest; every other release does, backports of older versions included)", describeTrigger(trig))
			default:
				msg = fmt.Sprintf("docker/metadata-action emits latest on every tag build: flavor latest is auto and %s decides it (every matching git tag moves latest, prereleases and backports included)", describeTrigger(trig))
			}
			if trig.line < 0 {
				msg = "docker/metadata-action has no tags input, so its defaults include type=ref,event=tag and every git tag build, prereleases included, pushes latest (flavor latest is auto)"
			}
			l.add(RuleMetadataAutoLatest, SeverityError, sp, msg, l.flavorFix(st, fi), stepLine, sp.line)
		case disabled != nil:
			sp := where(disabled)
			l.add(RuleDisabledLatestNoVeto, SeverityWarning, sp,
				"type=raw,value=latest,enable=false vetoes nothing: docker/metadata-action skips disabled entries, so adding a semver, pep440, match or ref,event=tag entry would push latest; only flavor latest=false stops it",
				l.flavorFix(st, fi), stepLine, sp.line)
		}
	}

	for _, e := range entries {
		if e.opaque {
			continue
		}
		sp := where(e)
		if e.enabled(true) == no && e.enabled(false) == no {
			continue
		}
		switch e.typ {
		case "raw":
			v := e.attrs["value"]
			switch {
			case v == "latest":
				msg := "docker/metadata-action pushes the tag latest (type=raw,value=latest) on every run that pushes"
				if strings.TrimSpace(e.attrs["enable"]) == "{{is_default_branch}}" {
					msg = "docker/metadata-action pushes the tag latest on every default-branch run (enable={{is_default_branch}} is also true on schedule, create, issues and discussion events)"
				} else if e.enabled(false) == maybe {
					msg = "docker/metadata-action pushes the tag latest whenever this entry's enable condition is true"
				}
				l.add(RuleExplicitLatest, SeverityError, sp, msg, l.metaEntryFix(tags, entries, e, "latest"), stepLine, sp.line)
			case l.mutable[v]:
				l.add(RuleMutableTag, SeverityWarning, sp,
					fmt.Sprintf("docker/metadata-action pushes the rolling tag %q, which every run moves", v),
					l.metaEntryFix(tags, entries, e, v), stepLine, sp.line)
			}
		case "edge":
			if l.mutable["edge"] {
				l.add(RuleMutableTag, SeverityWarning, sp,
					"type=edge pushes the rolling tag \"edge\" on every push to the default branch (or the branch= attribute)",
					l.metaEntryFix(tags, entries, e, "edge"), stepLine, sp.line)
			}
		case "schedule":
			p := e.attrs["pattern"]
			if tr.schedule && !strings.Contains(p, "{{") && l.mutable[p] {
				l.add(RuleMutableTag, SeverityWarning, sp,
					fmt.Sprintf("type=schedule pushes the rolling tag %q on every scheduled run", p),
					l.entryFix(tags, entries, e, p), stepLine, sp.line)
			}
		case "ref":
			if e.attrs["event"] != "branch" {
				continue
			}
			// Every branch name is a rolling tag: each push to the branch
			// moves it (not only the names listed in --mutable-tags).
			var hit []string
			for _, br := range tr.branches {
				hit = append(hit, strings.ReplaceAll(br, "/", "-"))
			}
			if len(hit) == 0 && (tr.unfilteredPush || tr.branchRuns && !tr.branchFiltered) && !st.ctx.noBranch {
				hit = append(hit, "<branch>")
			}
			if st.ctx.noBranch {
				hit = nil
			}
			if len(hit) > 0 {
				list := "`" + strings.Join(hit, "`, `") + "`"
				msg := fmt.Sprintf("type=ref,event=branch pushes the rolling tag %s on every push to that branch", list)
				if e.line < 0 {
					msg = fmt.Sprintf("docker/metadata-action has no tags input, so its default type=ref,event=branch pushes the rolling tag %s on every push to that branch", list)
				}
				fix := l.entryFix(tags, entries, e, hit[0])
				if fix == nil {
					fix = l.defaultTagsFix(st, hit)
				}
				l.add(RuleMutableTag, SeverityWarning, sp, msg, fix, stepLine, sp.line)
			}
		}
	}
}

func onlyComments(v string) bool {
	for _, l := range strings.Split(v, "\n") {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func describeTrigger(e *metaEntry) string {
	if e.line < 0 {
		return "the default type=ref,event=tag"
	}
	if e.from != "" {
		return "`" + e.from + "` (from `" + e.text + "`)"
	}
	return "`" + e.text + "`"
}

// autoLatestTrigger replays metadata-action's rule "the first entry (by
// priority) that yields a value decides latest" for a tag run and, when
// semver/pep440/match entries carry value=, for other runs. It returns the
// entry that makes latest true, or nil. Unknown enable conditions are
// assumed able to go either way: a trigger that may be enabled counts, a
// raw/sha entry that may be disabled does not stop the search.
func autoLatestTrigger(entries []*metaEntry, tr triggers) *metaEntry {
	sorted := append([]*metaEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].priority() > sorted[j].priority() })
	if tr.tagRuns {
	tagRun:
		for _, e := range sorted {
			if e.opaque {
				continue
			}
			en := e.enabled(true)
			if en == no {
				continue
			}
			switch e.typ {
			case "semver", "pep440", "match":
				return e
			case "ref":
				if e.attrs["event"] == "tag" {
					return e
				}
			case "raw", "sha":
				if en == yes {
					break tagRun
				}
			}
		}
	}
	for _, e := range sorted {
		if e.opaque {
			continue
		}
		en := e.enabled(false)
		if en == no {
			continue
		}
		switch e.typ {
		case "semver", "pep440", "match":
			if strings.TrimSpace(e.attrs["value"]) != "" {
				return e
			}
		case "raw", "sha":
			if en == yes {
				return nil
			}
		}
	}
	return nil
}

// flavorFix sets latest=false in the flavor input: rewrite the latest
// field, add a line to a block, append a field to a one-line flavor, or
// add the flavor input to a block-style with mapping.
func (l *linter) flavorFix(st *step, fi flavorInfo) *Fix {
	b := newFix(l.src)
	desc := "set latest=false in docker/metadata-action's flavor input, which stops the tag latest (only flavor latest=false stops auto latest)"
	switch {
	case fi.hasField:
		b.replace(fi.field, "latest=false")
	case fi.sc != nil && fi.sc.node.Style&yaml.LiteralStyle != 0:
		last := -1
		for i, vl := range fi.sc.lines {
			if strings.TrimSpace(vl.text) != "" {
				last = i
			}
		}
		if last < 0 {
			kl := l.src.line(fi.key.Line)
			b.insertAfter(fi.key.Line, indentOf(kl)+"  latest=false")
			break
		}
		vl := fi.sc.lines[last]
		if !vl.exact {
			b.fail()
			break
		}
		src := l.src.line(vl.line)
		b.insertAfter(vl.line, src[:vl.off]+"latest=false")
	case fi.sc != nil && len(fi.sc.lines) == 1 && strings.Contains(fi.sc.lines[0].text, "${{") &&
		fi.sc.node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.FoldedStyle) == 0:
		// flavor: ${{ inputs.flavor }}: the expression may be empty or
		// several lines, and ",latest=false" after an empty value is an
		// "Invalid flavor entry". The action reads flavor line by line
		// (skipping empty ones, a later latest= winning), so the value
		// becomes a block with latest=false on a line of its own.
		vl := fi.sc.lines[0]
		src := l.src.line(vl.line)
		ind := indentOf(l.src.line(fi.key.Line)) + "  "
		if strings.TrimSpace(src[min(vl.off, len(src)):]) != strings.TrimSpace(vl.text) {
			b.fail() // a comment after the value
			break
		}
		b.replace(span{line: vl.line, start: vl.off, end: len(src), exact: vl.exact}, "|")
		b.insertAfter(vl.line, ind+strings.TrimSpace(src[vl.off:]), ind+"latest=false")
	case fi.sc != nil && len(fi.sc.lines) == 1:
		vl := fi.sc.lines[0]
		end := vl.off + len(vl.text)
		sep := ","
		if strings.TrimSpace(vl.text) == "" {
			sep = ""
		}
		b.replace(span{line: vl.line, start: end, end: end, exact: vl.exact}, sep+"latest=false")
	case fi.node == nil && st.with != nil && st.with.Kind == yaml.MappingNode && st.with.Style&yaml.FlowStyle == 0 && len(st.with.Content) > 0:
		k := st.with.Content[0]
		src := l.src.line(k.Line)
		off := l.src.byteOffset(k.Line, k.Column)
		if strings.TrimSpace(src[:off]) != "" {
			b.fail()
			break
		}
		b.insertBefore(k.Line, src[:off]+st.metaPrefix+"flavor: latest=false")
	default:
		b.fail()
	}
	return b.fix(desc)
}

// entryFix is metaEntryFix for written entries; for the action's defaults
// there is no line to change, only advice.
func (l *linter) entryFix(tags *scalar, entries []*metaEntry, e *metaEntry, tag string) *Fix {
	if e.line < 0 {
		return nil
	}
	return l.metaEntryFix(tags, entries, e, tag)
}

// defaultTagsFix writes the tags input the action's defaults stand for,
// with the branch entry replaced by type=sha: tag and pull-request runs
// keep their tags, branch runs get an immutable one instead of the branch
// name.
func (l *linter) defaultTagsFix(st *step, hit []string) *Fix {
	b := newFix(l.src)
	desc := fmt.Sprintf("list the tags explicitly with type=sha in place of the default type=ref,event=branch (which pushes %s)", "`"+strings.Join(hit, "`, `")+"`")
	if st.with == nil || len(st.with.Content) == 0 || st.with.Style != 0 {
		b.fail()
		return b.fix(desc)
	}
	k := st.with.Content[0]
	src := l.src.line(k.Line)
	off := l.src.byteOffset(k.Line, k.Column)
	if strings.TrimSpace(src[:off]) != "" {
		b.fail()
		return b.fix(desc)
	}
	ind := src[:off]
	b.insertBefore(k.Line, ind+st.metaPrefix+"tags: |", ind+"  type=schedule", ind+"  type=ref,event=tag", ind+"  type=ref,event=pr", ind+"  type=sha")
	return b.fix(desc)
}

// metaEntryFix removes a tags entry when others remain, else replaces it
// with type=sha (an emptied tags input would bring back the defaults,
// type=ref,event=tag and its auto latest included).
func (l *linter) metaEntryFix(tags *scalar, entries []*metaEntry, e *metaEntry, tag string) *Fix {
	b := newFix(l.src)
	if tags == nil || e.line < 0 {
		b.fail()
		return b.fix("remove the entry")
	}
	if e.indirect {
		b.fail()
		return b.fix(fmt.Sprintf("remove the tag %s where this input's value is defined, or add type=sha in its place", quoteTag(tag)))
	}
	// Deleting the entry is safe only when every run still gets a tag from
	// the rest: an entry that yields on every run (sha, or a raw value
	// that is always enabled). Otherwise branch pushes would be left with
	// no tag ("tag is needed when pushing to registry"), so the entry is
	// replaced by the immutable type=sha instead.
	covered := false
	for _, o := range entries {
		if o != e && o.line >= 0 && !o.opaque && (o.typ == "sha" || o.typ == "raw" && o.attrs["value"] != "latest" && !l.mutable[o.attrs["value"]]) &&
			o.enabled(true) == yes && o.enabled(false) == yes {
			covered = true
		}
	}
	vl := tags.lines[e.line]
	block := tags.node.Style&yaml.LiteralStyle != 0
	if covered && block && strings.TrimSpace(vl.text) == e.text {
		if !vl.exact {
			b.fail()
		}
		b.deleteLine(vl.line)
		return b.fix(fmt.Sprintf("remove the entry that pushes %q", tag))
	}
	// The entry's enable condition (and suffix) stay: a matrix job that
	// only enabled it for one variant must not start pushing the same sha
	// tag from every variant.
	repl := "type=sha"
	for _, f := range exprFields(e.text) {
		k, _, _ := strings.Cut(f.text, "=")
		if k = strings.ToLower(strings.TrimSpace(k)); k == "enable" || k == "suffix" {
			repl += "," + f.text
		}
	}
	b.replace(tags.spanAt(e.line, e.start, e.end), repl)
	return b.fix(fmt.Sprintf("replace the entry that pushes %s with %s (an immutable sha-<commit> tag)", quoteTag(tag), quoteTag(repl)))
}

// dockerMetaV1 models crazy-max/ghaction-docker-meta@v1, the predecessor
// of docker/metadata-action with its own inputs: a git tag build is also
// tagged latest unless tag-latest is false, a branch build is tagged with
// the branch name, a scheduled build with tag-schedule (nightly), unless
// tag-custom-only is set.
func (l *linter) dockerMetaV1(st *step, tr triggers) {
	at := l.src.nodeSpan(st.usesNode)
	if l.truthy(st, "tag-custom-only", false) {
		return
	}
	if tr.tagRuns && l.truthy(st, "tag-latest", true) {
		fix := l.addInputFix(st, "tag-latest: false", "set tag-latest: false (the git tag itself stays pushed)")
		if k, n := l.src.get(st.with, "tag-latest"); k != nil {
			b := newFix(l.src)
			if sc := l.src.scalarOf(n); sc != nil && len(sc.lines) == 1 {
				b.replace(sc.spanAt(0, 0, len(sc.lines[0].text)), "false")
			} else {
				b.fail()
			}
			fix = b.fix("set tag-latest: false (the git tag itself stays pushed)")
		}
		l.add(RuleMetadataAutoLatest, SeverityError, at,
			"crazy-max/ghaction-docker-meta@v1 tags every git tag build latest (tag-latest defaults to true)", fix, st.node.Line, at.line)
	}
	if (tr.unfilteredPush || len(tr.branches) > 0) && !st.ctx.noBranch {
		names := "the branch name"
		if len(tr.branches) > 0 {
			names = "`" + strings.Join(tr.branches, "`, `") + "`"
		}
		l.add(RuleMutableTag, SeverityWarning, at,
			fmt.Sprintf("crazy-max/ghaction-docker-meta@v1 tags every branch build with %s, which every push to that branch moves", names),
			&Fix{Description: "move to docker/metadata-action with type=sha (and type=semver for releases) in place of the branch tag"}, st.node.Line, at.line)
	}
	if tr.schedule {
		sched := "nightly"
		if v, ok := l.inputValue(st, "tag-schedule"); ok && v != "" {
			sched = v
		}
		if !strings.Contains(sched, "{{") && (sched == "latest" || l.mutable[sched]) {
			l.add(RuleMutableTag, SeverityWarning, at,
				fmt.Sprintf("crazy-max/ghaction-docker-meta@v1 tags every scheduled build %q", sched),
				&Fix{Description: "tag scheduled builds with the commit sha (tag-sha: true) and drop the schedule tag"}, st.node.Line, at.line)
		}
	}
}
