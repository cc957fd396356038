package lint

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Bake files (docker-bake.hcl, docker-bake.json): the tags of each target,
// with variables at their defaults (or the values the calling step's
// environment gives them), are what `docker buildx bake --push` and
// docker/bake-action with push: true push. HCL is parsed with
// hashicorp/hcl; template literals are kept and only what cannot be
// evaluated is unknown, so "${REPO}:latest" still pushes latest.

// bakeTarget is one target's tags.
type bakeTag struct {
	values []string // possible values (conditional expressions give several)
	sp     span
	raw    string // the element as written
	lit    bool   // a literal string template: the fix can edit it
}

// bakeFile lints one bake file's text. env overrides variable defaults
// (bake reads variables from the environment). standalone: the file was
// linted on its own (its pushes are implied), as opposed to reached from
// a workflow step that pushes.
func (l *linter) bakeFile(src []byte, env map[string]varDef, standalone bool, owners map[string]bool) {
	_ = standalone
	name := l.src.file
	var tags map[string][]bakeTag
	// A variable the step sets to one of several values (an expression
	// with alternatives) is evaluated once per value: each run pushes
	// what its value makes, never the default it overrides.
	for _, v := range bakeEnvVariants(src, env) {
		var t map[string][]bakeTag
		var err error
		if strings.HasSuffix(strings.ToLower(name), ".json") {
			t, err = l.bakeJSON(src, v)
		} else {
			t, err = l.bakeHCL(src, v)
		}
		if err != nil {
			l.add(RuleInvalidWorkflow, SeverityError, span{line: 1}, "bake file: "+err.Error(), &Fix{Description: "fix the bake file syntax"})
			return
		}
		tags = mergeBakeTags(tags, t)
	}
	if owners != nil {
		for tn := range tags {
			if !owners[tn] {
				delete(tags, tn) // not built, or its tags replaced by a set
			}
		}
	}
	names := make([]string, 0, len(tags))
	for n := range tags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, tn := range names {
		for _, t := range tags[tn] {
			seen := map[string]bool{}
			for _, v := range t.values {
				class, tag := classifyRef(v, l.mutable)
				if seen[v] || class == refFine || class == refUnknown {
					continue
				}
				seen[v] = true
				b := newFix(l.src)
				if !t.lit {
					b.fail()
				}
				switch class {
				case refImplicit:
					if t.lit && strings.HasSuffix(t.raw, `"`) {
						end := t.sp.end - 1
						b.replace(span{line: t.sp.line, start: end, end: end, exact: t.sp.exact}, ":${GITHUB_SHA}")
						l.bakeShaVar(b, src)
					} else {
						b.fail()
					}
					l.add(RuleImplicitLatest, SeverityError, t.sp,
						fmt.Sprintf("bake target %q tag %s has no tag, so it pushes %s:latest", tn, quoteTag(display(v)), display(v)),
						b.fix("tag the image explicitly with the commit sha (bake reads the GITHUB_SHA variable from the environment in GitHub Actions)"))
				default:
					if t.lit {
						l.retag(b, t.sp, t.raw, tag, false, nil)
						l.bakeShaVar(b, src)
					}
					rule, sev := RuleExplicitLatest, SeverityError
					msg := fmt.Sprintf("bake target %q pushes the tag %s (%s)", tn, tag, display(v))
					if class == refMutable {
						rule, sev = RuleMutableTag, SeverityWarning
						msg = fmt.Sprintf("bake target %q pushes the rolling tag %q (%s)", tn, tag, display(v))
					}
					l.add(rule, sev, t.sp, msg, b.fix(fmt.Sprintf("replace :%s in %s with an immutable tag (the commit sha)", tag, quoteTag(display(v)))))
				}
			}
		}
	}
}

// maxBakeVariants bounds the evaluations of one bake file.
const maxBakeVariants = 16

// bakeEnvVariants are the environments a bake file is evaluated with:
// one per combination of the values of variables it declares that the
// step sets to several values (bounded), else env itself.
func bakeEnvVariants(src []byte, env map[string]varDef) []map[string]varDef {
	out := []map[string]varDef{env}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := env[k]
		if len(d.alts) == 0 || !regexp.MustCompile(`(^|[^A-Za-z0-9_])"?`+regexp.QuoteMeta(k)+`"?\s*[:{]`).Match(src) {
			continue
		}
		var next []map[string]varDef
		for _, e := range out {
			for _, a := range d.all() {
				if len(next) >= maxBakeVariants {
					break
				}
				m := make(map[string]varDef, len(e))
				for kk, vv := range e {
					m[kk] = vv
				}
				m[k] = varDef{value: a.value, site: a.site}
				next = append(next, m)
			}
		}
		out = next
	}
	return out
}

