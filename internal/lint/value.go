package lint

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
)

// Resolved values carry two private-use runes for the parts the linter
// cannot know statically.
const (
	// unknownRune stands for text that may hold anything, a tag included.
	unknownRune = '\uE000'
	// safeRune stands for unknown text that cannot hold a tag or digest
	// separator (an owner/repository name such as github.repository).
	safeRune = '\uE001'
	// shaRune stands for the commit sha: unknown, but an immutable tag.
	shaRune = '\uE002'
	// branchRune stands for the name of the branch a run is on: unknown,
	// but moved by every push to that branch, so a tag made of it (and
	// nothing per-run) is a rolling tag.
	branchRune = '\uE003'
)

var (
	unknownStr = string(unknownRune)
	safeStr    = string(safeRune)
	shaStr     = string(shaRune)
	branchStr  = string(branchRune)
)

// defSite is where a variable's literal text was written, so a fix can
// change the definition when a reference only names the variable.
type defSite struct {
	sp   span
	raw  string
	yaml bool // a YAML input/env value (expression syntax) rather than shell
	// scr and off place a shell assignment (raw) in its script, so the
	// words of an unquoted expansion can be found where they were written.
	scr *script
	off int
}

type varDef struct {
	value string
	site  *defSite
	// alts are the other values the variable may hold: both branches of
	// an if, every item of a for loop, every matrix value. A reference is
	// reported when any of them pushes a mutable tag, because each is a
	// run the workflow can make.
	alts []varDef
	// arr holds a bash array's elements (value is then the first).
	arr []varDef
	// via are the definitions the value was built from (the variables an
	// echo to $GITHUB_OUTPUT expanded), so a fix can reach the place the
	// tag is written.
	via []varDef
	// from is the shell assignment this value was copied from unchanged
	// (a function's "$1" passed "$cmd", local cmd="$1"), so a command line
	// run by eval there is read where it is written.
	from *defSite
}

// all lists the definition and its alternatives.
func (d varDef) all() []varDef {
	out := []varDef{{value: d.value, site: d.site, via: d.via, from: d.from}}
	for _, a := range d.alts {
		out = append(out, a.all()...)
	}
	return out
}

// maxAlts bounds the values tracked per variable and the expansions of one
// word, so a script with many branches or nested loops stays linear.
const maxAlts = 32

// joinDefs merges the values two paths leave in a variable.
// When the two hold more than maxAlts values, both sides keep a share
// (taken in turn) and values naming latest are kept first: a script
// whose last branch writes many values must not push the earlier
// branch's latest out of the set.
func joinDefs(a, b varDef) varDef {
	out := varDef{value: a.value, site: a.site, arr: a.arr}
	seen := map[string]bool{a.value: true}
	as, bs := a.all()[1:], b.all()
	var cand []varDef
	for i := 0; i < len(as) || i < len(bs); i++ {
		for _, side := range [][]varDef{as, bs} {
			if i < len(side) && !seen[side[i].value] {
				seen[side[i].value] = true
				cand = append(cand, varDef{value: side[i].value, site: side[i].site, via: side[i].via})
			}
		}
	}
	out.alts = keepAlts(cand, maxAlts)
	out.via = a.via
	if len(b.arr) > 0 && len(a.arr) == 0 {
		out.arr = b.arr
	} else if len(b.arr) > 0 {
		// The elements either path may leave, each once: the same array
		// met on both sides of every if must not double at each join.
		out.arr = append([]varDef{}, a.arr...)
		have := map[string]bool{}
		for _, e := range a.arr {
			have[e.value] = true
		}
		for _, e := range b.arr {
			if !have[e.value] && len(out.arr) < maxAlts {
				have[e.value] = true
				out.arr = append(out.arr, e)
			}
		}
	}
	return out
}

// latestWordRE finds latest as a word of a value (a tag, or part of one
// such as latest-alpine).
var latestWordRE = regexp.MustCompile(`(?i)(^|[^a-z0-9])latest([^a-z0-9]|$)`)

