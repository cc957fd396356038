package lint

import (
	"regexp"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The shell flow: run: scripts (and GitLab script: lines) are parsed with
// mvdan.cc/sh and walked the way bash runs them, as far as values go. A
// variable holds the set of values the paths reaching a point can leave in
// it: both branches of an if and every case arm are followed and joined,
// a for loop over a literal list gives its variable every item, functions
// run at each call with their literal arguments. Every command is then
// checked with the values it may see, so a push of latest on one branch is
// found even when another branch reassigns the variable.

// maskExpressions hides ${{ }} expressions from the shell parser (they are
// not shell syntax) without moving any offset: the expander reads the
// original text.
func maskExpressions(s string) string {
	if !strings.Contains(s, "${{") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] != '$' || b[i+1] != '{' || b[i+2] != '{' {
			continue
		}
		j := strings.Index(s[i+3:], "}}")
		end := len(s)
		if j >= 0 {
			end = i + 3 + j + 2
		}
		for k := i; k < end; k++ {
			if b[k] != '\n' {
				b[k] = 'E'
			}
		}
		i = end - 1
	}
	return string(b)
}

func parseShell(s string) (f *syntax.File, err error) {
	defer func() {
		if recover() != nil {
			f, err = nil, errShellPanic
		}
	}()
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	return p.Parse(strings.NewReader(maskExpressions(s)), "")
}

type shellError string

func (e shellError) Error() string { return string(e) }

const errShellPanic = shellError("shell parser failed")

// shWalker walks one script.
type shWalker struct {
	j     *jobState
	st    *step
	scr   *script
	src   string
	depth int // nesting of compound commands: a command inside one is never deleted by a fix
	calls int // function call depth
	steps int // statements visited, bounded
	// anchor: the source is a command line built at run time (eval
	// "$cmd" with cmd set in a function): its words are reported at the
	// word that runs it, without an edit. via says how it was run.
	anchor *shTok
	via    string
	// reparses counts strings run inside strings, bounded.
	reparses int
	// extra are the words after $CMD (CMD holding a command line), added
	// to the command of extraFor, the statement parsed from its value.
	extra    []shTok
	extraFor *syntax.Stmt
	// noEdit: the source is a string in place whose quoting a fix could
	// break (quotes inside it, or single quotes a $CMD run never expands):
	// findings are placed but carry no edit.
	noEdit bool
}

// maxShellSteps bounds the statements visited in one script (functions
// called in loops re-run their bodies).
const maxShellSteps = 20000

func (w *shWalker) text(n syntax.Node) (string, int, int) {
	if n == nil || !n.Pos().IsValid() || !n.End().IsValid() {
		return "", 0, 0
	}
	a, b := int(n.Pos().Offset()), int(n.End().Offset())
	if a < 0 || b > len(w.src) || a > b {
		return "", 0, 0
	}
	return w.src[a:b], a, b
}

func (w *shWalker) tok(n syntax.Node) shTok {
	t, a, b := w.text(n)
	if w.anchor != nil {
		return shTok{kind: tWord, text: t, start: w.anchor.start, end: w.anchor.end, synthetic: true, via: w.via}
	}
	return shTok{kind: tWord, text: t, start: a, end: b, via: w.via, synthetic: w.noEdit}
}

// span places the text at offsets a..b of the walked source; a string
// parsed from a value (anchor set) has no place of its own.
func (w *shWalker) span(a, b int) span {
	if w.anchor != nil {
		return w.scr.span(*w.anchor)
	}
	return w.scr.span(shTok{start: a, end: b, synthetic: w.noEdit})
}

func (w *shWalker) stmts(list []*syntax.Stmt, x *shExpander, target string) {
	for _, s := range list {
		w.stmt(s, x, target)
	}
}

// pipeFilters pass their input lines through mostly unchanged.
var pipeFilters = map[string]bool{"sed": true, "grep": true, "tr": true, "cat": true, "sort": true, "uniq": true, "head": true, "tail": true}

