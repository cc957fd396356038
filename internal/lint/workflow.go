package lint

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// jobRec is what the consumer analysis needs of a job: each step's text
// and whether it pushes, and the job's outputs.
type jobRec struct {
	name    string
	steps   []*stepRec
	outputs map[string]string // raw values
	uses    string            // a reusable workflow
	text    string            // the job-level with: and uses:
}

type stepRec struct {
	id      string
	text    string
	run     string // the script of a run: step
	pushes  bool
	meta    bool
	pending []Finding
}

// linter lints one file.
type linter struct {
	src      *source
	mutable  map[string]bool
	findings []Finding
	// callerInputs are the with: values of a local caller when this file
	// is linted as the reusable workflow it calls.
	callerInputs map[string]varDef
	// dir is the repository root, for local reusable workflows, includes
	// and bake files ("" when linting bytes with no file behind them).
	root  string
	depth int
	cfg   Config
	// extra are findings in other files reached from this one.
	extra []Finding
	// gitlabVars are the variables of the GitLab file that includes this one.
	gitlabVars map[string]varDef
	// gitlabTop is the GitLab file's top mapping, for !reference.
	gitlabTop *yaml.Node
}

// triggers is what the workflow's `on:` allows, as far as tags go.
type triggers struct {
	// tagRuns: some run can have a refs/tags/* ref (push with tag filters
	// or no filters, release, create, workflow_dispatch on a tag,
	// workflow_call from a tagged caller). True when `on` is unreadable.
	tagRuns bool
	// schedule: the workflow has schedule triggers (or `on` is unreadable).
	schedule bool
	// branches are the literal branch names in push filters.
	branches []string
	// branchFiltered: no push trigger runs on every branch.
	branchFiltered bool
	unfilteredPush bool
	// branchRuns: some run is on a branch (a push to a branch, a
	// schedule, a manual or chained run); prRuns: some run is a pull
	// request.
	branchRuns, prRuns bool
}

func (l *linter) document(doc *yaml.Node) {
	top := l.src.deref(doc)
	if top == nil || top.Kind != yaml.MappingNode {
		return
	}
	if l.isGitLab(top) {
		l.gitlab(top)
		return
	}
	onKey, on := l.src.get(top, "on")
	jobsKey, jobs := l.src.get(top, "jobs")
	if onKey != nil || jobsKey != nil {
		if !l.structure(top, onKey, jobsKey, jobs) {
			return
		}
	}
	tr := l.triggers(on)
	inputs := l.workflowInputs(on)
	for k, v := range l.callerInputs {
		inputs[k] = v
	}
	wfEnv := map[string]varDef{}
	ctx := &evalCtx{outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{}, inputs: inputs}
	_, env := l.src.get(top, "env")
	l.envMap(env, ctx, wfEnv)
	shell := l.defaultShell(top)

	needs := map[string]map[string]varDef{}
	var recs []*jobRec
	for _, p := range l.src.pairs(jobs) {
		job := l.src.deref(p.value)
		if job == nil || job.Kind != yaml.MappingNode {
			continue
		}
		jr := &jobRec{name: p.key.Value, outputs: map[string]string{}}
		recs = append(recs, jr)
		_, jobIf := l.src.get(job, "if")
		jc := &evalCtx{env: []map[string]varDef{wfEnv}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{},
			inputs: inputs, needs: needs, noBranch: !tr.branchRuns || l.tagOnlyIf(jobIf), prRuns: tr.prRuns, branches: tr.branches}
		jc.matrix = l.matrix(job, jc)
		jobEnv := map[string]varDef{}
		_, je := l.src.get(job, "env")
		l.envMap(je, jc, jobEnv)
		jc.env = append(jc.env, jobEnv)
		js := shell
		if s := l.defaultShell(job); s != "" {
			js = s
		}
		_, steps := l.src.get(job, "steps")
		l.steps(steps, jc, tr, js, jr)
		_, outs := l.src.get(job, "outputs")
		needs[jr.name] = map[string]varDef{}
		for _, op := range l.src.pairs(outs) {
			if v, ok := l.src.str(op.value); ok {
				jr.outputs[op.key.Value] = v
				needs[jr.name][op.key.Value] = varDef{value: jc.resolve(v)}
				if vals := jc.resolveAll(v); len(vals) > 1 {
					d := needs[jr.name][op.key.Value]
					for _, a := range vals[1:] {
						d.alts = append(d.alts, varDef{value: a})
					}
					needs[jr.name][op.key.Value] = d
				}
			}
		}
		_, uses := l.src.get(job, "uses")
		jr.uses, _ = l.src.str(uses)
		_, with := l.src.get(job, "with")
		jr.text = l.src.allText(with) + "\n" + l.src.allText(uses)
		if jr.uses != "" {
			l.jobUses(job, jr, jc, tr)
		}
	}
	exported := l.src.allText(on)
	// Composite actions (action.yml) run steps too; their triggers are
	// whatever the calling workflow's are, so assume every kind of run.
	_, runs := l.src.get(top, "runs")
	if runs != nil {
		_, steps := l.src.get(runs, "steps")
		if steps != nil {
			inputs := l.actionInputs(top)
			for k, v := range l.callerInputs {
				inputs[k] = v
			}
			jc := &evalCtx{env: []map[string]varDef{wfEnv}, outputs: map[string]map[string]varDef{}, ghEnv: map[string]varDef{}, inputs: inputs}
			jr := &jobRec{name: "", outputs: map[string]string{}}
			jc.prRuns = true
			l.steps(steps, jc, triggers{tagRuns: true, schedule: true, branchRuns: true, prRuns: true}, shell, jr)
			recs = append(recs, jr)
			_, outs := l.src.get(top, "outputs")
			exported += l.src.allText(outs)
		}
	}
	l.reportConsumed(recs, exported)
}

