package lint

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Task runners a step calls (`task docker:push`, `just push`) run the
// recipes of a Taskfile or justfile beside the workflow: they are
// followed like Makefile targets, with the step's environment, the
// call's variables and the file's own variables.

// taskfileNames are the names go-task looks for, in its order.
var taskfileNames = []string{"Taskfile.yml", "taskfile.yml", "Taskfile.yaml", "taskfile.yaml", "Taskfile.dist.yml", "taskfile.dist.yml", "Taskfile.dist.yaml", "taskfile.dist.yaml"}

// taskTemplateRE: {{.NAME}}, optionally {{.NAME | default "x"}}.
var taskTemplateRE = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\s+"([^"]*)"\s*)?-?\}\}`)

// runTask follows `task [-d dir] [-t file] [tasks...] [VAR=value]`.
func (j *jobState) runTask(st *step, scr *script, x *shExpander, c shCmd, words []shTok) bool {
	if j.l.root == "" || j.l.depth >= 3 {
		return false
	}
	dir, file := ".", ""
	cmdVars := map[string]varDef{}
	var names []string
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case (w == "-d" || w == "--dir") && k+1 < len(words):
			dir = x.word(words[k+1].text)
			k++
		case (w == "-t" || w == "--taskfile") && k+1 < len(words):
			file = x.word(words[k+1].text)
			k++
		case w == "--":
			k = len(words) // CLI_ARGS
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "=") && strings.Contains(words[k].text, "="):
			eq := strings.IndexByte(words[k].text, '=')
			cmdVars[words[k].text[:eq]] = wordDef(x, words[k].text[eq+1:])
		default:
			names = append(names, w)
		}
	}
	names0 := taskfileNames
	if file != "" {
		names0 = []string{file}
	}
	cands := make([]string, len(names0))
	for i, f := range names0 {
		cands[i] = filepath.Join(dir, f)
	}
	path, src := j.firstLocalFile(x, cands)
	if path == "" {
		return false
	}
	// Tasks run in their Taskfile's directory (task -d DIR moves it).
	rootTF := j.loadTaskfile(path, src, filepath.Dir(path), nil, nil)
	if rootTF == nil {
		return false
	}
	if len(names) == 0 {
		names = []string{"default"}
	}
	ctx := scriptCtx(st.ctx, x, c.env)
	for k, v := range cmdVars {
		ctx.env[0][k] = v
	}
	var files []*taskfile // every file a task ran from, for its findings
	opened := map[*taskfile]bool{}
	done := map[string]bool{}
	var run func(tf *taskfile, name string, callVars map[string]string, depth int)
	run = func(tf *taskfile, name string, callVars map[string]string, depth int) {
		if depth > 8 {
			return
		}
		tf, t := tf.find(j, name)
		if t == nil || done[tf.path+"\x00"+name] && len(callVars) == 0 {
			return
		}
		done[tf.path+"\x00"+name] = true
		if !opened[tf] {
			opened[tf] = true
			files = append(files, tf)
			tf.sj = &jobState{l: tf.lin, jc: ctx}
		}
		sub := tf.lin
		var cmds *yaml.Node
		taskRoot := sub.root
		own := map[string]string{}
		taskEnv := map[string]string{}
		for f := tf; f != nil; f = f.parent {
			for k, v := range f.env {
				if _, ok := taskEnv[k]; !ok {
					taskEnv[k] = v
				}
			}
		}
		if t.Kind == yaml.SequenceNode {
			cmds = t // tasks: {name: [cmd, ...]}
		} else if t.Kind == yaml.ScalarNode {
			cmds = t
		} else {
			_, cmds = sub.src.get(t, "cmds")
			if _, c := sub.src.get(t, "cmd"); c != nil && cmds == nil {
				cmds = c
			}
			_, tv := sub.src.get(t, "vars")
			own = taskVars(sub, tv)
			// dir: moves the task's commands (relative to where its
			// Taskfile's tasks run).
			_, td := sub.src.get(t, "dir")
			if d, ok := sub.src.str(td); ok && d != "" && !strings.Contains(d, "{{") && !filepath.IsAbs(d) {
				if nd, err := filepath.Rel(j.l.root, filepath.Join(sub.root, d)); err == nil && nd != ".." && !strings.HasPrefix(nd, "../") {
					taskRoot = filepath.Join(j.l.root, nd)
				}
			}
			_, te := sub.src.get(t, "env")
			for k, v := range taskVars(sub, te) {
				taskEnv[k] = v
			}
		}
		// lookup follows go-task's order: the task's vars, the caller's,
		// the Taskfile's, the include's vars: entry, the including
		// Taskfile's, then the environment (kept a shell reference so the
		// shell sees every value it may take).
		scopes := []map[string]string{own, callVars}
		for f := tf; f != nil; f = f.parent {
			scopes = append(scopes, f.global, f.incVars)
		}
		var expand func(s string, depth int) string
		// from: the first scope a name is looked up in; a variable whose
		// value reads itself (TAG: '{{.TAG | default "latest"}}') reads
		// the next scope.
		from := map[string]int{}
		lookup := func(n string, def *string, depth int) string {
			for i, m := range scopes {
				if i < from[n] {
					continue
				}
				if v, ok := m[n]; ok {
					saved := from[n]
					from[n] = i + 1
					out := expand(v, depth+1)
					from[n] = saved
					return out
				}
			}
			if _, ok := ctx.lookupEnv(n); ok {
				if def != nil {
					return "${" + n + ":-" + *def + "}"
				}
				return "${" + n + "}"
			}
			if def != nil {
				return *def
			}
			return unknownStr
		}
		expand = func(s string, depth int) string {
			if depth > 8 {
				return unknownStr
			}
			out := taskTemplateRE.ReplaceAllStringFunc(s, func(m string) string {
				g := taskTemplateRE.FindStringSubmatch(m)
				var def *string
				if strings.Contains(m, "default") {
					def = &g[2]
				}
				return lookup(g[1], def, depth)
			})
			if strings.Contains(out, "{{") {
				out = justInterpRE.ReplaceAllString(out, unknownStr)
			}
			return out
		}
		envMap := map[string]varDef{}
		for k, v := range taskEnv {
			envMap[k] = varDef{value: expand(v, 0)}
		}
		tctx := ctx.child(envMap)
		tst := &step{kind: st.kind, node: st.node, ctx: tctx}
		if t.Kind == yaml.MappingNode {
			_, deps := sub.src.get(t, "deps")
			for _, d := range sub.src.items(deps) {
				if s, ok := sub.src.str(d); ok {
					run(tf, expand(s, 0), nil, depth+1)
				} else if _, tn := sub.src.get(d, "task"); tn != nil {
					s, _ := sub.src.str(tn)
					_, dv := sub.src.get(d, "vars")
					run(tf, expand(s, 0), expandAll(taskVars(sub, dv), expand), depth+1)
				}
			}
		}
		items := sub.src.items(cmds)
		if cmds != nil && cmds.Kind == yaml.ScalarNode {
			items = []*yaml.Node{cmds}
		}
		for _, it := range items {
			n := it
			if it.Kind == yaml.MappingNode {
				if _, tn := sub.src.get(it, "task"); tn != nil {
					s, _ := sub.src.str(tn)
					_, cv := sub.src.get(it, "vars")
					run(tf, expand(s, 0), expandAll(taskVars(sub, cv), expand), depth+1)
					continue
				}
				_, n = sub.src.get(it, "cmd")
			}
			sc := sub.src.scalarOf(n)
			if sc == nil {
				continue
			}
			// Each command runs in a shell of its own; a line the
			// templates changed does not map back for fixes.
			out := &scalar{node: sc.node}
			for _, vl := range sc.lines {
				val := expand(vl.text, 0)
				vl.exact = vl.exact && val == vl.text
				vl.text = val
				out.lines = append(out.lines, vl)
			}
			out.value = expand(sc.value, 0)
			saved := sub.root
			sub.root = taskRoot
			tf.sj.runScript(tst, out, &shExpander{ctx: tctx, vars: map[string]varDef{}})
			sub.root = saved
		}
	}
	for _, n := range names {
		run(rootTF, n, nil, 0)
	}
	note := fmt.Sprintf(" (task %s, run by %s:%d)", strings.Join(names, " "), filepath.Base(j.l.src.file), scr.span(c.words[0]).line)
	for _, tf := range files {
		tf.sj.finish()
		j.adoptFindings(tf.lin, note)
	}
	return true
}