// redirTarget names what a redirection writes to: "env" for $GITHUB_ENV,
// "output" for $GITHUB_OUTPUT, else "".
func redirTarget(word string) string {
	switch {
	case strings.Contains(word, "GITHUB_ENV"):
		return "env"
	case strings.Contains(word, "GITHUB_OUTPUT"):
		return "output"
	}
	return ""
}

func (w *shWalker) stmt(s *syntax.Stmt, x *shExpander, target string) {
	if s == nil || s.Cmd == nil {
		return
	}
	if w.steps++; w.steps > maxShellSteps {
		return
	}
	for _, r := range s.Redirs {
		if (r.Op == syntax.AppOut || r.Op == syntax.RdrOut || r.Op == syntax.RdrClob) && r.Word != nil {
			t, _, _ := w.text(r.Word)
			target = redirTarget(t)
		}
	}
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		w.call(s, c, x, target)
	case *syntax.IfClause:
		w.ifClause(c, x, target)
	case *syntax.WhileClause:
		w.depth++
		w.stmts(c.Cond, x, target)
		body := x.clone()
		w.stmts(c.Do, body, target)
		x.join(body)
		w.depth--
	case *syntax.ForClause:
		w.depth++
		w.forClause(c, x, target)
		w.depth--
	case *syntax.CaseClause:
		w.depth++
		pre := x.clone()
		var arms []*shExpander
		def := false
		// case "$GITHUB_REF" in refs/tags/*) ...: that arm runs on tag runs.
		subj, _, _ := w.text(c.Word)
		refSubj := caseRefRE.MatchString(subj)
		for _, it := range c.Items {
			tagArm := refSubj && len(it.Patterns) > 0
			for _, p := range it.Patterns {
				t, _, _ := w.text(p)
				if t == "*" {
					def = true
				}
				t = strings.Trim(t, `"'`)
				if !strings.HasPrefix(t, "refs/tags/") && t != "tag" {
					tagArm = false
				}
			}
			arm := pre.clone()
			if tagArm {
				arm.narrowToTag()
			}
			w.stmts(it.Stmts, arm, target)
			arms = append(arms, arm)
		}
		if len(arms) > 0 {
			*x = *arms[0]
			for _, a := range arms[1:] {
				x.join(a)
			}
			if !def {
				x.join(pre)
			}
		}
		w.depth--
	case *syntax.Block:
		w.stmts(c.Stmts, x, target)
	case *syntax.Subshell:
		w.depth++
		w.stmts(c.Stmts, x.clone(), target)
		w.depth--
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.Pipe, syntax.PipeAll:
			// echo NAME=value | tee -a "$GITHUB_ENV" writes like >>.
			t := target
			if call, ok := c.Y.Cmd.(*syntax.CallExpr); ok && len(call.Args) > 0 {
				name, _, _ := w.text(call.Args[0])
				if name == "tee" {
					for _, a := range call.Args[1:] {
						at, _, _ := w.text(a)
						if tt := redirTarget(at); tt != "" {
							t = tt
						}
					}
				}
				// echo "$LIST" | sed '/^$/d' >> "$GITHUB_ENV": a filter
				// passes the lines on (as far as tags go).
				if pipeFilters[name] {
					for _, r := range c.Y.Redirs {
						if (r.Op == syntax.AppOut || r.Op == syntax.RdrOut) && r.Word != nil {
							rt, _, _ := w.text(r.Word)
							if tt := redirTarget(rt); tt != "" {
								t = tt
							}
						}
					}
				}
			}
			w.depth++
			w.stmt(c.X, x.clone(), t)
			w.stmt(c.Y, x.clone(), target)
			w.depth--
		default: // && and ||: the right side may not run
			w.stmt(c.X, x, target)
			y := x.clone()
			w.stmt(c.Y, y, target)
			if exits(c.Y) && c.X != nil {
				// [[ $GITHUB_REF == refs/tags/* ]] || exit 0: what follows
				// runs only where the test let the script go on.
				cond, _, _ := w.text(c.X)
				if onTag, ok := w.tagCond(cond, x); ok && onTag == (c.Op == syntax.OrStmt) {
					x.narrowToTag()
				}
				break
			}
			x.join(y)
		}
	case *syntax.FuncDecl:
		if c.Name != nil && c.Body != nil {
			if x.funcs == nil {
				x.funcs = map[string]*syntax.Stmt{}
			}
			x.funcs[c.Name.Value] = c.Body
		}
	case *syntax.DeclClause:
		for _, a := range c.Args {
			w.assign(a, x)
		}
	case *syntax.TimeClause:
		w.stmt(c.Stmt, x, target)
	}
}

