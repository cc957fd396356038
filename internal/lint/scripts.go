package lint

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Pushes written in the repository's own scripts and Makefiles: a step
// that runs ./scripts/release.sh or `make push TAG=latest` pushes what
// the script pushes. The file is linted with the step's environment (and
// the call's arguments and make variables), and its findings are
// reported where the push is written, naming the step that runs it.

// localScriptPath resolves a path a step names to a file in the
// repository, or "" when it is not one (absolute, unknown, outside).
func (j *jobState) localScriptPath(x *shExpander, raw string) string {
	p := x.word(raw)
	if p == "" || strings.ContainsAny(p, unknownStr+safeStr+shaStr+branchStr) || filepath.IsAbs(p) {
		return ""
	}
	p = filepath.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return ""
	}
	return filepath.Join(j.l.root, p)
}

// callerNote names the step that runs a script, for the script's findings.
func (j *jobState) callerNote(scr *script, w shTok) string {
	return fmt.Sprintf(" (run by %s:%d)", filepath.Base(j.l.src.file), scr.span(w).line)
}

// runLocalScript lints a shell script the step runs (bash x.sh, ./x.sh):
// its positional parameters are the call's arguments.
func (j *jobState) runLocalScript(st *step, scr *script, x *shExpander, c shCmd, path string, args []shTok) bool {
	if j.l.root == "" || j.l.depth >= 3 {
		return false
	}
	src, err := readLocal(path)
	if err != nil || oddLineBreak(path, src) != nil || !looksLikeShell(path, src) {
		return false
	}
	sub := newLinter(path, src, j.l.cfg)
	sub.depth = j.l.depth + 1
	sub.root = j.l.root
	sub.src.gitlab = j.l.src.gitlab
	vars := map[string]varDef{}
	for i, a := range args {
		if i >= 9 {
			break
		}
		vars[fmt.Sprint(i+1)] = wordDef(x, a.text)
	}
	ctx := scriptCtx(st.ctx, x, c.env)
	sj := &jobState{l: sub, jc: ctx}
	sst := &step{kind: st.kind, node: st.node, ctx: ctx}
	sj.runScript(sst, fileScalar(string(src)), &shExpander{ctx: ctx, vars: vars})
	sj.finish()
	j.adoptFindings(sub, j.callerNote(scr, c.words[0]))
	return true
}

// adoptFindings moves a script's findings into the caller's extra
// findings, each message naming the step that runs the script.
func (j *jobState) adoptFindings(sub *linter, note string) {
	sub.applySuppressions()
	for _, f := range sub.findings {
		f.Message += note
		j.l.extra = append(j.l.extra, f)
	}
	j.l.extra = append(j.l.extra, sub.extra...)
}

// fileScalar makes a whole file a script value whose lines map one to
// one onto the file's lines.
func fileScalar(text string) *scalar {
	sc := &scalar{value: text}
	for i, ln := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		sc.lines = append(sc.lines, valueLine{text: ln, line: i + 1, off: 0, exact: true})
	}
	return sc
}

func looksLikeShell(path string, src []byte) bool {
	b := filepath.Base(path)
	if strings.HasSuffix(b, ".sh") || strings.HasSuffix(b, ".bash") {
		return true
	}
	first, _, _ := strings.Cut(string(src), "\n")
	return strings.HasPrefix(first, "#!") && (strings.Contains(first, "sh") || strings.Contains(first, "bash"))
}

// makefile is what the linter reads of a Makefile: variables and the
// recipes of explicit targets.
type makefile struct {
	vars     map[string]makeVar
	rules    map[string]*makeRule
	first    string
	lines    []string
	oneShell bool
}

type makeVar struct {
	value       string
	conditional bool // ?=: the environment wins
}

type makeRule struct {
	deps   []string
	recipe []int // 0-based line indexes
}

var (
	makeAssignRE = regexp.MustCompile(`^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(\?=|:=|::=|\+=|=)\s*(.*)$`)
	makeRuleRE   = regexp.MustCompile(`^([^:=#\t][^:=#]*?)\s*::?\s*([^=]*)$`)
)

