package lint

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GitLab CI: every job's before_script, script and after_script lines run
// in one shell, with the global and job variables and GitLab's predefined
// variables; local include: files are linted with the including file's
// variables.

// gitlabReserved are top-level keys that are not jobs.
var gitlabReserved = map[string]bool{"stages": true, "variables": true, "include": true, "default": true,
	"workflow": true, "image": true, "services": true, "cache": true, "before_script": true, "after_script": true, "spec": true}

// gitlabPredefined are GitLab's predefined variables whose values hold no
// tag (CI_REGISTRY_IMAGE is a repository path) or an immutable one (the
// commit sha). Branch and tag names stay unknown.
var gitlabPredefined = map[string]string{
	"CI_COMMIT_SHA": shaStr, "CI_COMMIT_SHORT_SHA": shaStr, "CI_REGISTRY_IMAGE": safeStr, "CI_REGISTRY": safeStr,
	"CI_PROJECT_PATH": safeStr, "CI_PROJECT_NAME": safeStr, "CI_PROJECT_NAMESPACE": safeStr,
	"CI_PROJECT_PATH_SLUG": safeStr, "CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX": safeStr,
}

func (l *linter) isGitLab(top *yaml.Node) bool {
	for _, k := range []string{"on", "jobs", "runs"} {
		if k, _ := l.src.get(top, k); k != nil {
			return false
		}
	}
	base := strings.ToLower(filepath.Base(l.src.file))
	if strings.Contains(base, "gitlab") || l.gitlabVars != nil {
		return true
	}
	for _, p := range l.src.pairs(top) {
		if gitlabReserved[p.key.Value] {
			continue
		}
		if k, _ := l.src.get(p.value, "script"); k != nil {
			return true
		}
	}
	return false
}

func (l *linter) gitlab(top *yaml.Node) {
	l.src.gitlab = true
	l.gitlabTop = top
	global := map[string]varDef{}
	for k, v := range gitlabPredefined {
		global[k] = varDef{value: v}
	}
	// Branch pipelines name the branch, tag pipelines the tag.
	global["CI_COMMIT_REF_NAME"], global["CI_COMMIT_REF_SLUG"] = refNameDef, refNameDef
	for _, k := range []string{"CI_COMMIT_BRANCH", "CI_DEFAULT_BRANCH", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"} {
		global[k] = varDef{value: branchStr}
	}
	_, wf := l.src.get(top, "workflow")
	_, wfRules := l.src.get(wf, "rules")
	wfTagOnly := l.gitlabTagOnlyRules(wfRules)
	for k, v := range l.gitlabVars {
		global[k] = v
	}
	ctx := &evalCtx{env: []map[string]varDef{global}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{}}
	_, vars := l.src.get(top, "variables")
	l.gitlabVarMap(vars, ctx, global)

	_, def := l.src.get(top, "default")
	_, defBefore := l.src.get(def, "before_script")
	if defBefore == nil {
		_, defBefore = l.src.get(top, "before_script")
	}
	_, defAfter := l.src.get(def, "after_script")
	if defAfter == nil {
		_, defAfter = l.src.get(top, "after_script")
	}

	_, inc := l.src.get(top, "include")
	for _, path := range l.gitlabIncludes(inc) {
		l.lintIncluded(path, global)
	}
	remoteIncl, components := l.gitlabRemoteIncludes(inc)
	for _, c := range components {
		// include: component: ... inputs: {image_tag: latest}
		_, name := l.src.get(c, "component")
		s, _ := l.src.str(name)
		_, in := l.src.get(c, "inputs")
		l.remoteCall(s, in, ctx, c.Line, "a CI/CD component", "inputs")
	}

	for _, p := range l.src.pairs(top) {
		if gitlabReserved[p.key.Value] {
			continue
		}
		job := l.src.deref(p.value)
		if job == nil || job.Kind != yaml.MappingNode {
			continue
		}
		chain := l.gitlabExtends(top, job)
		jobVars := map[string]varDef{}
		jc := &evalCtx{env: []map[string]varDef{global}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{}}
		// Templates first, the job's own variables last (they win).
		for i := len(chain) - 1; i >= 0; i-- {
			_, jv := l.src.get(chain[i], "variables")
			l.gitlabVarMap(jv, jc, jobVars)
		}
		l.gitlabRunVars(chain, jc, jobVars)
		jc.env = append(jc.env, jobVars)
		jc.noBranch = wfTagOnly || l.gitlabTagOnly(chain)
		js := &jobState{l: l, jc: jc}
		x := &shExpander{ctx: jc, vars: map[string]varDef{}}
		before, after := defBefore, defAfter
		var script *yaml.Node
		key := func(name string) (*yaml.Node, bool) {
			for _, n := range chain {
				if k, v := l.src.get(n, name); k != nil {
					return v, true
				}
			}
			return nil, false
		}
		if b, ok := key("before_script"); ok {
			before = b
		}
		if a, ok := key("after_script"); ok {
			after = a
		}
		script, _ = key("script")
		if script == nil && len(remoteIncl) > 0 && !strings.HasPrefix(p.key.Value, ".") {
			// The job's script is in a template of another project: its
			// variables are the only tags written here.
			if _, ext := l.src.get(job, "extends"); ext != nil && len(chain) == 1 {
				name, _ := l.src.str(ext)
				if name == "" {
					name = "its templates"
				}
				_, jv := l.src.get(job, "variables")
				l.remoteCall(name+" (included from "+remoteIncl[0]+")", jv, jc, job.Line, "a template", "variables")
			}
		}
		if strings.HasPrefix(p.key.Value, ".") && script != nil {
			// A hidden template: linted through the jobs that extend it,
			// unless none does.
			if l.gitlabExtended(top, p.key.Value) || l.gitlabReferenced(top, p.key.Value) {
				continue
			}
		}
		for _, part := range []*yaml.Node{before, script} {
			l.gitlabScript(js, job, part, x)
		}
		// after_script runs in a new shell.
		l.gitlabScript(js, job, after, &shExpander{ctx: jc, vars: map[string]varDef{}})
		js.finish()
	}
}