func (w *shWalker) ifClause(c *syntax.IfClause, x *shExpander, target string) {
	w.depth++
	defer func() { w.depth-- }()
	w.stmts(c.Cond, x, target)
	then := x.clone()
	els := x.clone()
	if len(c.Cond) > 0 {
		cond := w.src[int(c.Cond[0].Pos().Offset()):int(c.Cond[len(c.Cond)-1].End().Offset())]
		// [ "$GITHUB_REF_TYPE" = tag ]: the ref is a git tag in one
		// branch, so a tag named after it there is a release tag.
		if onTag, ok := w.tagCond(cond, x); ok && onTag {
			then.narrowToTag()
		} else if ok {
			els.narrowToTag()
		}
	}
	w.stmts(c.Then, then, target)
	elseExits := false
	if e := c.Else; e != nil {
		if len(e.Cond) == 0 && !e.ThenPos.IsValid() {
			w.stmts(e.Then, els, target)
			elseExits = len(e.Then) > 0 && exits(e.Then[len(e.Then)-1])
		} else {
			w.ifClause(e, els, target)
		}
	}
	// if [[ $GITHUB_REF != refs/tags/* ]]; then exit 0; fi: the script
	// goes on only through the branch that does not exit.
	thenExits := len(c.Then) > 0 && exits(c.Then[len(c.Then)-1])
	switch {
	case thenExits && !elseExits:
		*x = *els
	case elseExits && !thenExits:
		*x = *then
	default:
		*x = *then
		x.join(els)
	}
}

// exits: the statement ends the script (exit, or a list ending in exit).
func exits(s *syntax.Stmt) bool {
	if s == nil {
		return false
	}
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		if len(c.Args) > 0 && len(c.Args[0].Parts) == 1 {
			if l, ok := c.Args[0].Parts[0].(*syntax.Lit); ok {
				return l.Value == "exit"
			}
		}
	case *syntax.Block:
		return len(c.Stmts) > 0 && exits(c.Stmts[len(c.Stmts)-1])
	}
	return false
}

// tagCond reads a test of the run's ref: ok when cond tests whether the
// ref is a git tag, onTag when it holds on tag runs (else on branch runs).
func (w *shWalker) tagCond(cond string, x *shExpander) (onTag, ok bool) {
	if strings.Contains(cond, "||") {
		return false, false
	}
	if m := tagTestRE.FindStringSubmatch(cond); m != nil {
		// != "" tests a tag variable is set; elsewhere != negates.
		neg := strings.Contains(m[0], "!=") && !strings.HasSuffix(m[0], `""`) || strings.Contains(m[0], "-z")
		if strings.HasPrefix(strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(cond), "[")), "!") {
			neg = !neg
		}
		return !neg, true
	}
	if m := refTypeVarRE.FindStringSubmatch(cond); m != nil && x.holdsRefType(m[1]) {
		// REF_TYPE: ${{ github.ref_type }} in env, tested in shell.
		return (m[2] == "!=") != (m[3] == "tag"), true
	}
	return false, false
}