// taskfile is a Taskfile a task call reads: the root one, or one it
// includes (under a namespace, with the include's vars and dir).
type taskfile struct {
	path   string
	lin    *linter
	tasks  *yaml.Node
	global map[string]string // vars:
	env    map[string]string // env:
	// incVars are the vars: of the includes: entry that reads this file.
	incVars  map[string]string
	parent   *taskfile
	includes []taskInclude
	sj       *jobState
	depth    int
}

type taskInclude struct {
	names   []string // namespace and aliases
	flatten bool
	node    *yaml.Node // the entry's value
	file    *taskfile  // loaded on first use
	loaded  bool
}

// taskVars are the string values of a vars:/env: mapping; sh: and ref:
// values are unknown.
func taskVars(l *linter, n *yaml.Node) map[string]string {
	out := map[string]string{}
	for _, p := range l.src.pairs(n) {
		if s, ok := l.src.str(p.value); ok {
			out[p.key.Value] = s
		} else {
			out[p.key.Value] = unknownStr
		}
	}
	return out
}

// loadTaskfile parses a Taskfile; root is the directory its tasks run
// in. It returns nil when the file has no tasks: and no includes:.
func (j *jobState) loadTaskfile(path string, src []byte, root string, parent *taskfile, incVars map[string]string) *taskfile {
	docs, ferr := parseDocuments(path, src)
	if ferr != nil || len(docs) == 0 {
		return nil
	}
	lin := newLinter(path, src, j.l.cfg)
	lin.depth = j.l.depth + 1
	lin.root = root
	top := lin.src.deref(docs[0])
	if top != nil && top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = lin.src.deref(top.Content[0])
	}
	_, tasks := lin.src.get(top, "tasks")
	_, incs := lin.src.get(top, "includes")
	if tasks == nil && incs == nil {
		return nil
	}
	_, gv := lin.src.get(top, "vars")
	_, ge := lin.src.get(top, "env")
	tf := &taskfile{path: path, lin: lin, tasks: tasks, global: taskVars(lin, gv), env: taskVars(lin, ge),
		incVars: incVars, parent: parent}
	if parent != nil {
		tf.depth = parent.depth + 1
	}
	for _, p := range lin.src.pairs(incs) {
		inc := taskInclude{names: []string{p.key.Value}, node: lin.src.deref(p.value)}
		if inc.node != nil && inc.node.Kind == yaml.MappingNode {
			_, al := lin.src.get(inc.node, "aliases")
			for _, a := range lin.src.items(al) {
				if s, ok := lin.src.str(a); ok {
					inc.names = append(inc.names, s)
				}
			}
			_, fl := lin.src.get(inc.node, "flatten")
			inc.flatten = fl != nil && fl.Value == "true"
		}
		tf.includes = append(tf.includes, inc)
	}
	return tf
}