func (l *linter) defaultShell(n *yaml.Node) string {
	_, d := l.src.get(n, "defaults")
	_, r := l.src.get(d, "run")
	_, sh := l.src.get(r, "shell")
	s, _ := l.src.str(sh)
	return s
}

// envMap reads an env mapping, resolving expressions against ctx (the
// enclosing levels), into out.
func (l *linter) envMap(n *yaml.Node, ctx *evalCtx, out map[string]varDef) {
	for _, p := range l.src.pairs(n) {
		v := l.src.deref(p.value)
		if v == nil || v.Kind != yaml.ScalarNode {
			continue
		}
		vals := ctx.resolveAll(v.Value)
		d := varDef{value: vals[0]}
		for _, a := range vals[1:] {
			d.alts = append(d.alts, varDef{value: a})
		}
		if sc := l.src.scalarOf(v); sc != nil && len(sc.lines) == 1 && sc.lines[0].exact {
			vl := sc.lines[0]
			d.site = &defSite{sp: span{line: vl.line, start: vl.off, end: vl.off + len(vl.text), exact: true}, raw: vl.text, yaml: true}
		}
		out[p.key.Value] = d
	}
}

func (l *linter) triggers(on *yaml.Node) triggers {
	all := triggers{tagRuns: true, schedule: true, branchRuns: true, prRuns: true}
	if on == nil {
		return all
	}
	var t triggers
	event := func(name string, cfg *yaml.Node) {
		switch name {
		case "push":
			_, tags := l.src.get(cfg, "tags")
			_, tagsIgn := l.src.get(cfg, "tags-ignore")
			_, br := l.src.get(cfg, "branches")
			_, brIgn := l.src.get(cfg, "branches-ignore")
			// GitHub: filtering only branches means no tag runs, and
			// filtering only tags means no branch runs.
			if tags != nil || tagsIgn != nil || br == nil && brIgn == nil {
				t.tagRuns = true
			}
			if br == nil && brIgn == nil && tags == nil && tagsIgn == nil {
				t.unfilteredPush = true
			}
			if br != nil || brIgn != nil || tags == nil && tagsIgn == nil {
				t.branchRuns = true
			}
			for _, b := range l.src.items(br) {
				if s, ok := l.src.str(b); ok && !strings.ContainsAny(s, "*?[]!+") {
					t.branches = append(t.branches, s)
				}
			}
			if s, ok := l.src.str(br); ok && !strings.ContainsAny(s, "*?[]!+") && s != "" {
				t.branches = append(t.branches, s)
			}
		case "release", "create", "workflow_dispatch", "workflow_call":
			// A manual or called run may be on a branch, but these
			// triggers mostly re-run releases: a tag named after the ref
			// is not reported for them alone.
			t.tagRuns = true
		case "schedule":
			t.schedule = true
			t.branchRuns = true
		case "workflow_run", "repository_dispatch", "merge_group", "check_suite", "deployment", "issue_comment":
			t.branchRuns = true
		case "pull_request", "pull_request_target":
			t.prRuns = true
		}
	}
	switch on.Kind {
	case yaml.ScalarNode:
		event(on.Value, nil)
	case yaml.SequenceNode:
		for _, e := range l.src.items(on) {
			if s, ok := l.src.str(e); ok {
				event(s, nil)
			}
		}
	case yaml.MappingNode:
		for _, p := range l.src.pairs(on) {
			event(p.key.Value, l.src.deref(p.value))
		}
	default:
		return all
	}
	t.branchFiltered = !t.unfilteredPush
	return t
}

