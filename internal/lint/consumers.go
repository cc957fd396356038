package lint

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pushRunRE finds a command in a script that can push an image: the
// consumer test for metadata outputs read by a run: step.
var pushRunRE = regexp.MustCompile(`\bpush\b|--push\b|imagetools\s+create|\bcrane\b|\bskopeo\s+copy|\bregctl\b|--destination|\boras\s+push|\bmanifest-tool\b`)

// allText concatenates every scalar under n (keys included), for the
// reference search of the consumer analysis.
func (s *source) allText(n *yaml.Node) string {
	var b strings.Builder
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		n = s.deref(n)
		if n == nil || depth > 64 {
			return
		}
		if s.budget--; s.budget < 0 {
			return
		}
		if n.Kind == yaml.ScalarNode {
			b.WriteString(n.Value)
			b.WriteByte('\n')
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

// reportConsumed keeps a metadata-action step's findings only when its
// tags reach a push: a later step of the job that pushes and reads the
// step's tags, json or bake-file outputs (or the DOCKER_METADATA_OUTPUT_*
// variables the action exports), or a job output carrying them that
// another job's pushing step, a called workflow or the workflow's own
// outputs read. Tags that only label an image, or a job that pushes by
// digest, are not reported.
func (l *linter) reportConsumed(recs []*jobRec, exported string) {
	for _, jr := range recs {
		for i, m := range jr.steps {
			if !m.meta || len(m.pending) == 0 {
				continue
			}
			if l.consumed(recs, jr, i, exported) {
				l.findings = append(l.findings, m.pending...)
			}
		}
	}
}

func metaOutputRE(id string) *regexp.Regexp {
	return regexp.MustCompile(`steps\.` + regexp.QuoteMeta(id) + `\.outputs(\.(tags|json|bake-file|bake-file-tags)\b|\[)`)
}

// relayAssignRE finds NAME= in a step's text.
var relayAssignRE = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)=`)

// relayRefs: a step that reads the tags without pushing them but writes
// variables to $GITHUB_ENV or outputs to $GITHUB_OUTPUT (often a python or
// jq step turning DOCKER_METADATA_OUTPUT_JSON into -t flags) hands them
// on: later references to those variables, or to the step's outputs,
// read the tags too.
func relayRefs(s *stepRec) []*regexp.Regexp {
	env := strings.Contains(s.text, "GITHUB_ENV")
	out := strings.Contains(s.text, "GITHUB_OUTPUT")
	var res []*regexp.Regexp
	if out && s.id != "" {
		res = append(res, regexp.MustCompile(`steps\.`+regexp.QuoteMeta(s.id)+`\.outputs\b`))
	}
	if !env {
		return res
	}
	seen := map[string]bool{}
	// Which NAME= of the step reaches $GITHUB_ENV is not followed here (a
	// python write names it in a string): each is taken as written, and
	// only a later pushing step that reads one of them counts.
	for _, m := range relayAssignRE.FindAllStringSubmatch(s.text, -1) {
		if n := m[1]; !seen[n] {
			seen[n] = true
			res = append(res, regexp.MustCompile(`(\benv\.|\$\{?)`+regexp.QuoteMeta(n)+`\b`))
		}
	}
	return res
}

// pushLineReads: a command of the script (continued lines joined) both
// reads r and can push. A relayed variable is often read in the same
// script as an unrelated push (a release note, then a push of other tags).
func pushLineReads(script string, r *regexp.Regexp) bool {
	for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		if r.MatchString(line) && pushRunRE.MatchString(line) {
			return true
		}
	}
	return false
}

func (l *linter) consumed(recs []*jobRec, jr *jobRec, i int, exported string) bool {
	m := jr.steps[i]
	var ref *regexp.Regexp
	if m.id != "" {
		ref = metaOutputRE(m.id)
	}
	var relays []*regexp.Regexp
	reads := func(text string) bool {
		if strings.Contains(text, "DOCKER_METADATA_OUTPUT_") || ref != nil && ref.MatchString(text) {
			return true
		}
		return false
	}
	// relayed: the step reads a relayed variable (push: in a command that
	// can push, for a script).
	relayed := func(s *stepRec, push bool) bool {
		for _, r := range relays {
			if push && s.run != "" {
				if pushLineReads(s.run, r) {
					return true
				}
			} else if r.MatchString(s.text) {
				return true
			}
		}
		return false
	}
	for _, s := range jr.steps[i+1:] {
		if s.meta && strings.Contains(s.text, "DOCKER_METADATA_OUTPUT_") {
			continue
		}
		if !reads(s.text) {
			if s.pushes && relayed(s, true) {
				return true
			}
			if relayed(s, false) {
				relays = append(relays, relayRefs(s)...)
			}
			continue
		}
		if s.pushes {
			return true
		}
		relays = append(relays, relayRefs(s)...)
	}
	if ref == nil {
		return false
	}
	if jr.name == "" { // a composite action: its outputs go to the caller
		return ref.MatchString(exported)
	}
	for name, v := range jr.outputs {
		if !ref.MatchString(v) {
			continue
		}
		needle := fmt.Sprintf("needs.%s.outputs.%s", jr.name, name)
		if strings.Contains(exported, fmt.Sprintf("jobs.%s.outputs.%s", jr.name, name)) {
			return true
		}
		for _, o := range recs {
			if o == jr {
				continue
			}
			if o.uses != "" && strings.Contains(o.text, needle) {
				return true
			}
			for _, s := range o.steps {
				if s.pushes && strings.Contains(s.text, needle) {
					return true
				}
			}
		}
	}
	return false
}

// bakeActionStep: docker/bake-action pushes with push: true (or an
// expression), or a registry output set on the targets.
func (l *linter) bakeActionStep(st *step) bool {
	pushes := false
	_, pushN := l.src.get(st.with, "push")
	if s, ok := l.src.str(pushN); ok {
		r := strings.ToLower(strings.Join(st.ctx.resolveAll(s), "|"))
		pushes = strings.Contains(r, "true") || strings.ContainsRune(r, unknownRune)
	}
	_, setN := l.src.get(st.with, "set")
	if s, ok := l.src.str(setN); ok {
		r := strings.ToLower(strings.Join(st.ctx.resolveAll(s), "|"))
		if strings.Contains(r, "push-by-digest=true") {
			return false
		}
		pushes = pushes || strings.Contains(r, "type=registry") || strings.Contains(r, "push=true")
	}
	if pushes {
		l.bakeFromAction(st)
	}
	return pushes
}

// otherAction: actions known to push tags they are given.
func (l *linter) otherAction(st *step, action string) bool {
	if l.manifestAction(st, action) || l.pushAction(st, action) {
		return true
	}
	return strings.Contains(action, "push") || strings.Contains(action, "manifest") || strings.Contains(action, "publish")
}

// structure reports what GitHub rejects before running anything: a key
// defined twice in one mapping, and a workflow without jobs. It returns
// false when the workflow cannot run at all.
func (l *linter) structure(top, onKey, jobsKey, jobs *yaml.Node) bool {
	ok := true
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 || n.Kind == yaml.AliasNode {
			return
		}
		if l.src.budget--; l.src.budget < 0 {
			return
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]*yaml.Node{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode || k.Value == "<<" {
					continue
				}
				if first, dup := seen[k.Value]; dup {
					l.add(RuleInvalidWorkflow, SeverityError, l.src.nodeSpan(k),
						fmt.Sprintf("%q is defined twice in this mapping (first on line %d): GitHub rejects the workflow", k.Value, first.Line),
						&Fix{Description: "merge the two entries into one"})
					ok = false
					continue
				}
				seen[k.Value] = k
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(top, 0)
	if onKey != nil && (jobs == nil || jobs.Kind != yaml.MappingNode || len(jobs.Content) == 0) {
		at := onKey
		if jobsKey != nil {
			at = jobsKey
		}
		l.add(RuleInvalidWorkflow, SeverityError, l.src.nodeSpan(at), "the workflow has no jobs: GitHub rejects it",
			&Fix{Description: "add the jobs the workflow is meant to run, or delete the file"})
		ok = false
	}
	return ok
}

// workflowInputs are the inputs of workflow_call and workflow_dispatch
// with a default (and a choice input's options): the values a run gets
// when nobody overrides them.
func (l *linter) workflowInputs(on *yaml.Node) map[string]varDef {
	out := map[string]varDef{}
	for _, ev := range []string{"workflow_call", "workflow_dispatch"} {
		_, e := l.src.get(on, ev)
		_, ins := l.src.get(e, "inputs")
		for _, p := range l.src.pairs(ins) {
			if _, seen := out[p.key.Value]; seen {
				continue
			}
			if d, ok := l.inputDef(p.value); ok {
				out[p.key.Value] = d
			}
		}
	}
	return out
}

// actionInputs are a composite action's inputs with defaults.
func (l *linter) actionInputs(top *yaml.Node) map[string]varDef {
	out := map[string]varDef{}
	_, ins := l.src.get(top, "inputs")
	for _, p := range l.src.pairs(ins) {
		if d, ok := l.inputDef(p.value); ok {
			out[p.key.Value] = d
		}
	}
	return out
}

func (l *linter) inputDef(n *yaml.Node) (varDef, bool) {
	var vals []varDef
	_, typ := l.src.get(n, "type")
	if t, _ := l.src.str(typ); t == "boolean" {
		// A run may set either value (the dispatch form, the caller).
		_, def := l.src.get(n, "default")
		d, _ := l.src.str(def)
		if d == "true" {
			return fromAlts([]varDef{{value: "true"}, {value: "false"}}), true
		}
		return fromAlts([]varDef{{value: "false"}, {value: "true"}}), true
	}
	_, def := l.src.get(n, "default")
	if v, ok := l.src.str(def); ok && !strings.Contains(v, "${{") {
		vals = append(vals, varDef{value: v})
	}
	_, opts := l.src.get(n, "options")
	for _, o := range l.src.items(opts) {
		if v, ok := l.src.str(o); ok {
			vals = append(vals, varDef{value: v})
		}
	}
	if len(vals) == 0 {
		return varDef{}, false
	}
	return fromAlts(vals), true
}

// matrix reads strategy.matrix: every literal value of each key, include
// entries added. A matrix written as an expression is unknown.
func (l *linter) matrix(job *yaml.Node, ctx *evalCtx) map[string]varDef {
	_, strat := l.src.get(job, "strategy")
	_, m := l.src.get(strat, "matrix")
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	vals := map[string][]varDef{}
	add := func(k string, n *yaml.Node) {
		v, ok := l.src.str(n)
		if !ok {
			return // a mapping or list value: unknown
		}
		for _, r := range ctx.resolveAll(v) {
			if len(vals[k]) < maxAlts {
				vals[k] = append(vals[k], varDef{value: r})
			}
		}
	}
	unknown := map[string]bool{}
	for _, p := range l.src.pairs(m) {
		switch p.key.Value {
		case "exclude":
		case "include":
			for _, inc := range l.src.items(p.value) {
				for _, ip := range l.src.pairs(inc) {
					add(ip.key.Value, ip.value)
				}
			}
		default:
			items := l.src.items(p.value)
			if len(items) == 0 {
				unknown[p.key.Value] = true
			}
			for _, it := range items {
				add(p.key.Value, it)
			}
		}
	}
	out := map[string]varDef{}
	for k, vs := range vals {
		if unknown[k] {
			vs = append(vs, varDef{value: unknownStr})
		}
		out[k] = fromAlts(vs)
	}
	return out
}