// find resolves a task name the way go-task does: a task of this file,
// NS:NAME in the file included as NS (or an alias), a task of a
// flattened include, and :NAME from the root Taskfile.
func (tf *taskfile) find(j *jobState, name string) (*taskfile, *yaml.Node) {
	if rest, ok := strings.CutPrefix(name, ":"); ok {
		r := tf
		for r.parent != nil {
			r = r.parent
		}
		return r.find(j, rest)
	}
	if _, t := tf.lin.src.get(tf.tasks, name); t != nil {
		return tf, tf.lin.src.deref(t)
	}
	for i := range tf.includes {
		inc := &tf.includes[i]
		for _, ns := range inc.names {
			rest, ok := strings.CutPrefix(name, ns+":")
			if !ok && !inc.flatten {
				continue
			}
			if !ok {
				rest = name
			}
			if f := tf.include(j, inc); f != nil {
				if g, t := f.find(j, rest); t != nil {
					return g, t
				}
			}
		}
	}
	return tf, nil
}

// include loads the Taskfile an includes: entry names: a file or a
// directory holding one, relative to the including Taskfile, with the
// entry's vars: and dir:. Remote and templated paths are not read.
func (tf *taskfile) include(j *jobState, inc *taskInclude) *taskfile {
	if inc.loaded {
		return inc.file
	}
	inc.loaded = true
	if tf.depth >= 4 || inc.node == nil {
		return nil
	}
	ref, dir := "", ""
	var vars map[string]string
	if s, ok := tf.lin.src.str(inc.node); ok {
		ref = s
	} else if inc.node.Kind == yaml.MappingNode {
		_, f := tf.lin.src.get(inc.node, "taskfile")
		ref, _ = tf.lin.src.str(f)
		_, d := tf.lin.src.get(inc.node, "dir")
		dir, _ = tf.lin.src.str(d)
		_, v := tf.lin.src.get(inc.node, "vars")
		vars = taskVars(tf.lin, v)
	}
	if ref == "" || strings.Contains(ref, "{{") || strings.Contains(ref, "://") || filepath.IsAbs(ref) {
		return nil
	}
	rel, err := filepath.Rel(j.l.root, filepath.Dir(tf.path))
	if err != nil {
		return nil
	}
	base := filepath.Join(rel, ref)
	cands := []string{base}
	if e := strings.ToLower(filepath.Ext(ref)); e != ".yml" && e != ".yaml" {
		cands = nil
		for _, n := range taskfileNames {
			cands = append(cands, filepath.Join(base, n))
		}
	}
	path, src := j.firstLocalFile(&shExpander{vars: map[string]varDef{}}, cands)
	if path == "" {
		return nil
	}
	// An included Taskfile's tasks run where the root's do, unless the
	// entry's dir: moves them (relative to the including Taskfile).
	root := tf.lin.root
	if dir != "" && !strings.Contains(dir, "{{") && !filepath.IsAbs(dir) {
		if d := filepath.Clean(filepath.Join(rel, dir)); d != ".." && !strings.HasPrefix(d, "../") {
			root = filepath.Join(j.l.root, d)
		}
	}
	inc.file = j.loadTaskfile(path, src, root, tf, vars)
	return inc.file
}