func parseMakefile(src string) *makefile {
	m := &makefile{vars: map[string]makeVar{}, rules: map[string]*makeRule{}}
	m.lines = strings.Split(src, "\n")
	var cur []*makeRule
	for i := 0; i < len(m.lines); i++ {
		ln := m.lines[i]
		if strings.HasPrefix(ln, "\t") {
			for _, r := range cur {
				r.recipe = append(r.recipe, i)
			}
			continue
		}
		t := strings.TrimSpace(ln)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == ".ONESHELL:" {
			m.oneShell = true
			continue
		}
		if a := makeAssignRE.FindStringSubmatch(t); a != nil && !strings.Contains(a[1], ":") {
			cur = nil
			val := strings.TrimSpace(stripMakeComment(a[3]))
			switch a[2] {
			case "+=":
				prev := m.vars[a[1]]
				m.vars[a[1]] = makeVar{value: strings.TrimSpace(prev.value + " " + val), conditional: prev.conditional}
			case "?=":
				if _, ok := m.vars[a[1]]; !ok {
					m.vars[a[1]] = makeVar{value: val, conditional: true}
				}
			default:
				m.vars[a[1]] = makeVar{value: val}
			}
			continue
		}
		if r := makeRuleRE.FindStringSubmatch(t); r != nil {
			cur = nil
			deps := strings.Fields(stripMakeComment(r[2]))
			for _, name := range strings.Fields(r[1]) {
				if strings.HasPrefix(name, ".") || strings.Contains(name, "%") {
					continue
				}
				rule := &makeRule{deps: deps}
				m.rules[name] = rule
				cur = append(cur, rule)
				if m.first == "" {
					m.first = name
				}
			}
			continue
		}
		cur = nil
	}
	return m
}

func stripMakeComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

// runMake follows `make [-C dir] [-f file] [targets] [VAR=value]`.
func (j *jobState) runMake(st *step, scr *script, x *shExpander, c shCmd, words []shTok) bool {
	if j.l.root == "" || j.l.depth >= 3 {
		return false
	}
	dir, file := ".", "Makefile"
	cmdVars := map[string]varDef{}
	var targets []string
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case (w == "-C" || w == "--directory") && k+1 < len(words):
			dir = x.word(words[k+1].text)
			k++
		case (w == "-f" || w == "--file" || w == "--makefile") && k+1 < len(words):
			file = x.word(words[k+1].text)
			k++
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "=") && strings.Contains(words[k].text, "="):
			eq := strings.IndexByte(words[k].text, '=')
			cmdVars[words[k].text[:eq]] = wordDef(x, words[k].text[eq+1:])
		default:
			targets = append(targets, w)
		}
	}
	path := j.localScriptPath(x, "'"+filepath.Join(dir, file)+"'")
	if path == "" {
		return false
	}
	src, err := readLocal(path)
	if err != nil {
		if file != "Makefile" {
			return false
		}
		path = filepath.Join(filepath.Dir(path), "makefile")
		if src, err = readLocal(path); err != nil {
			return false
		}
	}
	if oddLineBreak(path, src) != nil {
		return false
	}
	m := parseMakefile(string(src))
	if len(targets) == 0 && m.first != "" {
		targets = []string{m.first}
	}
	sub := newLinter(path, src, j.l.cfg)
	sub.depth = j.l.depth + 1
	sub.root = j.l.root
	sub.src.gitlab = j.l.src.gitlab
	ctx := scriptCtx(st.ctx, x, c.env)
	for k, v := range cmdVars {
		ctx.env[0][k] = v
	}
	sj := &jobState{l: sub, jc: ctx}
	sst := &step{kind: st.kind, node: st.node, ctx: ctx}
	// A variable from the command line or the environment stays a shell
	// reference, so the recipe's shell sees every value it may take; the
	// Makefile's own variables are substituted as make does.
	lookup := func(name string) (string, bool) {
		_, fromCmd := cmdVars[name]
		mv, inFile := m.vars[name]
		_, inEnv := ctx.lookupEnv(name)
		switch {
		case fromCmd || !inFile && inEnv || inFile && mv.conditional && inEnv:
			if identRE.MatchString(name) && !strings.Contains(name, "-") {
				return "${" + name + "}", true
			}
			return "", false
		case inFile:
			return mv.value, true
		}
		return "", false
	}
	done := map[string]bool{}
	var run func(t string, depth int)
	run = func(t string, depth int) {
		r := m.rules[t]
		if r == nil || done[t] || depth > 8 {
			return
		}
		done[t] = true
		for _, d := range r.deps {
			run(expandMake(d, lookup, t, 0), depth+1)
		}
		var shell *shExpander
		var sc *scalar
		for n, i := range r.recipe {
			text := strings.TrimPrefix(m.lines[i], "\t")
			if sc == nil {
				text = strings.TrimLeft(text, "@-+")
			}
			val := expandMake(text, lookup, t, 0)
			// Only a line make leaves as written maps back for fixes.
			vl := valueLine{text: val, line: i + 1, off: len(m.lines[i]) - len(text), exact: val == text}
			if sc == nil {
				sc = &scalar{value: val, lines: []valueLine{vl}}
			} else {
				sc.value += "\n" + val
				sc.lines = append(sc.lines, vl)
			}
			if strings.HasSuffix(text, "\\") && n+1 < len(r.recipe) && r.recipe[n+1] == i+1 {
				continue // a continued line: one command with the next
			}
			if shell == nil || !m.oneShell {
				// Each recipe line runs in a shell of its own.
				shell = &shExpander{ctx: ctx, vars: map[string]varDef{}}
			}
			sj.runScript(sst, sc, shell)
			sc = nil
		}
	}
	for _, t := range targets {
		run(t, 0)
	}
	sj.finish()
	j.adoptFindings(sub, fmt.Sprintf(" (make %s, run by %s:%d)", strings.Join(targets, " "), filepath.Base(j.l.src.file), scr.span(c.words[0]).line))
	return true
}