func (w *shWalker) forClause(c *syntax.ForClause, x *shExpander, target string) {
	it, ok := c.Loop.(*syntax.WordIter)
	if !ok || it.Name == nil {
		body := x.clone()
		w.stmts(c.Do, body, target)
		x.join(body)
		return
	}
	var vals []varDef
	if len(it.Items) == 0 || !it.InPos.IsValid() {
		vals = []varDef{{value: unknownStr}}
		if at, ok := x.vars["@"]; ok && len(at.arr) > 0 && !it.InPos.IsValid() {
			vals = at.arr // for t; do: the positional parameters
		}
	}
	for _, item := range it.Items {
		for _, v := range w.splitWord(item, x) {
			if len(vals) < maxAlts {
				vals = append(vals, v)
			}
		}
	}
	if len(vals) == 0 {
		return // an empty list: the body never runs
	}
	x.vars[it.Name.Value] = varDef{value: vals[0].value, site: vals[0].site, alts: vals[1:]}
	w.stmts(c.Do, x, target)
}

// splitWord is what one word becomes in a list context: "${a[@]}" is
// every element, an unquoted literal with spaces is split, else the
// word's values.
func (w *shWalker) splitWord(item *syntax.Word, x *shExpander) []varDef {
	raw, a, b := w.text(item)
	if name, ok := arraySplat(raw); ok {
		if v, ok := x.vars[name]; ok && len(v.arr) > 0 {
			return v.arr
		}
		return []varDef{{value: unknownStr}}
	}
	var out []varDef
	for _, v := range x.wordAll(raw) {
		site := &defSite{sp: w.span(a, b), raw: raw, scr: w.scr, off: a}
		if !site.sp.exact {
			site = nil
		}
		if !strings.HasPrefix(raw, `"`) && !strings.HasPrefix(raw, `'`) && strings.ContainsAny(v, " \t\n") && !strings.ContainsRune(v, unknownRune) {
			for _, f := range strings.Fields(v) {
				out = append(out, varDef{value: f})
			}
			continue
		}
		out = append(out, varDef{value: v, site: site})
	}
	return out
}

// elemDefs is what one word of an array literal adds: every element of
// a splatted array, or one element holding all the word's possible values
// (a loop variable's items are alternatives of one element, not several
// elements: TAG_ARGS+=("-t" "$img:$tag") adds one -t value per iteration).
// argsDef is "$@" for these arguments (set -- ARGS, a function call): one
// element each, read back like an array.
func (w *shWalker) argsDef(args []*syntax.Word, x *shExpander) varDef {
	var elems []varDef
	for _, a := range args {
		elems = append(elems, w.elemDefs(a, x)...)
	}
	if len(elems) > maxAlts {
		elems = elems[:maxAlts]
	}
	d := varDef{value: unknownStr, arr: elems}
	if len(elems) > 0 {
		d.value, d.site = elems[0].value, elems[0].site
	}
	return d
}

func (w *shWalker) elemDefs(item *syntax.Word, x *shExpander) []varDef {
	raw, a, b := w.text(item)
	if _, ok := arraySplat(raw); ok {
		return w.splitWord(item, x)
	}
	vals := x.wordAll(raw)
	if len(vals) == 1 {
		return w.splitWord(item, x)
	}
	var site *defSite
	if sp := w.span(a, b); sp.exact {
		site = &defSite{sp: sp, raw: raw}
	}
	d := varDef{value: vals[0], site: site}
	for _, v := range vals[1:] {
		d.alts = append(d.alts, varDef{value: v, site: site})
	}
	return []varDef{d}
}

// maxVia bounds the definitions a value remembers it was built from.
const maxVia = 8

// flatVia keeps a few definition sites, without their own chains (those
// were already followed): memory stays linear in the script.
func flatVia(defs []varDef) []varDef {
	var out []varDef
	seen := map[defSite]bool{}
	for _, d := range defs {
		if d.site == nil || seen[*d.site] || len(out) >= maxVia {
			continue
		}
		seen[*d.site] = true
		out = append(out, varDef{value: d.value, site: d.site})
	}
	return out
}