// gitlabExtends is the job followed by the templates it extends, nearest
// first (extends: name or a list, recursively).
func (l *linter) gitlabExtends(top, job *yaml.Node) []*yaml.Node {
	chain := []*yaml.Node{job}
	seen := map[string]bool{}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if depth > 10 {
			return
		}
		_, ext := l.src.get(n, "extends")
		names := []*yaml.Node{ext}
		if ext != nil && ext.Kind == yaml.SequenceNode {
			names = l.src.items(ext)
		}
		// Later entries of a list override earlier ones: walk them first.
		for i := len(names) - 1; i >= 0; i-- {
			name, ok := l.src.str(names[i])
			if !ok || seen[name] {
				continue
			}
			seen[name] = true
			_, t := l.src.get(top, name)
			if t = l.src.deref(t); t != nil && t.Kind == yaml.MappingNode {
				chain = append(chain, t)
				walk(t, depth+1)
			}
		}
	}
	walk(job, 0)
	return chain
}

// gitlabExtended: some job extends the template name.
func (l *linter) gitlabExtended(top *yaml.Node, name string) bool {
	for _, p := range l.src.pairs(top) {
		_, ext := l.src.get(p.value, "extends")
		if s, ok := l.src.str(ext); ok && s == name {
			return true
		}
		for _, it := range l.src.items(ext) {
			if s, ok := l.src.str(it); ok && s == name {
				return true
			}
		}
	}
	return false
}

func (l *linter) gitlabScript(js *jobState, job, n *yaml.Node, x *shExpander) {
	n = l.src.deref(n)
	var lines []*yaml.Node
	var flat func(n *yaml.Node, depth int)
	flat = func(n *yaml.Node, depth int) {
		n = l.src.deref(n)
		if n == nil || depth > 10 {
			return
		}
		if n.Tag == "!reference" {
			// !reference [.template, script]: the lines written there.
			flat(l.gitlabReference(n), depth+1)
			return
		}
		if n.Kind == yaml.ScalarNode {
			lines = append(lines, n)
			return
		}
		for _, it := range l.src.items(n) {
			flat(it, depth+1) // nested lists are flattened
		}
	}
	flat(n, 0)
	for _, ln := range lines {
		if ln.Kind != yaml.ScalarNode {
			continue
		}
		sc := l.src.scalarOf(ln)
		if sc == nil {
			continue
		}
		st := &step{kind: stepGitLab, node: job, run: ln, ctx: x.ctx}
		js.runScript(st, sc, x)
	}
}