// step is one workflow step with the nodes the rules look at.
type stepKind int

const (
	stepGitHub stepKind = iota
	stepGitLab
)

type step struct {
	kind stepKind
	// metaPrefix prefixes the metadata-action input names ("meta-" for
	// docker/github-builder, whose meta-tags and meta-flavor inputs feed
	// the action).
	metaPrefix string
	node       *yaml.Node
	id         string
	uses       string
	usesNode   *yaml.Node
	with       *yaml.Node
	withKey    *yaml.Node
	run        *yaml.Node
	shell      string
	ctx        *evalCtx
}

func (l *linter) steps(n *yaml.Node, jc *evalCtx, tr triggers, shell string, jr *jobRec) {
	job := &jobState{l: l, jc: jc}
	for _, sn := range l.src.items(n) {
		if sn.Kind != yaml.MappingNode {
			continue
		}
		st := &step{node: sn, shell: shell}
		_, id := l.src.get(sn, "id")
		st.id, _ = l.src.str(id)
		_, uses := l.src.get(sn, "uses")
		st.uses, _ = l.src.str(uses)
		st.usesNode = uses
		st.withKey, st.with = l.src.get(sn, "with")
		_, st.run = l.src.get(sn, "run")
		_, sh := l.src.get(sn, "shell")
		if s, ok := l.src.str(sh); ok {
			st.shell = s
		}
		stepEnv := map[string]varDef{}
		_, se := l.src.get(sn, "env")
		l.envMap(se, jc, stepEnv)
		// $GITHUB_ENV and $GITHUB_OUTPUT writes reach later steps only:
		// the step sees a snapshot, the job keeps collecting.
		st.ctx = jc.child(stepEnv)
		if _, stepIf := l.src.get(sn, "if"); l.tagOnlyIf(stepIf) {
			st.ctx.noBranch = true
		}
		rec := &stepRec{id: st.id, text: l.src.allText(sn)}
		jr.steps = append(jr.steps, rec)

		switch action := actionName(st.uses); {
		case action == "crazy-max/ghaction-docker-meta" && isV1(st.uses):
			n := len(l.findings)
			l.dockerMetaV1(st, tr)
			rec.meta = true
			rec.pending = append([]Finding(nil), l.findings[n:]...)
			l.findings = l.findings[:n]
		case action == "docker/metadata-action" || action == "crazy-max/ghaction-docker-meta":
			// crazy-max/ghaction-docker-meta v2 is metadata-action v3 under
			// its old name.
			// Held back until the tags are known to reach a push.
			n := len(l.findings)
			l.metadataStep(st, tr)
			rec.meta = true
			rec.pending = append([]Finding(nil), l.findings[n:]...)
			l.findings = l.findings[:n]
		case action == "docker/build-push-action" && isV1(st.uses):
			rec.pushes = l.buildPushV1(st, tr)
		case action == "docker/build-push-action" || buildPushClones[action]:
			rec.pushes = l.buildPushPushes(st)
			l.buildPushStep(st)
		case action == "docker/bake-action" || action == "depot/bake-action":
			rec.pushes = l.bakeActionStep(st)
		case strings.HasPrefix(st.uses, "./"):
			l.localAction(st)
		case deployActions[action] != nil:
			l.deployAction(st, action)
		case action == "goreleaser/goreleaser-action" || action == "goreleaser/goreleaser-cross-action":
			l.goreleaserStep(st)
		case st.uses != "":
			rec.pushes = l.otherAction(st, action)
		}
		if st.run != nil {
			rec.run = st.run.Value
		}
		if st.run != nil && shellSupported(st.shell) {
			rec.pushes = rec.pushes || pushRunRE.MatchString(rec.text)
			job.runStep(st)
		}
	}
	job.finish()
}

