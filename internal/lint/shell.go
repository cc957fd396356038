package lint

import (
	"maps"
	"regexp"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A small lexer for the POSIX-shell subset that matters in run: steps:
// words with quotes, ${{ }} expressions, $( ), ${ }, line continuations,
// comments, operators, redirections and here-documents. It never fails:
// unterminated constructs run to the end of the script.

type tokKind int

const (
	tWord tokKind = iota
	tSep
	tRedir
)

type shTok struct {
	kind       tokKind
	text       string // word as written, separator or redirection operator
	start, end int
	target     *shTok // redirection target
	// synthetic: the word is not written at start..end (a word of a
	// command line built at run time, placed where that line is run), so
	// no edit may be made there.
	synthetic bool
	// via: the command holding the word was run through eval, sh -c or a
	// variable ("run by `eval` on line 12"), said in its findings.
	via string
}

type heredoc struct {
	delim string
	strip bool
}

func lexShell(s string) []shTok {
	var toks []shTok
	var docs []heredoc
	n := len(s)
	i := 0
	for i < n {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\\' && i+1 < n && s[i+1] == '\n':
			i += 2
		case c == '\\' && i+2 < n && s[i+1] == '\r' && s[i+2] == '\n':
			i += 3
		case c == '#':
			for i < n && s[i] != '\n' {
				i++
			}
		case c == '\n':
			toks = append(toks, shTok{kind: tSep, text: "\n", start: i, end: i + 1})
			i++
			if len(docs) > 0 {
				i = skipHeredocs(s, i, docs)
				docs = nil
			}
		case c == '<' || c == '>' || c == '&' && i+1 < n && s[i+1] == '>':
			op := longest(s[i:], "&>>", "&>", "<<<", "<<-", "<<", "<&", "<>", "<", ">>", ">&", ">|", ">")
			t := shTok{kind: tRedir, text: op, start: i, end: i + len(op)}
			i += len(op)
			for i < n && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < n && !isOpChar(s[i]) && s[i] != '\n' {
				ws := i
				i = readWord(s, i)
				t.target = &shTok{kind: tWord, text: s[ws:i], start: ws, end: i}
				if op == "<<" || op == "<<-" {
					docs = append(docs, heredoc{delim: unquoteSimple(t.target.text), strip: op == "<<-"})
				}
			}
			toks = append(toks, t)
		case isOpChar(c):
			op := longest(s[i:], ";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")")
			toks = append(toks, shTok{kind: tSep, text: op, start: i, end: i + len(op)})
			i += len(op)
		default:
			ws := i
			i = readWord(s, i)
			if i == ws {
				i++ // never stall on an unexpected byte
				continue
			}
			w := s[ws:i]
			if i < n && (s[i] == '<' || s[i] == '>') && allDigits(w) {
				continue // file descriptor of the redirection that follows
			}
			toks = append(toks, shTok{kind: tWord, text: w, start: ws, end: i})
		}
	}
	return toks
}

func isOpChar(c byte) bool {
	return c == ';' || c == '&' || c == '|' || c == '(' || c == ')'
}

func longest(s string, ops ...string) string {
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return s[:1]
}

func allDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