func expandAll(m map[string]string, expand func(string, int) string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = expand(v, 0)
	}
	return out
}

// justfile is what the linter reads of a justfile: assignments and
// recipes with their parameters, dependencies and body lines.
type justfile struct {
	vars    map[string]string
	recipes map[string]*justRecipe
	first   string
	lines   []string
}

type justRecipe struct {
	params   []justParam
	deps     [][]string // name, then argument expressions
	body     []int      // 0-based line indexes
	shebang  bool
	variadic bool
}

type justParam struct {
	name string
	def  *string
}

var (
	justAssignRE = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*:=\s*(.*)$`)
	justRecipeRE = regexp.MustCompile(`^@?([A-Za-z_][A-Za-z0-9_-]*)((?:\s+[+*$]?[A-Za-z_][A-Za-z0-9_-]*(?:=(?:"[^"]*"|'[^']*'|[^\s:]+))?)*)\s*:([^=].*|)$`)
	justParamRE  = regexp.MustCompile(`[+*$]?([A-Za-z_][A-Za-z0-9_-]*)(?:=("[^"]*"|'[^']*'|[^\s]+))?`)
	justDepRE    = regexp.MustCompile(`\(([^)]*)\)|([A-Za-z_][A-Za-z0-9_-]*)`)
)

func parseJustfile(src string) *justfile {
	jf := &justfile{vars: map[string]string{}, recipes: map[string]*justRecipe{}}
	jf.lines = strings.Split(src, "\n")
	var cur *justRecipe
	for i, ln := range jf.lines {
		if cur != nil && (strings.HasPrefix(ln, " ") || strings.HasPrefix(ln, "\t")) {
			if strings.TrimSpace(ln) != "" {
				if len(cur.body) == 0 && strings.HasPrefix(strings.TrimSpace(ln), "#!") {
					cur.shebang = true
				}
				cur.body = append(cur.body, i)
			}
			continue
		}
		if strings.TrimSpace(ln) == "" {
			continue
		}
		cur = nil
		t := strings.TrimSpace(ln)
		if strings.HasPrefix(t, "#") || strings.HasPrefix(t, "[") || strings.HasPrefix(t, "set ") || strings.HasPrefix(t, "alias ") || strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "mod ") {
			continue
		}
		if a := justAssignRE.FindStringSubmatch(t); a != nil {
			jf.vars[a[1]] = strings.TrimSpace(a[2])
			continue
		}
		if r := justRecipeRE.FindStringSubmatch(t); r != nil {
			rec := &justRecipe{}
			for _, p := range justParamRE.FindAllStringSubmatch(r[2], -1) {
				jp := justParam{name: p[1]}
				if p[2] != "" {
					d := p[2]
					jp.def = &d
				}
				if strings.HasPrefix(strings.TrimSpace(p[0]), "*") || strings.HasPrefix(strings.TrimSpace(p[0]), "+") {
					rec.variadic = true
				}
				rec.params = append(rec.params, jp)
			}
			deps := r[3]
			if k := strings.Index(deps, "&&"); k >= 0 {
				deps = deps[:k] + " " + deps[k+2:]
			}
			if k := strings.Index(deps, " #"); k >= 0 {
				deps = deps[:k]
			}
			for _, d := range justDepRE.FindAllStringSubmatch(deps, -1) {
				if d[1] != "" {
					rec.deps = append(rec.deps, justSplitArgs(d[1]))
				} else {
					rec.deps = append(rec.deps, []string{d[2]})
				}
			}
			jf.recipes[r[1]] = rec
			if jf.first == "" {
				jf.first = r[1]
			}
			cur = rec
		}
	}
	return jf
}

// justSplitArgs splits `name "a" var` on blanks outside quotes.
func justSplitArgs(s string) []string {
	var out []string
	var b strings.Builder
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			b.WriteByte(c)
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
			b.WriteByte(c)
		case c == ' ' || c == '\t':
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

var justEnvFuncRE = regexp.MustCompile(`^(?:env_var_or_default|env)\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*(?:,\s*("[^"]*"|'[^']*'))?\s*\)$`)

// justEval evaluates a just expression: string literals, variables and
// parameters, `+` concatenation, env()/env_var_or_default() (a shell
// reference, so the step's environment decides); anything else is
// unknown.
func justEval(expr string, scope func(string) (string, bool), depth int) string {
	expr = strings.TrimSpace(expr)
	if depth > 8 || expr == "" {
		return unknownStr
	}
	var parts []string
	var b strings.Builder
	q, paren := byte(0), 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '(':
			paren++
		case c == ')':
			paren--
		case c == '+' && paren == 0:
			parts = append(parts, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	parts = append(parts, b.String())
	var out strings.Builder
	for _, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '\'' && p[len(p)-1] == '\''):
			out.WriteString(p[1 : len(p)-1])
		case strings.HasPrefix(p, "quote(") && strings.HasSuffix(p, ")"):
			// quote() only adds shell quotes: the value is the argument's.
			out.WriteString(justEval(p[len("quote("):len(p)-1], scope, depth+1))
		case justEnvFuncRE.MatchString(p):
			m := justEnvFuncRE.FindStringSubmatch(p)
			if m[2] != "" {
				out.WriteString("${" + m[1] + ":-" + m[2][1:len(m[2])-1] + "}")
			} else {
				out.WriteString("${" + m[1] + "}")
			}
		case identRE.MatchString(p):
			if v, ok := scope(p); ok {
				out.WriteString(justEval(v, scope, depth+1))
			} else {
				out.WriteString(unknownStr)
			}
		default:
			out.WriteString(unknownStr)
		}
	}
	return out.String()
}

var justInterpRE = regexp.MustCompile(`\{\{(.*?)\}\}`)

// runJust follows `just [-f file] [-d dir] [VAR=value] [recipe [args...]]`.
func (j *jobState) runJust(st *step, scr *script, x *shExpander, c shCmd, words []shTok) bool {
	if j.l.root == "" || j.l.depth >= 3 {
		return false
	}
	file := ""
	overrides := map[string]string{}
	var rest []string
	for k := 1; k < len(words); k++ {
		w := x.word(words[k].text)
		switch {
		case (w == "-f" || w == "--justfile") && k+1 < len(words):
			file = x.word(words[k+1].text)
			k++
		case (w == "-d" || w == "--working-directory") && k+1 < len(words):
			k++
		case w == "--set" && k+2 < len(words):
			overrides[x.word(words[k+1].text)] = x.word(words[k+2].text)
			k += 2
		case strings.HasPrefix(w, "-"):
		case len(rest) == 0 && strings.Contains(w, "=") && identRE.MatchString(w[:strings.IndexByte(w, '=')]):
			overrides[w[:strings.IndexByte(w, '=')]] = w[strings.IndexByte(w, '=')+1:]
		default:
			rest = append(rest, w)
		}
	}
	cands := []string{"justfile", "Justfile", ".justfile"}
	if file != "" {
		cands = []string{file}
	}
	path, src := j.firstLocalFile(x, cands)
	if path == "" {
		return false
	}
	jf := parseJustfile(string(src))
	if len(jf.recipes) == 0 {
		return false
	}
	// The recipe, then its arguments (just has no way to tell them apart
	// but by the recipe's parameters; a second recipe name starts anew).
	type call struct {
		name string
		args []string
	}
	var calls []call
	for _, w := range rest {
		if _, ok := jf.recipes[w]; ok && (len(calls) == 0 || len(calls[len(calls)-1].args) >= len(jf.recipes[calls[len(calls)-1].name].params) && !jf.recipes[calls[len(calls)-1].name].variadic) {
			calls = append(calls, call{name: w})
			continue
		}
		if len(calls) == 0 {
			return false
		}
		calls[len(calls)-1].args = append(calls[len(calls)-1].args, w)
	}
	if len(calls) == 0 {
		if _, ok := jf.recipes["default"]; ok {
			calls = []call{{name: "default"}}
		} else {
			calls = []call{{name: jf.first}}
		}
	}
	sub := newLinter(path, src, j.l.cfg)
	sub.depth = j.l.depth + 1
	sub.root = j.l.root
	ctx := scriptCtx(st.ctx, x, c.env)
	sj := &jobState{l: sub, jc: ctx}
	sst := &step{kind: st.kind, node: st.node, ctx: ctx}
	global := func(n string) (string, bool) {
		if v, ok := overrides[n]; ok {
			return `"` + v + `"`, true
		}
		v, ok := jf.vars[n]
		return v, ok
	}
	done := map[string]bool{}
	var run func(name string, args []string, depth int)
	run = func(name string, args []string, depth int) {
		r := jf.recipes[name]
		if r == nil || depth > 8 || done[name] && len(args) == 0 {
			return
		}
		done[name] = true
		params := map[string]string{}
		for i, p := range r.params {
			switch {
			case i < len(args):
				params[p.name] = `"` + args[i] + `"`
			case p.def != nil:
				params[p.name] = *p.def
			default:
				params[p.name] = `""`
			}
		}
		scope := func(n string) (string, bool) {
			if v, ok := params[n]; ok {
				return v, true
			}
			return global(n)
		}
		for _, d := range r.deps {
			var dargs []string
			for _, a := range d[1:] {
				dargs = append(dargs, justEval(a, scope, 0))
			}
			run(d[0], dargs, depth+1)
		}
		var shell *shExpander
		for _, i := range r.body {
			raw := jf.lines[i]
			text := strings.TrimLeft(raw, " \t")
			if !r.shebang {
				text = strings.TrimLeft(text, "@-")
			}
			if strings.HasPrefix(text, "#") {
				continue
			}
			val := justInterpRE.ReplaceAllStringFunc(text, func(m string) string {
				return justEval(m[2:len(m)-2], scope, 0)
			})
			val = strings.ReplaceAll(val, "{{{{", "{{")
			vl := valueLine{text: val, line: i + 1, off: len(raw) - len(text), exact: val == text}
			sc := &scalar{value: val, lines: []valueLine{vl}}
			if shell == nil || !r.shebang {
				// Each line runs in a shell of its own, unless the recipe
				// is a script (a shebang line).
				shell = &shExpander{ctx: ctx, vars: map[string]varDef{}}
			}
			sj.runScript(sst, sc, shell)
		}
	}
	var shown []string
	for _, c := range calls {
		run(c.name, c.args, 0)
		shown = append(shown, strings.Join(append([]string{c.name}, c.args...), " "))
	}
	sj.finish()
	j.adoptFindings(sub, fmt.Sprintf(" (just %s, run by %s:%d)", strings.Join(shown, " "), filepath.Base(j.l.src.file), scr.span(c.words[0]).line))
	return true
}

// firstLocalFile reads the first of cands (paths as a step's shell gives
// them) that exists in the repository, as task and just look for their
// file; "" when none does, one leaves the repository, or its line breaks
// are not plain.
func (j *jobState) firstLocalFile(x *shExpander, cands []string) (string, []byte) {
	for _, f := range cands {
		p := j.localScriptPath(x, "'"+f+"'")
		if p == "" {
			return "", nil
		}
		if b, err := readLocal(p); err == nil {
			if oddLineBreak(p, b) != nil {
				return "", nil
			}
			return p, b
		}
	}
	return "", nil
}