// keepAlts bounds vals to n, keeping values that name latest first and
// the others in their order.
func keepAlts(vals []varDef, n int) []varDef {
	if len(vals) <= n {
		return vals
	}
	keep := make([]bool, len(vals))
	k := 0
	for i, v := range vals {
		if k < n && latestWordRE.MatchString(v.value) {
			keep[i] = true
			k++
		}
	}
	for i := range vals {
		if k < n && !keep[i] {
			keep[i] = true
			k++
		}
	}
	out := make([]varDef, 0, n)
	for i, v := range vals {
		if keep[i] {
			out = append(out, v)
		}
	}
	return out
}

// chooser picks one alternative per variable reference while a word is
// expanded, so that every combination of alternatives can be enumerated
// by re-running the expansion (an odometer over the choices met).
type chooser struct {
	arity, sel []int
	pos        int
}

func (c *chooser) pick(d varDef) varDef {
	all := d.all()
	if c == nil || len(all) == 1 {
		return all[0]
	}
	i := c.pos
	c.pos++
	if i >= len(c.arity) {
		c.arity = append(c.arity, len(all))
		c.sel = append(c.sel, 0)
	}
	s := c.sel[i]
	if s >= len(all) {
		s = 0
	}
	return all[s]
}

// enumerate runs f once per combination of the alternatives it meets
// (bounded by maxAlts runs) and returns the distinct results.
func (c *evalCtx) enumerate(f func() string) []string {
	saved := c.ch
	ch := &chooser{}
	c.ch = ch
	defer func() { c.ch = saved }()
	var out []string
	seen := map[string]bool{}
	for run := 0; run < maxAlts; run++ {
		ch.pos = 0
		if v := f(); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
		k := min(ch.pos, len(ch.sel)) - 1
		for k >= 0 {
			ch.sel[k]++
			if ch.sel[k] < ch.arity[k] {
				break
			}
			k--
		}
		if k < 0 {
			break
		}
		ch.arity, ch.sel = ch.arity[:k+1], ch.sel[:k+1]
	}
	return out
}

// resolveAll is resolve over every combination of alternative values.
func (c *evalCtx) resolveAll(text string) []string {
	return c.enumerate(func() string { return c.resolve(text) })
}

// evalCtx resolves ${{ }} expressions and shell variables for one step.
type evalCtx struct {
	env     []map[string]varDef // outermost first
	ghEnv   map[string]varDef   // written to $GITHUB_ENV by earlier steps of the job
	outputs map[string]map[string]varDef
	ch      *chooser
	// matrix and inputs are the job's literal matrix values and the
	// workflow's inputs (defaults, choice options, a caller's with:).
	matrix map[string]varDef
	inputs map[string]varDef
	// needs are the outputs of the jobs this one needs, as far as known.
	needs map[string]map[string]varDef
	// noBranch: the job or step only runs on tags (its if: or rules:
	// say so, or the workflow has no branch runs), so a tag named after
	// the ref is a release tag there, not a branch's rolling tag.
	noBranch bool
	// prRuns: some run is a pull request, where github.head_ref names
	// the pull request's branch.
	prRuns bool
	// branches are the branch names the push filters list, for messages.
	branches []string
}

// branchNote names the branches a branch-named tag takes, when the push
// filters list them.
func (c *evalCtx) branchNote() string {
	if c == nil || len(c.branches) == 0 {
		return ""
	}
	return " (on pushes to `" + strings.Join(c.branches, "`, `") + "`)"
}

// child is a copy for a narrower scope sharing the outer maps.
func (c *evalCtx) child(env map[string]varDef) *evalCtx {
	return &evalCtx{env: append(append([]map[string]varDef{}, c.env...), env), ghEnv: maps.Clone(c.ghEnv),
		outputs: maps.Clone(c.outputs), matrix: c.matrix, inputs: c.inputs, needs: c.needs, noBranch: c.noBranch, prRuns: c.prRuns, branches: c.branches}
}