// expandMake substitutes $(VAR) and ${VAR} (recursively, as make expands
// recursive variables on use), $@ with the target, $$ with $; functions
// and anything else become unknown.
func expandMake(s string, lookup func(string) (string, bool), target string, depth int) string {
	if depth > 8 {
		return unknownStr
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; c {
		case '$':
			b.WriteByte('$')
			i++
		case '@':
			b.WriteString(target)
			i++
		case '(', '{':
			closer := byte(')')
			if c == '{' {
				closer = '}'
			}
			end, nest := -1, 0
			for k := i + 2; k < len(s); k++ {
				if s[k] == c {
					nest++
				} else if s[k] == closer {
					if nest == 0 {
						end = k
						break
					}
					nest--
				}
			}
			if end < 0 {
				b.WriteString(unknownStr)
				return b.String()
			}
			name := s[i+2 : end]
			if strings.HasPrefix(name, "if ") {
				// $(if COND,THEN[,ELSE]): COND set (or maybe set, as a
				// command-line variable is) gives THEN.
				args := splitMakeArgs(name[3:])
				cond := strings.TrimSpace(expandMake(args[0], lookup, target, depth+1))
				switch {
				case cond != "" && len(args) > 1:
					b.WriteString(expandMake(args[1], lookup, target, depth+1))
				case cond == "" && len(args) > 2:
					b.WriteString(expandMake(args[2], lookup, target, depth+1))
				}
				i = end
				continue
			}
			if v, ok := lookup(name); ok && identRE.MatchString(name) {
				if strings.HasPrefix(v, "${") && v == "${"+name+"}" {
					b.WriteString(v)
				} else {
					b.WriteString(expandMake(v, lookup, target, depth+1))
				}
			} else {
				b.WriteString(unknownStr)
			}
			i = end
		default:
			b.WriteString(unknownStr)
			i++
		}
	}
	return b.String()
}

// wordDef is every value a word of the calling script may take, without
// the places it was written (they are in another file).
func wordDef(x *shExpander, raw string) varDef {
	vals := x.wordAll(raw)
	d := varDef{value: vals[0]}
	for _, v := range vals[1:] {
		d.alts = append(d.alts, varDef{value: v})
	}
	return d
}

// scriptCtx is the environment a called script or make sees: the step's
// variables and the calling script's, with their values but not the
// places they were written, so no fix of the script edits the caller.
func scriptCtx(c *evalCtx, x *shExpander, cmdEnv ...map[string]varDef) *evalCtx {
	env := map[string]varDef{}
	for _, m := range c.env {
		for k, v := range m {
			env[k] = stripSites(v)
		}
	}
	for k, v := range c.ghEnv {
		env[k] = stripSites(v)
	}
	for k, v := range x.vars {
		if identRE.MatchString(k) && !strings.HasPrefix(k, "__immutag") {
			env[k] = stripSites(v)
		}
	}
	for _, m := range cmdEnv {
		for k, v := range m {
			env[k] = stripSites(v)
		}
	}
	return &evalCtx{env: []map[string]varDef{env}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{},
		noBranch: c.noBranch, prRuns: c.prRuns}
}

func stripSites(d varDef) varDef {
	out := varDef{value: d.value}
	for _, a := range d.alts {
		out.alts = append(out.alts, stripSites(a))
	}
	for _, a := range d.arr {
		out.arr = append(out.arr, stripSites(a))
	}
	return out
}

// splitMakeArgs splits a make function's arguments on the commas outside
// nested $( ) and ${ }.
func splitMakeArgs(s string) []string {
	var out []string
	nest, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '{':
			nest++
		case ')', '}':
			nest--
		case ',':
			if nest == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