// buildPushClones take docker/build-push-action's inputs (Depot's and
// Blacksmith's hosted builders).
var buildPushClones = map[string]bool{"depot/build-push-action": true, "useblacksmith/build-push-action": true}

// actionName strips the ref and any sub-path: docker/metadata-action@v5 ->
// docker/metadata-action.
func actionName(uses string) string {
	if i := strings.Index(uses, "@"); i >= 0 {
		uses = uses[:i]
	}
	parts := strings.Split(uses, "/")
	if len(parts) < 2 {
		return strings.ToLower(uses)
	}
	return strings.ToLower(parts[0] + "/" + parts[1])
}

func shellSupported(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	f := strings.Fields(s)[0]
	if i := strings.LastIndex(f, "/"); i >= 0 {
		f = f[i+1:]
	}
	switch f {
	case "bash", "sh", "zsh", "dash", "ksh":
		return true
	}
	return false
}

// add records a finding at sp.
func (l *linter) add(rule string, sev Severity, sp span, msg string, fix *Fix, scope ...int) {
	col := l.src.column(sp.line, sp.start)
	end := 0
	if sp.end > sp.start {
		end = l.src.column(sp.line, sp.end)
	}
	f := Finding{RuleID: rule, Severity: sev, File: l.src.file, Line: sp.line, Column: col, Message: msg, Fix: fix,
		scopeFrom: sp.line, scopeTo: sp.line, text: l.src.line(sp.line)}
	if end > 0 {
		f.EndLine, f.EndColumn = sp.line, end
	}
	if len(scope) == 2 {
		f.scopeFrom, f.scopeTo = min(scope[0], sp.line), max(scope[1], sp.line)
	}
	if !utf8.ValidString(f.Message) {
		f.Message = strings.ToValidUTF8(f.Message, "?")
	}
	l.findings = append(l.findings, f)
}

// tagOnlyIfRE: conditions that hold on tag runs only.
var tagOnlyIfRE = regexp.MustCompile(`startsWith\(\s*github\.ref\s*,\s*'refs/tags|github\.ref_type\s*==\s*'tag'|github\.event_name\s*==\s*'release'|contains\(\s*github\.ref\s*,\s*'refs/tags|github\.event\.release\.|\$\{\{\s*github\.ref_type\s*==\s*'tag'`)

// tagOnlyIf: an if: condition that only tag runs pass (a test of the ref
// being a tag, not negated and not one side of ||).
func (l *linter) tagOnlyIf(n *yaml.Node) bool {
	c, ok := l.src.str(n)
	if !ok || strings.Contains(c, "||") {
		return false
	}
	for _, m := range tagOnlyIfRE.FindAllStringIndex(c, -1) {
		before := strings.TrimRight(c[:m[0]], " \t(")
		if !strings.HasSuffix(before, "!") {
			return true
		}
	}
	return false
}