// arraySplat recognises "${name[@]}" and ${name[@]} (and [*]).
func arraySplat(raw string) (string, bool) {
	r := strings.Trim(raw, `"`)
	if r == "$@" || r == "${@}" {
		return "@", true
	}
	if !strings.HasPrefix(r, "${") || !strings.HasSuffix(r, "]}") {
		return "", false
	}
	inner := r[2 : len(r)-1]
	name := nameRE.FindString(inner)
	if name == "" || (inner[len(name):] != "[@]" && inner[len(name):] != "[*]") {
		return "", false
	}
	return name, true
}

func (w *shWalker) assign(a *syntax.Assign, x *shExpander) {
	if a == nil || a.Name == nil || a.Naked {
		return
	}
	name := a.Name.Value
	if a.Array != nil {
		var elems []varDef
		if a.Append {
			if v, ok := x.vars[name]; ok {
				elems = append(elems, v.arr...)
			}
		}
		for _, e := range a.Array.Elems {
			if e.Value == nil {
				continue
			}
			elems = append(elems, w.elemDefs(e.Value, x)...)
		}
		if len(elems) > maxAlts {
			elems = elems[:maxAlts]
		}
		d := varDef{value: unknownStr, arr: elems}
		if len(elems) > 0 {
			d.value, d.site = elems[0].value, elems[0].site
		}
		x.vars[name] = d
		return
	}
	if a.Index != nil {
		// a[i]=v: the element joins the array.
		if a.Value != nil {
			v := x.vars[name]
			v.arr = append(v.arr, w.splitWord(a.Value, x)...)
			x.vars[name] = v
		}
		return
	}
	raw := ""
	var site *defSite
	if a.Value != nil {
		var s, e int
		raw, s, e = w.text(a.Value)
		if sp := w.span(s, e); sp.exact {
			// The definition site holds NAME=value, as the fixes expect.
			_, as, _ := w.text(a)
			if sp2 := w.span(as, e); sp2.exact {
				site = &defSite{sp: sp2, raw: w.src[as:e], scr: w.scr, off: as}
			}
		}
	}
	vals := x.wordAll(raw)
	// The definitions this value is built from (TAGS="$TAGS,..." keeps
	// the earlier TAGS), so a fix reaches where a tag was first written.
	via := flatVia(x.ctx.referencedDefs(raw, x.vars))
	if a.Append {
		prev, ok := x.vars[name]
		if !ok {
			prev = x.outer(name)
		}
		if len(prev.arr) > 0 {
			prev.arr = append(prev.arr, varDef{value: vals[0], site: site})
			x.vars[name] = prev
			return
		}
		var out []varDef
		for _, p := range prev.all() {
			for _, v := range vals {
				if len(out) < maxAlts {
					out = append(out, varDef{value: p.value + v, site: p.site, via: append(append([]varDef(nil), p.via...), via...)})
				}
			}
		}
		x.vars[name] = varDef{value: out[0].value, site: out[0].site, alts: out[1:]}
		return
	}
	from := w.copiedFrom(raw, x)
	d := varDef{value: vals[0], site: site, via: via, from: from}
	for _, v := range vals[1:] {
		d.alts = append(d.alts, varDef{value: v, site: site, via: via, from: from})
	}
	x.vars[name] = d
}

// copiedFrom: when raw is one variable ("$cmd", "$1") whose values were
// all written by one assignment, that assignment.
func (w *shWalker) copiedFrom(raw string, x *shExpander) *defSite {
	m := varWordRE.FindStringSubmatch(raw)
	if m == nil {
		return nil
	}
	src, ok := x.vars[m[1]+m[2]]
	if !ok {
		return nil
	}
	var at *defSite
	for _, a := range src.all() {
		s := a.from
		if s == nil {
			s = a.site
			if s == nil || s.scr != w.scr || s.yaml || !assignRE.MatchString(s.raw) {
				return nil
			}
		}
		if at != nil && at != s {
			return nil
		}
		at = s
	}
	return at
}