func (c *evalCtx) lookupEnv(name string) (varDef, bool) {
	for i := len(c.env) - 1; i >= 0; i-- {
		if v, ok := c.env[i][name]; ok {
			return v, true
		}
	}
	if v, ok := c.ghEnv[name]; ok {
		return v, true
	}
	return varDef{}, false
}

// safeContexts name GitHub context values that hold no ':' or '@': an
// image path built from them ends without a tag unless one is written.
var safeContexts = map[string]bool{
	"github.repository": true, "github.repository_owner": true, "github.actor": true,
	"github.triggering_actor": true, "github.event.repository.name": true,
	"github.event.repository.full_name": true, "github.event.repository.owner.login": true,
}

var (
	identRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	envRefRE = regexp.MustCompile(`^env\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	envIdxRE = regexp.MustCompile(`^env\[\s*'([A-Za-z_][A-Za-z0-9_-]*)'\s*\]$`)
	outRE    = regexp.MustCompile(`^steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	matrixRE = regexp.MustCompile(`^matrix\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	inputRE  = regexp.MustCompile(`^(?:inputs|github\.event\.inputs)\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	needsRE  = regexp.MustCompile(`^needs\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)$`)
	formatRE = regexp.MustCompile(`^format\(\s*'((?:[^']|'')*)'\s*((?:,.*)?)\)$`)
)

// expr resolves the inside of one ${{ }} expression: context values the
// linter knows, string literals, format(), and the a && 'x' || 'y'
// idiom, whose possible values are all kept as alternatives.
func (c *evalCtx) expr(inner string) (varDef, bool) {
	return c.exprDepth(strings.TrimSpace(inner), 0)
}

func (c *evalCtx) exprDepth(e string, depth int) (varDef, bool) {
	if depth > 8 {
		return varDef{}, false
	}
	for len(e) > 1 && e[0] == '(' && matchingParen(e, 0) == len(e)-1 {
		e = strings.TrimSpace(e[1 : len(e)-1])
	}
	if ors := splitTop(e, "||"); len(ors) > 1 {
		// a || b: the first truthy operand. Every operand that may be
		// truthy is a possible value; an unknown one keeps the rest possible.
		var out []varDef
		for _, o := range ors {
			v, ok := c.exprDepth(o, depth+1)
			if !ok {
				v = varDef{value: unknownStr}
			}
			out = append(out, v.all()...)
			if ok && len(v.alts) == 0 && v.value != "" && !strings.ContainsRune(v.value, unknownRune) && !isBoolish(o) {
				break
			}
		}
		return fromAlts(out), true
	}
	if ands := splitTop(e, "&&"); len(ands) > 1 {
		// cond && 'x': x when cond holds (otherwise false, which a
		// following || replaces).
		return c.exprDepth(ands[len(ands)-1], depth+1)
	}
	if len(e) >= 2 && e[0] == '\'' && e[len(e)-1] == '\'' && !strings.Contains(strings.ReplaceAll(e[1:len(e)-1], "''", ""), "'") {
		return varDef{value: strings.ReplaceAll(e[1:len(e)-1], "''", "'")}, true
	}
	if safeContexts[e] {
		return varDef{value: safeStr}, true
	}
	if e == "github.sha" {
		return varDef{value: shaStr}, true
	}
	if e == "github.ref_name" {
		return refNameDef, true
	}
	if e == "github.event.workflow_run.head_branch" {
		return varDef{value: branchStr}, true
	}
	if e == "github.head_ref" || e == "github.event.pull_request.head.ref" || e == "github.base_ref" {
		if c.prRuns {
			return varDef{value: branchStr}, true
		}
		return varDef{value: unknownStr}, true
	}
	if m := envRefRE.FindStringSubmatch(e); m != nil {
		return c.lookupEnv(m[1])
	}
	if m := envIdxRE.FindStringSubmatch(e); m != nil {
		return c.lookupEnv(m[1])
	}
	if m := outRE.FindStringSubmatch(e); m != nil {
		if o, ok := c.outputs[m[1]]; ok {
			v, ok := o[m[2]]
			return v, ok
		}
	}
	if m := matrixRE.FindStringSubmatch(e); m != nil {
		v, ok := c.matrix[m[1]]
		return v, ok
	}
	if m := inputRE.FindStringSubmatch(e); m != nil {
		v, ok := c.inputs[m[1]]
		return v, ok
	}
	if m := needsRE.FindStringSubmatch(e); m != nil {
		if o, ok := c.needs[m[1]]; ok {
			v, ok := o[m[2]]
			return v, ok
		}
	}
	if m := formatRE.FindStringSubmatch(e); m != nil {
		args := splitTop(strings.TrimPrefix(strings.TrimSpace(m[2]), ","), ",")
		if strings.TrimSpace(m[2]) == "" {
			args = nil
		}
		vals := make([]string, len(args))
		for i, a := range args {
			v, ok := c.exprDepth(strings.TrimSpace(a), depth+1)
			if !ok {
				v = varDef{value: unknownStr}
			}
			vals[i] = c.ch.pick(v).value
		}
		f := strings.ReplaceAll(m[1], "''", "'")
		for i := len(vals) - 1; i >= 0; i-- {
			f = strings.ReplaceAll(f, "{"+strconv.Itoa(i)+"}", vals[i])
		}
		return varDef{value: f}, true
	}
	return varDef{}, false
}

func isBoolish(e string) bool {
	return strings.ContainsAny(e, "=!<>") && !strings.HasPrefix(strings.TrimSpace(e), "'")
}

func fromAlts(vs []varDef) varDef {
	if len(vs) == 0 {
		return varDef{value: unknownStr}
	}
	out := varDef{value: vs[0].value, site: vs[0].site}
	for _, v := range vs[1:] {
		if len(out.alts) < maxAlts {
			out.alts = append(out.alts, v)
		}
	}
	return out
}

// splitTop splits an expression on op outside quotes and parentheses.
func splitTop(e, op string) []string {
	var out []string
	depth, inQ, start := 0, false, 0
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c == '\'':
			inQ = !inQ
		case inQ:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth == 0 && strings.HasPrefix(e[i:], op):
			out = append(out, strings.TrimSpace(e[start:i]))
			start = i + len(op)
			i += len(op) - 1
		}
	}
	return append(out, strings.TrimSpace(e[start:]))
}