// gitlabVarMap reads variables: NAME: value or NAME: {value: ...};
// $VAR and ${VAR} in values are expanded from the enclosing levels.
func (l *linter) gitlabVarMap(n *yaml.Node, ctx *evalCtx, out map[string]varDef) {
	for _, p := range l.src.pairs(n) {
		v := l.src.deref(p.value)
		if v != nil && v.Kind == yaml.MappingNode {
			_, v = l.src.get(v, "value")
		}
		s, ok := l.src.str(v)
		if !ok {
			continue
		}
		x := &shExpander{ctx: ctx, vars: out}
		var b strings.Builder
		x.double(strings.ReplaceAll(s, `"`, `\"`)+`"`, 0, &b)
		d := varDef{value: b.String()}
		if site := l.yamlSiteOf(v); site != nil {
			site.yaml = false
			d.site = site
		}
		out[p.key.Value] = d
	}
}

// yamlSiteOf is where a one-line scalar is written, for fixes.
func (l *linter) yamlSiteOf(n *yaml.Node) *defSite {
	sc := l.src.scalarOf(n)
	if sc == nil || len(sc.lines) != 1 || !sc.lines[0].exact {
		return nil
	}
	vl := sc.lines[0]
	return &defSite{sp: span{line: vl.line, start: vl.off, end: vl.off + len(vl.text), exact: true}, raw: vl.text, yaml: true}
}

// gitlabIncludes lists local include: files (include: path, - path,
// - local: path); remote, project and template includes are skipped.
func (l *linter) gitlabIncludes(n *yaml.Node) []string {
	var out []string
	add := func(s string) {
		if s == "" || strings.Contains(s, "://") || strings.Contains(s, "$") || strings.ContainsAny(s, "*") {
			return
		}
		out = append(out, filepath.Join(l.root, filepath.FromSlash(strings.TrimPrefix(s, "/"))))
	}
	n = l.src.deref(n)
	if n == nil {
		return nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = l.src.items(n)
	}
	for _, it := range items {
		if s, ok := l.src.str(it); ok {
			add(s)
			continue
		}
		_, loc := l.src.get(it, "local")
		if s, ok := l.src.str(loc); ok {
			add(s)
		}
	}
	return out
}

func (l *linter) lintIncluded(path string, vars map[string]varDef) {
	if l.root == "" || l.depth >= 3 {
		return
	}
	src, err := readLocal(path)
	if err != nil || oddLineBreak(path, src) != nil {
		return
	}
	sub := newLinter(path, src, l.cfg)
	sub.depth = l.depth + 1
	sub.gitlabVars = vars
	docs, _ := parseDocuments(path, src)
	for _, d := range docs {
		sub.document(d)
	}
	sub.applySuppressions()
	l.extra = append(l.extra, sub.findings...)
	l.extra = append(l.extra, sub.extra...)
}

// gitlabTagOnly: the job runs in tag pipelines only (only: tags, or
// rules whose every running entry tests $CI_COMMIT_TAG), so a tag named
// after $CI_COMMIT_REF_NAME is the release tag.
func (l *linter) gitlabTagOnly(chain []*yaml.Node) bool {
	for _, n := range chain {
		if k, rules := l.src.get(n, "rules"); k != nil {
			return l.gitlabTagOnlyRules(rules)
		}
		if k, except := l.src.get(n, "except"); k != nil {
			// except: [branches]: no branch pipeline runs the job.
			if _, refs := l.src.get(except, "refs"); refs != nil {
				except = refs
			}
			for _, it := range append(l.src.items(except), except) {
				if s, ok := l.src.str(it); ok && s == "branches" {
					return true
				}
			}
		}
		if k, only := l.src.get(n, "only"); k != nil {
			if _, vars := l.src.get(only, "variables"); vars != nil {
				// only: variables: [$CI_COMMIT_TAG]
				for _, it := range l.src.items(vars) {
					if s, ok := l.src.str(it); ok && gitlabTagCondRE.MatchString(s) && len(l.src.items(vars)) == 1 {
						return true
					}
				}
			}
			if _, refs := l.src.get(only, "refs"); refs != nil {
				only = refs
			}
			var refs []string
			if s, ok := l.src.str(only); ok {
				refs = []string{s}
			}
			for _, it := range l.src.items(only) {
				if s, ok := l.src.str(it); ok {
					refs = append(refs, s)
				}
			}
			if len(refs) == 0 {
				return false
			}
			for _, r := range refs {
				if r != "tags" && !strings.HasPrefix(r, "/^v") && !strings.HasPrefix(r, "/^[0-9") {
					return false
				}
			}
			return true
		}
	}
	return false
}