// substitutions runs the commands inside $( ) and backquotes of a
// command's words (OUT=$(docker buildx imagetools create ...) pushes too),
// in a subshell: their assignments do not escape.
func (w *shWalker) substitutions(n syntax.Node, x *shExpander) {
	if n == nil {
		return
	}
	var subs [][]*syntax.Stmt
	syntax.Walk(n, func(node syntax.Node) bool {
		if cs, ok := node.(*syntax.CmdSubst); ok {
			subs = append(subs, cs.Stmts)
			return false
		}
		return true
	})
	for _, st := range subs {
		w.depth++
		w.stmts(st, x.clone(), "")
		w.depth--
	}
}

func (w *shWalker) call(s *syntax.Stmt, c *syntax.CallExpr, x *shExpander, target string) {
	for _, a := range c.Assigns {
		w.substitutions(a, x)
	}
	for _, a := range c.Args {
		w.substitutions(a, x)
	}
	if len(c.Args) == 0 {
		for _, a := range c.Assigns {
			w.assign(a, x)
		}
		return
	}
	name, _, _ := w.text(c.Args[0])
	if name == "set" && len(c.Args) > 1 {
		// set -- a b: the positional parameters, read back by "$@" like
		// an array (set -- "$@" c appends).
		if dd, _, _ := w.text(c.Args[1]); dd == "--" {
			x.vars["@"] = w.argsDef(c.Args[2:], x)
			return
		}
	}
	if name == "read" || name == "mapfile" || name == "readarray" {
		w.read(s, c, x)
		return
	}
	if body, ok := x.funcs[name]; ok && w.calls < 8 {
		saved := map[string]varDef{}
		for k := 1; k <= 9; k++ {
			key := string(rune('0' + k))
			if v, ok := x.vars[key]; ok {
				saved[key] = v
			}
			delete(x.vars, key)
		}
		for k, a := range c.Args[1:] {
			if k >= 9 {
				break
			}
			raw, as, ae := w.text(a)
			vals := x.wordAll(raw)
			var site *defSite
			if sp := w.span(as, ae); sp.exact {
				site = &defSite{sp: sp, raw: raw}
			}
			from := w.copiedFrom(raw, x)
			d := varDef{value: vals[0], site: site, from: from}
			for _, v := range vals[1:] {
				d.alts = append(d.alts, varDef{value: v, site: site, from: from})
			}
			x.vars[string(rune('1'+k))] = d
		}
		// "$@" in the body: the call's arguments, one element each (a
		// loop over them pushes every tag the caller passed).
		savedAt, hadAt := x.vars["@"]
		x.vars["@"] = w.argsDef(c.Args[1:], x)
		w.calls++
		w.depth++
		w.stmt(body, x, target)
		w.depth--
		w.calls--
		for k := 1; k <= 9; k++ {
			key := string(rune('0' + k))
			delete(x.vars, key)
			if v, ok := saved[key]; ok {
				x.vars[key] = v
			}
		}
		delete(x.vars, "@")
		if hadAt {
			x.vars["@"] = savedAt
		}
		return
	}
	if w.reparse(s, c, x, target) {
		return
	}
	cmd := shCmd{before: w.sepBefore(s), after: w.sepAfter(s)}
	if len(c.Assigns) > 0 {
		pre := x.clone()
		cmd.env = map[string]varDef{}
		for _, a := range c.Assigns {
			if a.Name != nil {
				w.assign(a, pre)
				if d, ok := pre.vars[a.Name.Value]; ok {
					cmd.env[a.Name.Value] = d
				}
			}
		}
	}
	var temps []string
	for _, a := range c.Args {
		raw, _, _ := w.text(a)
		if name, ok := arraySplat(raw); ok {
			// "${args[@]}" becomes one word per element, each quoted so
			// the expander gives back the element's value.
			if v, ok := x.vars[name]; ok && len(v.arr) > 0 {
				for k, e := range v.arr {
					t := w.tok(a)
					if st := e.site; st != nil && st.scr == w.scr && !st.yaml && len(e.alts) == 0 && !strings.Contains(st.raw, "=") {
						// The element as written where the array was set,
						// when it still means the same here: a fix then
						// edits that place.
						if vals := x.wordAll(st.raw); len(vals) == 1 && vals[0] == e.value {
							cmd.words = append(cmd.words, shTok{kind: t.kind, text: st.raw, start: st.off, end: st.off + len(st.raw)})
							continue
						}
					}
					if len(e.alts) == 0 {
						t.text = "'" + strings.ReplaceAll(e.value, "'", `'\''`) + "'"
					} else {
						// An element with several possible values is read
						// through a variable of its own.
						tmp := "__immutag_elem_" + strconv.Itoa(k)
						x.vars[tmp] = e
						temps = append(temps, tmp)
						t.text = `"${` + tmp + `}"`
					}
					cmd.words = append(cmd.words, t)
				}
				continue
			}
		}
		cmd.words = append(cmd.words, w.tok(a))
	}
	if s == w.extraFor {
		cmd.words = append(cmd.words, w.extra...)
	}
	for _, r := range s.Redirs {
		t := shTok{kind: tRedir, text: r.Op.String(), start: int(r.OpPos.Offset()), end: int(r.OpPos.Offset()) + len(r.Op.String())}
		if r.Word != nil {
			wt := w.tok(r.Word)
			t.target = &wt
		}
		cmd.redirs = append(cmd.redirs, t)
		if (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc) && r.Hdoc != nil && target != "" {
			body, _, _ := w.text(r.Hdoc)
			quoted := r.Word != nil && strings.ContainsAny(w.src[r.Word.Pos().Offset():r.Word.End().Offset()], `'"\`)
			w.j.heredocOut(w.st, x, target, body, quoted)
		}
	}
	w.j.command(w.st, w.scr, x, cmd, target, w.depth > 0)
	for _, t := range temps {
		delete(x.vars, t)
	}
}

// read -a NAME <<< "$LIST" (with IFS=',' before it, often) makes an
// array of the list's fields; read NAME <<< "$V" sets NAME.
func (w *shWalker) read(s *syntax.Stmt, c *syntax.CallExpr, x *shExpander) {
	ifs := " \t\n"
	for _, a := range c.Assigns {
		if a.Name != nil && a.Name.Value == "IFS" && a.Value != nil {
			raw, _, _ := w.text(a.Value)
			ifs = x.word(raw)
		}
	}
	var input *syntax.Word
	for _, r := range s.Redirs {
		if r.Op == syntax.WordHdoc {
			input = r.Word
		}
	}
	arr := ""
	var names []string
	args := c.Args[1:]
	for k := 0; k < len(args); k++ {
		t, _, _ := w.text(args[k])
		switch {
		case strings.HasPrefix(t, "-") && strings.Contains(t, "a") && !strings.HasPrefix(t, "--"):
			if k+1 < len(args) {
				arr, _, _ = w.text(args[k+1])
				k++
			}
		case strings.HasPrefix(t, "-"):
			if t == "-d" || t == "-n" || t == "-N" || t == "-p" || t == "-t" || t == "-u" {
				k++
			}
		default:
			names = append(names, t)
		}
	}
	if input == nil {
		for _, n := range append(names, arr) {
			if n != "" {
				x.vars[n] = varDef{value: unknownStr}
			}
		}
		return
	}
	raw, _, _ := w.text(input)
	vals := x.wordAll(raw)
	fields := func(v string) []string {
		return strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(ifs, r) })
	}
	if arr != "" {
		var elems []varDef
		seen := map[string]bool{}
		for _, v := range vals {
			for _, f := range fields(v) {
				if !seen[f] && len(elems) < maxAlts {
					seen[f] = true
					elems = append(elems, varDef{value: f})
				}
			}
		}
		d := varDef{value: unknownStr, arr: elems}
		if len(elems) > 0 {
			d.value = elems[0].value
		}
		x.vars[arr] = d
		return
	}
	if len(names) == 1 {
		d := varDef{value: vals[0]}
		for _, v := range vals[1:] {
			d.alts = append(d.alts, varDef{value: v})
		}
		x.vars[names[0]] = d
		return
	}
	for _, n := range names {
		x.vars[n] = varDef{value: unknownStr}
	}
}

// sepBefore and sepAfter give the separators around a statement, for
// fixes that delete a whole command.
func (w *shWalker) sepBefore(s *syntax.Stmt) shTok {
	i := int(s.Pos().Offset())
	k := i
	for k > 0 && (w.src[k-1] == ' ' || w.src[k-1] == '\t') {
		k--
	}
	switch {
	case k == 0:
		return shTok{}
	case w.src[k-1] == '\n':
		return shTok{kind: tSep, text: "\n", start: k - 1, end: k}
	case k >= 2 && w.src[k-2:k] == "&&":
		return shTok{kind: tSep, text: "&&", start: k - 2, end: k}
	case w.src[k-1] == ';':
		return shTok{kind: tSep, text: ";", start: k - 1, end: k}
	}
	return shTok{kind: tSep, text: "?", start: k - 1, end: k}
}

func (w *shWalker) sepAfter(s *syntax.Stmt) shTok {
	i := int(s.End().Offset())
	for i < len(w.src) && (w.src[i] == ' ' || w.src[i] == '\t') {
		i++
	}
	switch {
	case i >= len(w.src):
		return shTok{}
	case w.src[i] == '\n' || w.src[i] == '#':
		return shTok{kind: tSep, text: "\n", start: i, end: i + 1}
	}
	return shTok{kind: tSep, text: "?", start: i, end: i + 1}
}

// tagTestRE: a shell test of the run's ref being a git tag.
var tagTestRE = regexp.MustCompile(`GITHUB_EVENT_NAME\}?"?\s*==?\s*"?release\b|github\.event_name\s*\}\}"?\s*==?\s*"?release\b|CI_COMMIT_TAG\}?"?\s*!=\s*""|github\.ref\s*\}\}"?\s*(?:!=|==|=~|=)\s*"?\^?refs/tags|GITHUB_REF_TYPE\}?"?\s*!?==?\s*"?tag|GITHUB_REF\}?"?\s*(?:!=|==|=~|=)\s*"?\^?refs/tags|github\.ref_type\s*\}\}"?\s*!?==?\s*"?tag|(GITHUB_REF_NAME|CI_COMMIT_REF_NAME)\}?"?\s*=~\s*"?\^?v|-[nz]\s+"?\$\{?CI_COMMIT_TAG\b|startsWith\(github\.ref, 'refs/tags`)

// caseRefRE: a case subject that is the run's ref or its type.
var caseRefRE = regexp.MustCompile(`^"?(\$\{?GITHUB_REF(_TYPE)?\}?|\$\{\{\s*github\.ref(_type)?\s*\}\})"?$`)

// tagRefMarker marks an expander inside a branch where the ref is a tag.
const tagRefMarker = "__immutag_tagref"

func (x *shExpander) narrowToTag() {
	for _, k := range []string{"GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "CI_COMMIT_REF_SLUG"} {
		x.vars[k] = varDef{value: unknownStr}
	}
	x.vars[tagRefMarker] = varDef{value: "1"}
}

// refTypeVarRE: a variable compared with tag or branch.
var refTypeVarRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?\s*(!=|==|=)\s*"?(tag|branch)\b`)

// holdsRefType: the variable was set from github.ref_type.
func (x *shExpander) holdsRefType(name string) bool {
	d, ok := x.vars[name]
	if !ok {
		d, ok = x.ctx.lookupEnv(name)
	}
	return ok && d.site != nil && strings.Contains(d.site.raw, "github.ref_type")
}