// mergeBakeTags adds the values of b's tag entries to a's (the same
// entries, evaluated with another environment).
func mergeBakeTags(a, b map[string][]bakeTag) map[string][]bakeTag {
	if a == nil {
		return b
	}
	for tn, ts := range b {
		for i, t := range ts {
			if i < len(a[tn]) {
				a[tn][i].values = append(a[tn][i].values, t.values...)
			}
		}
	}
	return a
}

// bakeShaVar declares the GITHUB_SHA variable the fixes use, unless the
// file already does (bake fills declared variables from the environment).
func (l *linter) bakeShaVar(b *fixBuilder, src []byte) {
	if strings.HasSuffix(strings.ToLower(l.src.file), ".json") {
		b.fail() // JSON bake files have no place for a comment-free insert
		return
	}
	if regexp.MustCompile(`(?m)^\s*variable\s+"GITHUB_SHA"`).Match(src) {
		return
	}
	b.insertBefore(1, `variable "GITHUB_SHA" {}`)
}

// bakeHCL reads targets' tags from an HCL bake file.
func (l *linter) bakeHCL(src []byte, env map[string]varDef) (map[string][]bakeTag, error) {
	f, diags := hclsyntax.ParseConfig(src, l.src.file, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("not an HCL body")
	}
	vars := map[string]cty.Value{}
	// Variables first: a default may use another variable.
	for pass := 0; pass < 2; pass++ {
		for _, b := range body.Blocks {
			if b.Type != "variable" || len(b.Labels) != 1 {
				continue
			}
			name := b.Labels[0]
			if e, ok := env[name]; ok && len(e.alts) == 0 {
				if strings.ContainsRune(e.value, unknownRune) {
					vars[name] = cty.UnknownVal(cty.String)
				} else {
					vars[name] = cty.StringVal(e.value)
				}
				continue
			}
			a, ok := b.Body.Attributes["default"]
			if !ok {
				vars[name] = cty.StringVal("")
				continue
			}
			v, d := a.Expr.Value(&hcl.EvalContext{Variables: vars})
			if d.HasErrors() || !v.IsWhollyKnown() {
				vars[name] = cty.UnknownVal(cty.String)
				continue
			}
			if v.Type() == cty.String {
				vars[name] = v
			} else if v.Type() == cty.Bool || v.Type() == cty.Number {
				vars[name] = cty.StringVal(v.GoString())
			} else {
				vars[name] = cty.UnknownVal(cty.DynamicPseudoType)
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: vars}
	targets := map[string]*hclsyntax.Block{}
	for _, b := range body.Blocks {
		if b.Type == "target" && len(b.Labels) == 1 {
			targets[b.Labels[0]] = b
		}
	}
	out := map[string][]bakeTag{}
	for name, b := range targets {
		// A target without tags inherits them.
		cur, depth := b, 0
		var attr *hclsyntax.Attribute
		for cur != nil && depth < 16 {
			if a, ok := cur.Body.Attributes["tags"]; ok {
				attr = a
				break
			}
			ia, ok := cur.Body.Attributes["inherits"]
			if !ok {
				break
			}
			v, d := ia.Expr.Value(ctx)
			cur = nil
			if !d.HasErrors() && v.IsWhollyKnown() && (v.Type().IsTupleType() || v.Type().IsListType()) {
				for it := v.ElementIterator(); it.Next(); {
					_, e := it.Element()
					if e.Type() == cty.String {
						if t, ok := targets[e.AsString()]; ok {
							cur = t
						}
					}
				}
			}
			depth++
		}
		if attr == nil || cur != b {
			continue // inherited: the parent's own entry reports it
		}
		tuple, ok := attr.Expr.(*hclsyntax.TupleConsExpr)
		if !ok {
			continue
		}
		for _, e := range tuple.Exprs {
			out[name] = append(out[name], l.bakeElem(src, e, ctx))
		}
	}
	return out, nil
}

func (l *linter) bakeElem(src []byte, e hclsyntax.Expression, ctx *hcl.EvalContext) bakeTag {
	r := e.Range()
	t := bakeTag{raw: string(src[r.Start.Byte:r.End.Byte]), sp: l.byteSpan(src, r.Start.Byte, r.End.Byte)}
	t.values = bakeValues(e, ctx, 0)
	if tpl, ok := e.(*hclsyntax.TemplateExpr); ok && !strings.Contains(t.raw, "%{") {
		t.lit = true
		_ = tpl
	}
	return t
}

// bakeValues evaluates a string expression, keeping literal parts of
// templates and both results of a conditional.
func bakeValues(e hclsyntax.Expression, ctx *hcl.EvalContext, depth int) []string {
	if depth > 8 {
		return []string{unknownStr}
	}
	switch x := e.(type) {
	case *hclsyntax.TemplateWrapExpr:
		return bakeValues(x.Wrapped, ctx, depth+1)
	case *hclsyntax.ConditionalExpr:
		return append(bakeValues(x.TrueResult, ctx, depth+1), bakeValues(x.FalseResult, ctx, depth+1)...)
	case *hclsyntax.TemplateExpr:
		outs := []string{""}
		for _, p := range x.Parts {
			vals := bakeValues(p, ctx, depth+1)
			var next []string
			for _, o := range outs {
				for _, v := range vals {
					if len(next) < maxAlts {
						next = append(next, o+v)
					}
				}
			}
			outs = next
		}
		return outs
	}
	v, d := e.Value(ctx)
	if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.Type() != cty.String {
		return []string{unknownStr}
	}
	return []string{v.AsString()}
}

// byteSpan maps a byte range of the file to a one-line span.
func (l *linter) byteSpan(src []byte, a, b int) span {
	line := 1 + strings.Count(string(src[:a]), "\n")
	ls := strings.LastIndexByte(string(src[:a]), '\n') + 1
	sp := span{line: line, start: a - ls, end: b - ls, exact: true}
	if strings.Contains(string(src[a:b]), "\n") {
		sp.end, sp.exact = sp.start, false
	}
	return sp
}

var bakeInterpRE = regexp.MustCompile(`\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}`)

// bakeJSON reads targets' tags from a JSON bake file; ${VAR} in strings is
// interpolated from the variables' defaults.
func (l *linter) bakeJSON(src []byte, env map[string]varDef) (map[string][]bakeTag, error) {
	var doc struct {
		Variable map[string]struct {
			Default any `json:"default"`
		} `json:"variable"`
		Target map[string]struct {
			Tags []string `json:"tags"`
		} `json:"target"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for n, v := range doc.Variable {
		if e, ok := env[n]; ok {
			vars[n] = e.value
		} else if s, ok := v.Default.(string); ok {
			vars[n] = s
		} else {
			vars[n] = unknownStr
		}
	}
	out := map[string][]bakeTag{}
	text := string(src)
	from := 0
	names := make([]string, 0, len(doc.Target))
	for n := range doc.Target {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, t := range doc.Target[n].Tags {
			v := bakeInterpRE.ReplaceAllStringFunc(t, func(m string) string {
				if x, ok := vars[bakeInterpRE.FindStringSubmatch(m)[1]]; ok {
					return x
				}
				return unknownStr
			})
			lit, _ := json.Marshal(t)
			bt := bakeTag{values: []string{v}, raw: string(lit)}
			if i := strings.Index(text[from:], string(lit)); i >= 0 {
				bt.sp = l.byteSpan(src, from+i, from+i+len(lit))
				bt.lit = !strings.Contains(t, "\\")
			} else if i := strings.Index(text, string(lit)); i >= 0 {
				bt.sp = l.byteSpan(src, i, i+len(lit))
			} else {
				bt.sp = span{line: 1}
			}
			out[n] = append(out[n], bt)
		}
	}
	return out, nil
}

// bakeFromAction lints the bake files a docker/bake-action step that
// pushes builds: its files input (docker-bake.hcl and friends by default)
// relative to workdir, with the step's environment, and the tags its set
// input forces.
func (l *linter) bakeFromAction(st *step) {
	_, wd := l.src.get(st.with, "workdir")
	dir := l.root
	if s, ok := l.src.str(wd); ok && !strings.Contains(s, "${{") && !filepath.IsAbs(s) {
		dir = filepath.Join(l.root, s)
	}
	var files []string
	_, fn := l.src.get(st.with, "files")
	if sc := l.src.scalarOf(fn); sc != nil {
		for _, e := range splitList(sc) {
			if !strings.Contains(e.text, "${{") && !strings.Contains(e.text, "://") {
				files = append(files, e.text)
			}
		}
	} else if fn == nil {
		files = []string{"docker-bake.json", "docker-bake.override.json", "docker-bake.hcl", "docker-bake.override.hcl"}
	}
	env := map[string]varDef{}
	for _, m := range st.ctx.env {
		for k, v := range m {
			env[k] = v
		}
	}
	for k, v := range st.ctx.ghEnv {
		env[k] = v
	}
	// The targets built (targets: input, default group otherwise) and the
	// tags a set: replaces decide which tags of the files are pushed.
	var scope bakeScope
	_, tn := l.src.get(st.with, "targets")
	if sc := l.src.scalarOf(tn); sc != nil {
		for _, e := range splitList(sc) {
			vals := st.ctx.resolveAll(e.text)
			if len(vals) != 1 || strings.ContainsRune(vals[0], unknownRune) {
				scope.unknown = true
				continue
			}
			scope.targets = append(scope.targets, vals[0])
		}
	} else if tn != nil {
		scope.unknown = true
	}
	_, setN := l.src.get(st.with, "set")
	if sc := l.src.scalarOf(setN); sc != nil {
		for _, vl := range sc.lines {
			for _, v := range st.ctx.resolveAll(strings.TrimSpace(vl.text)) {
				scope.readSet(v)
			}
		}
	}
	l.lintBakeFiles(dir, files, env, scope)

	// set: *.tags=ref / target.tags=ref
	if sc := l.src.scalarOf(setN); sc != nil {
		for i, vl := range sc.lines {
			t := strings.TrimSpace(vl.text)
			key := ".tags="
			k := strings.Index(t, key)
			if k < 0 {
				key = ".tags+=" // appended to the file's tags
				if k = strings.Index(t, key); k < 0 {
					continue
				}
			}
			raw := t[k+len(key):]
			start := strings.Index(vl.text, t) + k + len(key)
			sp := sc.spanAt(i, start, start+len(raw))
			for _, v := range st.ctx.resolveAll(raw) {
				class, tag := classifyRef(v, l.mutable)
				if class == refLatest || class == refMutable {
					b := newFix(l.src)
					l.retag(b, sp, raw, tag, true, st.ctx.referencedDefs(raw, nil))
					rule, sev := RuleExplicitLatest, SeverityError
					if class == refMutable {
						rule, sev = RuleMutableTag, SeverityWarning
					}
					l.add(rule, sev, sp, fmt.Sprintf("docker/bake-action set pushes the tag %s (%s)", tag, display(v)),
						b.fix(fmt.Sprintf("replace :%s with the commit sha", tag)), st.node.Line, sp.line)
				}
			}
		}
	}
}

// lintBakeFiles lints bake files found in dir; their findings are
// reported in those files.
func (l *linter) lintBakeFiles(dir string, files []string, env map[string]varDef, scope bakeScope) {
	if l.root == "" || l.depth > 3 {
		return
	}
	type bakeSrc struct {
		path string
		src  []byte
	}
	var read []bakeSrc
	for _, f := range files {
		p := filepath.Join(dir, f)
		src, err := readLocal(p)
		if err != nil {
			continue
		}
		read = append(read, bakeSrc{p, src})
		l.cfg.reached.add(p)
	}
	g := newBakeGraph()
	for _, r := range read {
		g.read(r.path, r.src)
	}
	owners := g.owners(scope)
	for _, r := range read {
		sub := newLinter(r.path, r.src, l.cfg)
		sub.depth = l.depth + 1
		sub.bakeFile(r.src, env, false, owners)
		sub.applySuppressions()
		l.extra = append(l.extra, sub.findings...)
	}
}

// bakeScope is what a bake call builds: the targets (or groups) it names
// ("default" when none) and the target patterns whose tags a set replaces
// (app.tags=..., *.tags=...; not tags+=, which appends).
type bakeScope struct {
	targets []string
	setTags []string
	unknown bool // the targets could not be read: every target counts
}

// bakeGraph is the groups and targets of the bake files one call reads
// (bake merges them), for the targets a call builds.
type bakeGraph struct {
	groups   map[string][]string
	inherits map[string][]string
	hasTags  map[string]bool
	bad      bool
}

func newBakeGraph() *bakeGraph {
	return &bakeGraph{groups: map[string][]string{}, inherits: map[string][]string{}, hasTags: map[string]bool{}}
}

func (g *bakeGraph) read(path string, src []byte) {
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		var doc struct {
			Group map[string]struct {
				Targets []string `json:"targets"`
			} `json:"group"`
			Target map[string]struct {
				Inherits []string `json:"inherits"`
				Tags     []string `json:"tags"`
			} `json:"target"`
		}
		if json.Unmarshal(src, &doc) != nil {
			g.bad = true
			return
		}
		for n, gr := range doc.Group {
			g.groups[n] = append(g.groups[n], gr.Targets...)
		}
		for n, t := range doc.Target {
			g.inherits[n] = append(g.inherits[n], t.Inherits...)
			g.hasTags[n] = g.hasTags[n] || t.Tags != nil
		}
		return
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	body, ok := f.Body.(*hclsyntax.Body)
	if diags.HasErrors() || !ok {
		g.bad = true
		return
	}
	list := func(a *hclsyntax.Attribute) []string {
		v, d := a.Expr.Value(nil)
		if d.HasErrors() || !v.IsWhollyKnown() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
			g.bad = true
			return nil
		}
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.Type() != cty.String || e.IsNull() {
				g.bad = true
				continue
			}
			out = append(out, e.AsString())
		}
		return out
	}
	for _, b := range body.Blocks {
		if len(b.Labels) != 1 {
			continue
		}
		n := b.Labels[0]
		switch b.Type {
		case "group":
			if a, ok := b.Body.Attributes["targets"]; ok {
				g.groups[n] = append(g.groups[n], list(a)...)
			} else {
				g.groups[n] = append(g.groups[n], []string{}...)
			}
		case "target":
			if a, ok := b.Body.Attributes["inherits"]; ok {
				g.inherits[n] = append(g.inherits[n], list(a)...)
			} else if _, ok := g.inherits[n]; !ok {
				g.inherits[n] = nil
			}
			_, has := b.Body.Attributes["tags"]
			g.hasTags[n] = g.hasTags[n] || has
		}
	}
}

// owners are the targets whose own tags entry the call pushes: each
// built target's, or the one it inherits its tags from; nil when the
// built targets cannot be told (every target's tags count).
func (g *bakeGraph) owners(scope bakeScope) map[string]bool {
	if scope.unknown || g.bad {
		return nil
	}
	names := scope.targets
	if len(names) == 0 {
		names = []string{"default"}
	}
	built := map[string]bool{}
	var walk func(n string, depth int) bool
	walk = func(n string, depth int) bool {
		if depth > 16 {
			return false
		}
		if _, ok := g.inherits[n]; ok {
			built[n] = true
			return true
		}
		members, ok := g.groups[n]
		if !ok {
			return false
		}
		for _, m := range members {
			if !walk(m, depth+1) {
				return false
			}
		}
		return true
	}
	for _, n := range names {
		if !walk(n, 0) {
			return nil // a name bake finds elsewhere (or fails on): no narrowing
		}
	}
	out := map[string]bool{}
	for n := range built {
		replaced := false
		for _, p := range scope.setTags {
			if ok, _ := path.Match(p, n); ok || p == n {
				replaced = true
			}
		}
		if replaced {
			continue
		}
		// The tags a target pushes are its own, or the last inherited
		// target's that has some (bake applies inherits in order).
		cur := n
		for depth := 0; depth < 16 && !g.hasTags[cur]; depth++ {
			parents := g.inherits[cur]
			next := ""
			for _, p := range parents {
				if g.hasTags[p] || len(g.inherits[p]) > 0 {
					next = p
				}
			}
			if next == "" {
				break
			}
			cur = next
		}
		out[cur] = true
	}
	return out
}

// readBakeSet reads one --set value (or a line of bake-action's set:):
// TARGET.tags=... replaces the tags of the targets TARGET matches.
func (s *bakeScope) readSet(v string) {
	k := strings.Index(v, ".tags=")
	if k <= 0 || strings.HasSuffix(v[:k+len(".tags")], "+") {
		return
	}
	s.setTags = append(s.setTags, strings.TrimSpace(v[:k]))
}