func unquoteSimple(w string) string {
	return strings.NewReplacer(`"`, "", `'`, "", `\`, "").Replace(w)
}

func skipHeredocs(s string, i int, docs []heredoc) int {
	for _, d := range docs {
		for i < len(s) {
			j := strings.IndexByte(s[i:], '\n')
			line := s[i:]
			next := len(s)
			if j >= 0 {
				line, next = s[i:i+j], i+j+1
			}
			i = next
			cmp := strings.TrimSuffix(line, "\r")
			if d.strip {
				cmp = strings.TrimLeft(cmp, "\t")
			}
			if cmp == d.delim {
				break
			}
		}
	}
	return i
}

// readWord returns the end of the word starting at i.
func readWord(s string, i int) int {
	n := len(s)
	for i < n {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', ';', '&', '|', '(', ')', '<', '>':
			return i
		case '\\':
			i += 2
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return n
			}
			i += j + 2
		case '"':
			i = skipDouble(s, i+1)
		case '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return n
			}
			i += j + 2
		case '$':
			i = skipDollar(s, i)
		default:
			i++
		}
	}
	return min(i, n)
}

func skipDollar(s string, i int) int {
	n := len(s)
	switch {
	case strings.HasPrefix(s[i:], "${{"):
		j := strings.Index(s[i+3:], "}}")
		if j < 0 {
			return n
		}
		return i + 3 + j + 2
	case i+1 < n && s[i+1] == '(':
		return skipGroup(s, i+1, '(', ')')
	case i+1 < n && s[i+1] == '{':
		return skipGroup(s, i+1, '{', '}')
	}
	return i + 1
}

// skipDouble returns the index after the closing double quote.
func skipDouble(s string, i int) int {
	n := len(s)
	for i < n {
		switch s[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		case '$':
			i = skipDollar(s, i)
		case '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return n
			}
			i += j + 2
		default:
			i++
		}
	}
	return n
}

// skipGroup skips a balanced ( ) or { } group starting at s[i] == open.
func skipGroup(s string, i int, open, close byte) int {
	n := len(s)
	depth := 0
	for i < n {
		switch c := s[i]; {
		case c == '\\':
			i += 2
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return n
			}
			i += j + 2
			continue
		case c == '"':
			i = skipDouble(s, i+1)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return n
}

// shCmd is a simple command: words between separators.
type shCmd struct {
	words  []shTok
	redirs []shTok
	// before and after are the separators around the command ("" at the
	// start or end of the script).
	before, after shTok
	// env: NAME=value words before the command, its environment (a
	// script, make, task or just it runs reads them).
	env map[string]varDef
}

func commands(toks []shTok) []shCmd {
	var out []shCmd
	var cur shCmd
	flush := func(sep shTok) {
		cur.after = sep
		if len(cur.words) > 0 || len(cur.redirs) > 0 {
			out = append(out, cur)
		}
		cur = shCmd{before: sep}
	}
	for _, t := range toks {
		switch t.kind {
		case tSep:
			flush(t)
		case tRedir:
			cur.redirs = append(cur.redirs, t)
		default:
			cur.words = append(cur.words, t)
		}
	}
	flush(shTok{})
	return out
}

// shExpander expands a word the way the shell would, as far as it can be
// known: quotes removed, variables substituted, everything else unknown.
type shExpander struct {
	ctx  *evalCtx
	vars map[string]varDef
	// funcs are the shell functions defined so far, run at each call.
	funcs map[string]*syntax.Stmt
}

func (x *shExpander) clone() *shExpander {
	return &shExpander{ctx: x.ctx, vars: maps.Clone(x.vars), funcs: maps.Clone(x.funcs)}
}

// outer is a variable's value when the script has not assigned it.
func (x *shExpander) outer(name string) varDef {
	if v, ok := x.ctx.lookupEnv(name); ok {
		return v
	}
	if d, ok := x.refDef(name); ok {
		return d
	}
	if v, ok := ghDefaults[name]; ok {
		return varDef{value: v}
	}
	return varDef{value: unknownStr}
}

// join merges the variables another path through the script left (an
// if's other branch, a loop not entered) into x.
func (x *shExpander) join(o *shExpander) {
	for k, v := range x.vars {
		ov, ok := o.vars[k]
		if !ok {
			ov = x.outer(k)
		}
		x.vars[k] = joinDefs(v, ov)
	}
	for k, ov := range o.vars {
		if _, ok := x.vars[k]; !ok {
			x.vars[k] = joinDefs(x.outer(k), ov)
		}
	}
	for k, f := range o.funcs {
		if _, ok := x.funcs[k]; !ok {
			x.funcs[k] = f
		}
	}
}

// ghDefaults are GitHub's default environment variables that hold no tag.
var ghDefaults = map[string]string{
	"GITHUB_REPOSITORY": safeStr, "GITHUB_REPOSITORY_OWNER": safeStr, "GITHUB_ACTOR": safeStr,
	"GITHUB_TRIGGERING_ACTOR": safeStr, "GITHUB_SHA": shaStr,
}

func (x *shExpander) lookup(name string) string {
	if v, ok := x.vars[name]; ok {
		return x.ctx.ch.pick(v).value
	}
	if v, ok := x.ctx.lookupEnv(name); ok {
		return x.ctx.ch.pick(v).value
	}
	if d, ok := x.refDef(name); ok {
		return x.ctx.ch.pick(d).value
	}
	if v, ok := ghDefaults[name]; ok {
		return v
	}
	return unknownStr
}

// refDef: GitHub's default variables naming the run's branch.
func (x *shExpander) refDef(name string) (varDef, bool) {
	switch name {
	case "GITHUB_REF_NAME":
		return refNameDef, true
	case "GITHUB_HEAD_REF":
		if x.ctx.prRuns {
			return varDef{value: branchStr}, true
		}
	}
	return varDef{}, false
}

// wordAll expands raw under every combination of the alternative values
// of the variables it names.
func (x *shExpander) wordAll(raw string) []string {
	return x.ctx.enumerate(func() string { return x.word(raw) })
}

func (x *shExpander) word(raw string) string {
	var b strings.Builder
	n := len(raw)
	for i := 0; i < n; {
		c := raw[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(raw[i+1:], '\'')
			if j < 0 {
				b.WriteString(raw[i+1:])
				return b.String()
			}
			b.WriteString(raw[i+1 : i+1+j])
			i += j + 2
		case c == '"':
			i = x.double(raw, i+1, &b)
		case c == '\\':
			if i+1 < n && raw[i+1] != '\n' {
				b.WriteByte(raw[i+1])
			}
			i += 2
		case c == '$':
			i = x.dollar(raw, i, &b)
		case c == '`':
			j := strings.IndexByte(raw[i+1:], '`')
			b.WriteString(unknownStr)
			if j < 0 {
				return b.String()
			}
			i += j + 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func (x *shExpander) double(raw string, i int, b *strings.Builder) int {
	n := len(raw)
	for i < n {
		c := raw[i]
		switch {
		case c == '"':
			return i + 1
		case c == '\\' && i+1 < n:
			if strings.IndexByte("$`\"\\\n", raw[i+1]) >= 0 {
				if raw[i+1] != '\n' {
					b.WriteByte(raw[i+1])
				}
			} else {
				b.WriteByte('\\')
				b.WriteByte(raw[i+1])
			}
			i += 2
		case c == '$':
			i = x.dollar(raw, i, b)
		case c == '`':
			j := strings.IndexByte(raw[i+1:], '`')
			b.WriteString(unknownStr)
			if j < 0 {
				return n
			}
			i += j + 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return n
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

func (x *shExpander) dollar(raw string, i int, b *strings.Builder) int {
	n := len(raw)
	switch {
	case strings.HasPrefix(raw[i:], "${{"):
		j := strings.Index(raw[i+3:], "}}")
		if j < 0 {
			b.WriteString(unknownStr)
			return n
		}
		if _, tagRef := x.vars[tagRefMarker]; tagRef && strings.TrimSpace(raw[i+3:i+3+j]) == "github.ref_name" {
			b.WriteString(unknownStr)
		} else if v, ok := x.ctx.expr(raw[i+3 : i+3+j]); ok {
			b.WriteString(x.ctx.ch.pick(v).value)
		} else {
			b.WriteString(unknownStr)
		}
		return i + 3 + j + 2
	case i+1 < n && raw[i+1] == '(':
		end := skipGroup(raw, i+1, '(', ')')
		b.WriteString(x.echoSubst(raw[i+2 : max(i+2, end-1)]))
		return end
	case i+1 < n && raw[i+1] == '\'':
		// $'...': ANSI-C quoting; \n and \t are what matter for lists.
		j := i + 2
		for j < n && raw[j] != '\'' {
			if raw[j] == '\\' && j+1 < n {
				switch raw[j+1] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(raw[j+1])
				}
				j += 2
				continue
			}
			b.WriteByte(raw[j])
			j++
		}
		return min(j+1, n)
	case i+1 < n && raw[i+1] == '{':
		end := skipGroup(raw, i+1, '{', '}')
		inner := raw[i+2 : max(i+2, end-1)]
		b.WriteString(x.param(inner))
		return end
	case i+1 < n:
		if m := nameRE.FindString(raw[i+1:]); m != "" {
			b.WriteString(x.lookup(m))
			return i + 1 + len(m)
		}
		if c := raw[i+1]; c >= '1' && c <= '9' {
			if v, ok := x.vars[raw[i+1:i+2]]; ok {
				b.WriteString(x.ctx.ch.pick(v).value)
				return i + 2
			}
		}
		if strings.IndexByte("0123456789@*#?$!-", raw[i+1]) >= 0 {
			b.WriteString(unknownStr)
			return i + 2
		}
	}
	b.WriteByte('$')
	return i + 1
}

// param expands ${...}: plain, default values and case conversion.
func (x *shExpander) param(inner string) string {
	name := nameRE.FindString(inner)
	if name == "" {
		if len(inner) == 1 && inner[0] >= '1' && inner[0] <= '9' {
			if v, ok := x.vars[inner]; ok {
				return x.ctx.ch.pick(v).value
			}
		}
		return unknownStr
	}
	rest := inner[len(name):]
	if rest == "[@]" || rest == "[*]" || rest == "[0]" {
		// An array element (or all of them, as alternatives: a word that
		// is exactly "${a[@]}" is split into words by the caller).
		if v, ok := x.vars[name]; ok && len(v.arr) > 0 {
			if rest == "[0]" {
				return v.arr[0].value
			}
			return x.ctx.ch.pick(varDef{value: v.arr[0].value, site: v.arr[0].site, alts: v.arr[1:]}).value
		}
		return unknownStr
	}
	if _, tagRef := x.vars[tagRefMarker]; name == "GITHUB_REF" && !tagRef {
		// ${GITHUB_REF#refs/heads/}, ${GITHUB_REF##*/}, ${GITHUB_REF#refs/*/}:
		// the ref's short name.
		switch rest {
		case "#refs/heads/", "##*/", "#refs/*/", "##refs/heads/":
			return x.ctx.ch.pick(refNameDef).value
		}
	}
	v := x.lookup(name)
	switch {
	case rest == "":
		return v
	case rest == ",," || rest == ",":
		return strings.ToLower(v)
	case rest == "^^" || rest == "^":
		return strings.ToUpper(v)
	case strings.HasPrefix(rest, ":-") || strings.HasPrefix(rest, "-"):
		if v != unknownStr {
			return v
		}
		def := strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "-")
		return x.word(def)
	case substrRE.MatchString(rest):
		// ${name:offset} and ${name:offset:length} with literal numbers
		// (${TAGS:1} drops the leading comma of a built list).
		m := substrRE.FindStringSubmatch(rest)
		r := []rune(v)
		off, _ := strconv.Atoi(m[1])
		if off > len(r) {
			return ""
		}
		r = r[off:]
		if m[2] != "" {
			if n, _ := strconv.Atoi(m[2]); n < len(r) {
				r = r[:n]
			}
		}
		return string(r)
	case strings.HasPrefix(rest, "/") && !strings.HasPrefix(rest, "/#") && !strings.HasPrefix(rest, "/%"):
		// ${name/pattern/replacement} (// for every match) with a
		// literal pattern: ${CI_COMMIT_REF_NAME/master/latest} names
		// latest whenever the branch is master. An unknown value may be
		// exactly the pattern, so the replacement is one of its values.
		all := strings.HasPrefix(rest, "//")
		body := strings.TrimPrefix(strings.TrimPrefix(rest, "/"), "/")
		pat, rep, _ := strings.Cut(body, "/")
		if pat == "" || strings.ContainsAny(pat, "*?[\\$") {
			return unknownStr
		}
		repl := x.word(rep)
		switch {
		case v == unknownStr:
			return x.ctx.ch.pick(varDef{value: unknownStr, alts: []varDef{{value: repl}}}).value
		case strings.ContainsRune(v, unknownRune):
			return unknownStr
		case all:
			return strings.ReplaceAll(v, pat, repl)
		default:
			return strings.Replace(v, pat, repl, 1)
		}
	}
	return unknownStr
}

var substrRE = regexp.MustCompile(`^:([0-9]+)(?::([0-9]+))?$`)

// echoSubst is the output of a command substitution that only tests and
// echoes ($([ "$REF" = main ] && echo latest || echo "$SHA"), or an
// if/else of echoes): one of the echoed words. Anything else is unknown.
func (x *shExpander) echoSubst(inner string) string {
	if branchSubst(x, inner) {
		return branchStr
	}
	if strings.ContainsAny(inner, "`<>") || strings.Contains(inner, "$(") {
		return unknownStr
	}
	segs := strings.FieldsFunc(strings.ReplaceAll(strings.ReplaceAll(inner, "&&", ";"), "||", ";"), func(r rune) bool {
		return r == ';' || r == '\n' || r == '|'
	})
	var outs []varDef
	for _, seg := range segs {
		seg = strings.TrimSpace(seg)
		for _, kw := range []string{"then ", "else ", "do "} {
			seg = strings.TrimSpace(strings.TrimPrefix(seg, kw))
		}
		word, arg, _ := strings.Cut(seg, " ")
		switch word {
		case "echo":
			arg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(arg), "-n "))
			if arg == "" || strings.ContainsAny(arg, " \t") && !strings.HasPrefix(arg, `"`) && !strings.HasPrefix(arg, "'") {
				return unknownStr
			}
			outs = append(outs, varDef{value: x.word(arg)})
		case "[", "[[", "test", "if", "then", "else", "fi", "true", "false", "":
		default:
			return unknownStr
		}
	}
	if len(outs) == 0 {
		return unknownStr
	}
	return x.ctx.ch.pick(varDef{value: outs[0].value, alts: outs[1:]}).value
}

// branchCmdRE: commands that print the checked-out branch.
var branchCmdRE = regexp.MustCompile(`^\s*git\s+(?:rev-parse\s+--abbrev-ref\s+HEAD|branch\s+--show-current|symbolic-ref\s+--short\s+HEAD)\s*$`)

// textFilters only reshape their input (a branch name made tag-safe by
// tr '/' '-' or sed 's|/|-|g' is still the branch name).
var textFilters = map[string]bool{"tr": true, "sed": true, "cut": true, "awk": true, "head": true, "tail": true, "xargs": true}

// branchSubst: $(git rev-parse --abbrev-ref HEAD), $(basename $GITHUB_REF),
// or the branch name echoed through text filters
// ($(echo ${GITHUB_REF#refs/heads/} | tr / -)) prints the run's branch.
func branchSubst(x *shExpander, inner string) bool {
	segs := strings.Split(inner, "|")
	for _, sg := range segs {
		if strings.TrimSpace(sg) == "" {
			return false // ||
		}
	}
	first := strings.TrimSpace(segs[0])
	w, arg, _ := strings.Cut(first, " ")
	arg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(arg), "-n "))
	_, tagRef := x.vars[tagRefMarker]
	switch {
	case branchCmdRE.MatchString(first):
	case w == "echo" && x.word(arg) == branchStr:
	case w == "basename" && strings.Trim(arg, `"{}$`) == "GITHUB_REF" && !tagRef:
	default:
		return false
	}
	for _, sg := range segs[1:] {
		w, _, _ := strings.Cut(strings.TrimSpace(sg), " ")
		if !textFilters[w] {
			return false
		}
	}
	return true
}
