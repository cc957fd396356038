package lint

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A command line kept in a string and run later is read twice by the
// shell: CMD="docker push $IMAGE:latest"; $CMD, eval "$cmd",
// bash -c "$PUSH". The string is parsed again and its commands followed
// like any other. When it is written in this script (inside the quotes of
// the word run, or of the assignment that set the variable, the value
// still the same), it is parsed in place, so findings and fixes land where
// the tag is written. A string assembled elsewhere (handed through a
// function's arguments, appended to) is parsed from its value and its
// findings are reported where it is run, saying so, without an edit.

// maxReparse bounds strings run inside strings (eval "$a" where a runs
// eval "$b" ...).
const maxReparse = 4

// maxReparseValues bounds the values of one string parsed again: strings
// inside strings would otherwise multiply their alternatives.
const maxReparseValues = 8

// varWordRE: a word that is one variable, quoted or not ("$cmd", ${cmd}).
var varWordRE = regexp.MustCompile(`^"?\$(?:([A-Za-z_][A-Za-z0-9_]*|[0-9])|\{([A-Za-z_][A-Za-z0-9_]*|[0-9])\})"?$`)

// shellNames are the shells whose -c runs a string.
var shellNames = map[string]bool{"sh": true, "bash": true, "zsh": true, "dash": true, "ash": true, "ksh": true}

// reparse runs the command line a statement hands to the shell again:
// eval WORDS, SHELL -c STRING, $CMD ARGS (CMD holding a command line). It
// reports false when the statement is none of these.
func (w *shWalker) reparse(s *syntax.Stmt, c *syntax.CallExpr, x *shExpander, target string) bool {
	args := c.Args
	for len(args) > 1 {
		n, _, _ := w.text(args[0])
		if n != "sudo" && n != "exec" && n != "command" && n != "nohup" {
			break
		}
		args = args[1:]
		for len(args) > 1 && strings.HasPrefix(w.lit(args[0]), "-") {
			args = args[1:]
		}
	}
	name := w.lit(args[0])
	var str *syntax.Word
	var rest, posArgs []*syntax.Word
	how := ""
	switch {
	case name == "eval" && len(args) > 1:
		if len(args) > 2 || !w.quotedOrVar(args[1]) {
			// eval docker push "$IMG:latest": the words joined are the
			// command, as written.
			if w.reparses >= maxReparse {
				return true
			}
			w.reparses++
			defer func() { w.reparses-- }()
			saved := w.via
			w.via = w.viaNote("eval", args[0])
			w.call(s, &syntax.CallExpr{Assigns: c.Assigns, Args: args[1:]}, x, target)
			w.via = saved
			return true
		}
		str, how = args[1], "eval"
	case shellNames[path.Base(name)]:
		k := 1
		dashC := false
		for ; k < len(args); k++ {
			a := w.lit(args[k])
			if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") || a == "--" || a == "-" {
				break
			}
			if strings.HasPrefix(a, "--") {
				continue // --login, --norc
			}
			if strings.Contains(a, "c") {
				dashC = true
			}
			if strings.HasSuffix(a, "o") {
				k++ // -o pipefail
			}
		}
		if !dashC || k >= len(args) {
			return false
		}
		str, how = args[k], path.Base(name)+" -c"
		posArgs = args[k+1:] // $0, $1, ... of the string
	default:
		raw, _, _ := w.text(args[0])
		m := bareRefRE.FindStringSubmatch(raw)
		if m == nil {
			return false
		}
		if v := x.word(raw); !strings.ContainsAny(strings.TrimSpace(v), " \t\n") {
			return false
		}
		str, rest, how = args[0], args[1:], raw
	}
	if w.reparses >= maxReparse {
		return true
	}
	w.reparses++
	defer func() { w.reparses-- }()
	var extra []shTok
	for _, r := range rest {
		extra = append(extra, w.tok(r))
	}
	for _, p := range w.stringSources(str, x, rest != nil) {
		sub := &shWalker{j: w.j, st: w.st, scr: w.scr, src: p.src, depth: w.depth + 1, calls: w.calls, steps: w.steps,
			reparses: w.reparses, anchor: p.anchor, via: w.viaNote(how, str), extra: extra, noEdit: p.noEdit}
		if p.anchor != nil {
			sub.via = w.viaNote(how, str) + " from a string assembled elsewhere (no edit: change the tag where it is written)"
		}
		f, err := parseShell(p.src)
		if err != nil {
			continue
		}
		if len(extra) > 0 && (len(f.Stmts) != 1 || f.Stmts[0].Cmd == nil) {
			continue // $CMD ARGS: the value is one command's words
		}
		if len(extra) > 0 {
			sub.extraFor = f.Stmts[0]
		}
		sx := x.clone()
		if len(posArgs) > 0 {
			// sh -c 'docker push "x:$1"' sh latest: the words after the
			// string are $0, $1, ...
			for i := 1; i <= 9; i++ {
				delete(sx.vars, string(rune('0'+i)))
			}
			delete(sx.vars, "@")
			var elems []varDef
			for i, a := range posArgs[1:] {
				if i >= 9 {
					break
				}
				d := wordDef(x, w.tok(a).text)
				sx.vars[string(rune('1'+i))] = d
				elems = append(elems, d)
			}
			sx.vars["@"] = varDef{value: unknownStr, arr: elems}
		}
		sub.stmts(f.Stmts, sx, target)
		w.steps = sub.steps
	}
	return true
}