// gitlabTagOnlyRules: every rule that can run the job requires a tag.
func (l *linter) gitlabTagOnlyRules(rules *yaml.Node) bool {
	if rules == nil {
		return false
	}
	running := 0
	for _, r := range l.src.items(rules) {
		_, when := l.src.get(r, "when")
		_, cond := l.src.get(r, "if")
		c, _ := l.src.str(cond)
		if w, _ := l.src.str(when); w == "never" {
			// - if: $CI_COMMIT_BRANCH (or $CI_COMMIT_TAG == null)
			//   when: never: what the later rules see is a tag pipeline.
			if running == 0 && gitlabNoTagCondRE.MatchString(c) {
				return true
			}
			continue
		}
		running++
		if !gitlabTagCondRE.MatchString(c) || strings.Contains(c, "||") {
			return false
		}
	}
	return running > 0
}

// gitlabNoTagCondRE: a whole condition that holds in every pipeline that
// is not for a git tag.
var gitlabNoTagCondRE = regexp.MustCompile(`^\s*(\$CI_COMMIT_BRANCH|\$CI_COMMIT_TAG\s*==\s*(null|""|''))\s*$`)

// gitlabTagCondRE: $CI_COMMIT_TAG tested as set (not == null, not negated).
var gitlabTagCondRE = regexp.MustCompile(`^\s*\$CI_COMMIT_TAG\s*($|&&|=~|==\s*["']?[^n"'\s]|!=\s*(null|""|''))|&&\s*\$CI_COMMIT_TAG\s*($|&&|!=\s*(null|""|''))|\$CI_COMMIT_REF_NAME\s*=~\s*/\^v`)

// gitlabReference resolves !reference [job, key, ...] in this file.
func (l *linter) gitlabReference(n *yaml.Node) *yaml.Node {
	cur := l.gitlabTop
	for _, it := range l.src.items(n) {
		k, ok := l.src.str(it)
		if !ok {
			return nil
		}
		_, cur = l.src.get(cur, k)
		if cur = l.src.deref(cur); cur == nil {
			return nil
		}
	}
	if cur == l.gitlabTop {
		return nil
	}
	return cur
}

// gitlabReferenced: some !reference names the template.
func (l *linter) gitlabReferenced(n *yaml.Node, name string) bool {
	if n == nil {
		return false
	}
	if n.Tag == "!reference" && len(n.Content) > 0 && n.Content[0].Value == name {
		return true
	}
	for _, c := range n.Content {
		if l.gitlabReferenced(c, name) {
			return true
		}
	}
	return false
}

// gitlabRunVars adds the values a run of the job may give its variables
// besides the job's own: a rule's variables: (rules: - if: ... variables:
// {TAG: latest}) and each parallel: matrix: entry. Each is another run,
// so each is an alternative value.
func (l *linter) gitlabRunVars(chain []*yaml.Node, jc *evalCtx, jobVars map[string]varDef) {
	alt := func(k string, d varDef) {
		prev, ok := jobVars[k]
		if !ok {
			if p, found := jc.lookupEnv(k); found {
				prev, ok = p, true
			}
		}
		if !ok {
			jobVars[k] = d
			return
		}
		jobVars[k] = joinDefs(prev, d)
	}
	for _, n := range chain {
		if k, rules := l.src.get(n, "rules"); k != nil {
			for _, r := range l.src.items(rules) {
				_, when := l.src.get(r, "when")
				if w, _ := l.src.str(when); w == "never" {
					continue
				}
				_, rv := l.src.get(r, "variables")
				vals := map[string]varDef{}
				l.gitlabVarMap(rv, jc, vals)
				for k, d := range vals {
					alt(k, d)
				}
			}
			break
		}
	}
	for _, n := range chain {
		_, par := l.src.get(n, "parallel")
		if _, matrix := l.src.get(par, "matrix"); matrix != nil {
			for _, entry := range l.src.items(matrix) {
				for _, p := range l.src.pairs(entry) {
					vs := l.src.items(p.value)
					if len(vs) == 0 {
						vs = []*yaml.Node{p.value}
					}
					for _, v := range vs {
						if s, ok := l.src.str(v); ok {
							d := varDef{value: s}
							// An edit inside [a, b] would need quotes (${...} in a
							// flow sequence is not a plain scalar): no site there.
							if site := l.yamlSiteOf(v); site != nil && l.src.deref(p.value).Style&yaml.FlowStyle == 0 {
								site.yaml = false
								d.site = site
							}
							alt(p.key.Value, d)
						}
					}
				}
			}
			break
		}
	}
}