func matchingParen(e string, i int) int {
	depth, inQ := 0, false
	for ; i < len(e); i++ {
		switch c := e[i]; {
		case c == '\'':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// resolve substitutes every ${{ }} expression in text.
func (c *evalCtx) resolve(text string) string {
	if !strings.Contains(text, "${{") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "${{")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		j := strings.Index(text[i+3:], "}}")
		if j < 0 {
			b.WriteString(unknownStr)
			return b.String()
		}
		if v, ok := c.expr(text[i+3 : i+3+j]); ok {
			b.WriteString(c.ch.pick(v).value)
		} else {
			b.WriteString(unknownStr)
		}
		text = text[i+3+j+2:]
	}
}

// referencedDefs lists the definitions a raw word names through env
// expressions or shell variables, for fixes that must edit a definition.
func (c *evalCtx) referencedDefs(raw string, shellVars map[string]varDef) []varDef {
	var out []varDef
	for _, m := range exprRE.FindAllStringSubmatch(raw, -1) {
		if v, ok := c.expr(m[1]); ok {
			out = appendSites(out, v)
		}
	}
	if shellVars != nil {
		for _, m := range shellVarRE.FindAllStringSubmatch(raw, -1) {
			name := m[1]
			if name == "" {
				name = m[2]
			}
			if v, ok := shellVars[name]; ok {
				out = appendSites(out, v)
				continue
			}
			if v, ok := c.lookupEnv(name); ok {
				out = appendSites(out, v)
			}
		}
	}
	return out
}

func appendSites(out []varDef, v varDef) []varDef {
	return appendSitesDepth(out, v, 0)
}

func appendSitesDepth(out []varDef, v varDef, depth int) []varDef {
	if depth > 4 || len(out) > 4*maxAlts {
		return out
	}
	for _, d := range append(v.all(), v.arr...) {
		if d.site != nil {
			out = append(out, d)
		}
		for _, w := range d.via {
			out = appendSitesDepth(out, w, depth+1)
		}
	}
	return out
}

var (
	exprRE     = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	shellVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*|[1-9])[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*|[1-9])`)
)

// latestVariantRE matches tags that roll like latest under another name:
// latest-debian, 3-latest, latest_slim (metadata-action's suffix with
// onlatest=true makes these).
var latestVariantRE = regexp.MustCompile(`^latest[-_.]|[-_.]latest$|[-_.]latest[-_.]`)

type refClass int

const (
	refUnknown  refClass = iota // cannot tell statically
	refFine                     // explicit tag that is not mutable, or a digest
	refImplicit                 // no tag: latest
	refLatest                   // :latest
	refMutable                  // a configured rolling tag
	refBranch                   // a tag named after the run's branch
)

// classifyRef grades a resolved image reference. Unknown parts make the
// answer unknown rather than a guess: a linter that cries wolf is ignored.
func classifyRef(v string, mutable map[string]bool) (refClass, string) {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, " \t\n") || strings.HasPrefix(v, "-") {
		return refUnknown, ""
	}
	if strings.Contains(v, "@") || localRegistryRE.MatchString(v) {
		return refFine, ""
	}
	last := v
	if i := strings.LastIndex(v, "/"); i >= 0 {
		last = v[i+1:]
	}
	if c := strings.LastIndex(last, ":"); c >= 0 {
		tag := last[c+1:]
		if tag == "" || strings.ContainsRune(tag, unknownRune) {
			return refUnknown, ""
		}
		switch {
		case tag == "latest" || latestVariantRE.MatchString(tag):
			return refLatest, tag
		case mutable[tag] || rollingVariant(tag, mutable):
			return refMutable, tag
		case strings.ContainsRune(tag, branchRune) && !strings.ContainsRune(tag, shaRune):
			return refBranch, tag
		}
		return refFine, tag
	}
	if last == "" || strings.ContainsRune(last, unknownRune) {
		return refUnknown, ""
	}
	if !plausibleRef(v) {
		return refUnknown, ""
	}
	return refImplicit, ""
}

// plausibleRef accepts what can be a repository path once unknown parts
// (registry host variables) are filled in.
func plausibleRef(v string) bool {
	letters := false
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == safeRune || r == shaRune || r == branchRune:
			letters = true
		case r == '.' || r == '_' || r == '-' || r == '/' || r == ':' || r == unknownRune:
		default:
			return false
		}
	}
	return letters
}

// display renders a resolved value for messages.
func display(v string) string {
	v = strings.ReplaceAll(v, unknownStr, "…")
	v = strings.ReplaceAll(v, shaStr, "<sha>")
	v = strings.ReplaceAll(v, branchStr, "<branch>")
	return strings.ReplaceAll(v, safeStr, "<owner/repo>")
}

// refNameDef is the value of github.ref_name, $GITHUB_REF_NAME and GitLab's
// $CI_COMMIT_REF_NAME/_SLUG: a branch name on branch runs, a git tag
// (unknown, and often a version) on tag runs.
var refNameDef = varDef{value: branchStr, alts: []varDef{{value: unknownStr}}}

// rollingVariant: a tag made of words only, one of them a rolling tag
// (nightly-alpine, alpha-ubuntu): no version or sha tells runs apart.
func rollingVariant(tag string, mutable map[string]bool) bool {
	words := strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(words) < 2 {
		return false
	}
	hit := false
	for _, w := range words {
		for _, r := range w {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
		hit = hit || mutable[strings.ToLower(w)]
	}
	return hit
}

// localRegistryRE: a registry on the runner itself (a test cluster's
// localhost:5000, kind.local, ko.local): thrown away with the job, so
// what is pushed there moves nothing anyone pulls.
var localRegistryRE = regexp.MustCompile(`^(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]|[a-z0-9.-]*\.localhost|[a-z0-9-]+(\.[a-z0-9-]+)*\.local|kind-registry)(:[0-9]+)?(/|$)`)