func (w *shWalker) viaNote(how string, n syntax.Node) string {
	t := w.tok(n)
	sp := w.span(t.start, t.end)
	if w.anchor != nil || w.via != "" {
		return w.via
	}
	return fmt.Sprintf("run by `%s` on line %d", how, sp.line)
}

// lit is a word's text with its quotes removed when it is a literal.
func (w *shWalker) lit(n *syntax.Word) string {
	if l := n.Lit(); l != "" {
		return l
	}
	t, _, _ := w.text(n)
	return t
}

// quotedOrVar: a word that is one quoted string or one variable (eval
// "docker push x", eval "$cmd", eval $cmd).
func (w *shWalker) quotedOrVar(n *syntax.Word) bool {
	if len(n.Parts) != 1 {
		return false
	}
	switch n.Parts[0].(type) {
	case *syntax.SglQuoted, *syntax.DblQuoted, *syntax.ParamExp:
		return true
	}
	return false
}

// strSource is a command line to parse: src holds it at the offsets of
// the walked script (blank elsewhere), or, with anchor set, is its value.
type strSource struct {
	src    string
	anchor *shTok
	noEdit bool
}

// stringSources finds the text of the string word runs.
// split: the string is run as $CMD, split into words but never expanded
// again (a fix writing ${GITHUB_SHA} in single quotes would push that text).
func (w *shWalker) stringSources(word *syntax.Word, x *shExpander, split bool) []strSource {
	raw, a, b := w.text(word)
	if b-a < 2 {
		return nil
	}
	if w.anchor == nil && len(word.Parts) == 1 {
		switch p := word.Parts[0].(type) {
		case *syntax.SglQuoted:
			if !p.Dollar {
				return []strSource{{src: w.region(a+1, b-1), noEdit: w.noEdit || strings.ContainsAny(raw[1:len(raw)-1], `'"`)}}
			}
		case *syntax.DblQuoted:
			if !varWordRE.MatchString(raw) {
				return []strSource{{src: w.region(a+1, b-1), noEdit: w.noEdit || strings.ContainsAny(raw[1:len(raw)-1], `'"`)}}
			}
		}
	}
	m := varWordRE.FindStringSubmatch(raw)
	if m == nil {
		return w.valueSources(word, x.wordAll(raw))
	}
	name := m[1] + m[2]
	d, ok := x.vars[name]
	if !ok {
		d = x.outer(name)
	}
	var out []strSource
	var left []string
	// A place parsed once covers every value its variables give it.
	done := map[*defSite]bool{}
	for _, alt := range d.all() {
		if len(out) >= maxReparseValues || done[alt.site] && alt.site != nil || done[alt.from] && alt.from != nil {
			continue
		}
		st := alt.site
		src, quote, ok := w.assignedText(st, alt, x)
		if !ok && alt.from != nil {
			// run_cmd "$cmd" ... local c="$1"; eval "$c": the text is
			// where cmd was assigned.
			st = alt.from
			src, quote, ok = w.assignedText(st, alt, x)
		}
		if ok {
			done[st] = true
			inner := strings.TrimSpace(src)
			out = append(out, strSource{src: src, noEdit: w.noEdit || strings.ContainsAny(inner, `'"`) || split && quote == '\''})
			continue
		}
		if len(left) < maxAlts {
			left = append(left, alt.value)
		}
	}
	return append(out, w.valueSources(word, left)...)
}

// assignedText: the text of NAME="value" (or 'value') written in this
// script, as a source to parse, when it still makes the variable's value
// (not appended to or rebuilt from itself since).
func (w *shWalker) assignedText(st *defSite, d varDef, x *shExpander) (string, byte, bool) {
	if w.anchor != nil || st == nil || st.scr != w.scr || st.yaml || !assignRE.MatchString(st.raw) || strings.Contains(assignRE.FindString(st.raw), "+") {
		return "", 0, false
	}
	name := strings.TrimSuffix(assignRE.FindString(st.raw), "=")
	if st.off < 0 || st.off+len(st.raw) > len(w.src) || w.src[st.off:st.off+len(st.raw)] != st.raw {
		return "", 0, false
	}
	v := st.raw[len(name)+1:]
	from := st.off + len(name) + 1
	if len(v) < 2 || v[0] != v[len(v)-1] || (v[0] != '"' && v[0] != '\'') {
		return "", 0, false
	}
	inner := v[1 : len(v)-1]
	if varWordRE.MatchString(strings.TrimSpace(inner)) {
		return "", 0, false // cmd="$1": the text is elsewhere
	}
	if !slices.Contains(x.wordAll(v), d.value) {
		return "", 0, false // the variables it reads changed since
	}
	return w.region(from+1, from+len(v)-1), v[0], true
}

// region is the walked source with everything outside a..b blanked
// (line breaks kept), so a parse of it has the script's offsets.
func (w *shWalker) region(a, b int) string {
	var sb strings.Builder
	sb.Grow(b)
	for i := 0; i < a; i++ {
		if w.src[i] == '\n' {
			sb.WriteByte('\n')
		} else {
			sb.WriteByte(' ')
		}
	}
	sb.WriteString(w.src[a:b])
	return sb.String()
}

// valueSources parses values known only as values, reported at word.
func (w *shWalker) valueSources(word *syntax.Word, vals []string) []strSource {
	var out []strSource
	t := w.tok(word)
	t.synthetic = true
	for _, v := range vals {
		if strings.TrimSpace(v) == "" || strings.HasPrefix(strings.TrimSpace(v), unknownStr) {
			continue // nothing known of the command
		}
		if len(out) >= maxReparseValues {
			break
		}
		out = append(out, strSource{src: v, anchor: &t})
	}
	return out
}
