package iac

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// maxFileSize skips files no configuration or template reaches.
const maxFileSize = 32 << 20

// NoteACR is said once per scan that saw Azure Container Registry code.
const NoteACR = "azurerm_container_registry: Azure Container Registry has no Terraform or ARM setting for tag locks (they are data-plane only); audit ACR repositories live with immutag audit and keep them locked with immutag serve --enforce"

// Options tune a scan.
type Options struct {
	Policy Policy
}

// candidates are the inputs a walk found.
type candidates struct {
	tfDirs []string
	// terragrunt are terragrunt.hcl files (scanned holds their path too).
	terragrunt []string
	// scanned is the path argument each Terraform directory was found under.
	scanned map[string]string
	yaml    []string
	json    []string
}

// skipDir reports directories no configuration lives in: tool caches
// (.terraform holds downloaded copies of modules already scanned at their
// source), VCS metadata and dependency trees.
func skipDir(name string) bool {
	return (strings.HasPrefix(name, ".") && name != "." && name != "..") || name == "node_modules" || name == "vendor"
}

func find(paths []string, errs *[]FileError) candidates {
	c := candidates{scanned: map[string]string{}}
	seenDir := map[string]bool{}
	var root string
	add := func(p string) {
		name := filepath.Base(p)
		switch {
		case isTFFile(name):
			d := filepath.Dir(p)
			if !seenDir[d] {
				seenDir[d] = true
				c.tfDirs = append(c.tfDirs, d)
				c.scanned[d] = root
			}
		case name == "terragrunt.hcl":
			c.terragrunt = append(c.terragrunt, p)
			c.scanned[p] = root
		case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"), strings.HasSuffix(name, ".template"):
			c.yaml = append(c.yaml, p)
		case strings.HasSuffix(name, ".json"):
			c.json = append(c.json, p)
		}
	}
	for _, root = range paths {
		st, err := os.Stat(root)
		if err != nil {
			*errs = append(*errs, FileError{File: root, Message: err.Error()})
			continue
		}
		if !st.IsDir() {
			add(filepath.Clean(root))
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				*errs = append(*errs, FileError{File: p, Message: err.Error()})
				return nil
			}
			if d.IsDir() {
				if p != root && skipDir(d.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				add(p)
			}
			return nil
		})
	}
	return c
}

// Scan finds and grades every resource under paths.
func Scan(paths []string, o Options) *Result {
	res := &Result{sources: map[string][]byte{}}
	c := find(paths, &res.Errors)
	ap := o.Policy.auditPolicy()
	acr := false

	// Terraform.
	l := newTFLoader()
	type unitKey struct{ root, module string }
	var order []unitKey
	units := map[unitKey][]pending{}
	envCount := map[string]int{}
	// Terragrunt applies a module directory as a root with its inputs:
	// each configuration is an environment of that directory, and a
	// module from the registry is read as a known module's call.
	tgOf := map[string][]*tgConfig{}
	var tgRemote []*tgConfig
	for _, p := range c.terragrunt {
		var cfg *tgConfig
		ok := false
		guard(&res.Errors, p, func() { cfg, ok = l.terragrunt(p, c.scanned[p], 0) })
		if !ok || cfg.source == "" {
			continue
		}
		dir := tgModuleDir(cfg.source, cfg.dir)
		switch {
		case dir != "":
			if _, ok := c.scanned[dir]; !ok {
				c.tfDirs = append(c.tfDirs, dir)
				c.scanned[dir] = c.scanned[p]
			}
			tgOf[dir] = append(tgOf[dir], cfg)
			res.Files = append(res.Files, cfg.path)
		case lookupKnownModule(cfg.source) != nil:
			tgRemote = append(tgRemote, cfg)
		}
	}
	for _, d := range c.tfDirs {
		m := l.load(d)
		for _, decl := range m.resources {
			acr = acr || decl.typ == "azurerm_container_registry"
		}
		example := exampleRoot(c.scanned[d], m.dir)
		var envs []tfEnv
		if cfgs := tgOf[m.dir]; len(cfgs) > 0 {
			example = false
			for _, cfg := range cfgs {
				envs = append(envs, cfg.env(m))
			}
		} else if !example {
			envs = l.varFileEnvs(m)
			if len(envs) > 0 {
				// Applied without a variable file too, if it can be:
				// what the defaults give is graded with the files, and
				// a setting no file changes is not pinned on one.
				vars := make(map[string]cty.Value, len(m.tfvars))
				for n, v := range m.tfvars {
					vars[n] = v
				}
				envs = append([]tfEnv{{label: m.dir, name: "no -var-file", vars: vars, bare: true}}, envs...)
			}
		}
		if len(envs) > 0 {
			m.deployed = true
		}
		mk := func(e *tfEnv) *tfInstance {
			if e == nil {
				return l.instance(m, m.dir, "", nil, true, 0, nil)
			}
			in := l.instance(m, m.dir, "", e.vars, false, 0, nil)
			in.label, in.env, in.bare, in.tg = e.label, e.name, e.bare, e.tg
			for n, w := range e.why {
				in.varWhy[n] = w
			}
			return in
		}
		bases := []*tfEnv{nil}
		if len(envs) > 0 {
			bases = nil
			for i := range envs {
				bases = append(bases, &envs[i])
			}
		}
		// A root that reads terraform.workspace is graded in each
		// workspace it names, on top of each environment.
		instances := []*tfInstance{}
		for _, e := range bases {
			in := mk(e)
			ws, implied := in.workspaces()
			if len(ws) == 0 {
				instances = append(instances, in)
				continue
			}
			for _, w := range ws {
				wi := mk(e)
				wi.workspace = w
				wi.implied = wi.implied || implied && w == "default"
				label, name := m.dir, "workspace "+w
				if e != nil {
					label, name = e.label, e.name+", workspace "+w
				}
				wi.label, wi.env = label+" (workspace "+w+")", name
				instances = append(instances, wi)
			}
		}
		if len(envs) > 0 || len(instances) > 1 {
			named := 0
			for _, in := range instances {
				if !in.bare {
					named++
				}
			}
			envCount[m.dir] = named
		}
		for _, in := range instances {
			in.noCalls = example
			guard(&res.Errors, m.dir, func() {
				in.collect(func(r Resource, a attrs) {
					k := unitKey{m.dir + "\x00" + in.label, r.module}
					if _, ok := units[k]; !ok {
						order = append(order, k)
					}
					units[k] = append(units[k], pending{r, a})
				})
			})
		}
	}
	for _, cfg := range tgRemote {
		in := &tfInstance{l: l, mod: &tfModule{dir: cfg.dir}, root: cfg.dir, label: cfg.dir, env: "terragrunt " + cfg.path}
		k := lookupKnownModule(cfg.source)
		call := &tfCall{source: cfg.source, version: queryParam(cfg.source, "version"), file: &tfFile{path: cfg.path},
			rng: cfg.srcRng, endLine: cfg.srcRng.End.Line}
		inputs, whys := cfg.inputs, cfg.why
		if cfg.unknown != "" {
			for _, n := range []string{k.name, k.mutability, k.filters, k.perName} {
				if _, ok := inputs[n]; !ok && n != "" {
					inputs[n], whys[n] = cty.DynamicVal, cfg.unknown
				}
			}
		}
		key := unitKey{cfg.path, ""}
		order = append(order, key)
		res.Files = append(res.Files, cfg.path)
		guard(&res.Errors, cfg.path, func() {
			in.knownModuleResources(call, k, instanceKey{}, inputs, whys, func(r Resource, a attrs) {
				r.tg, r.byHand = cfg, ""
				units[key] = append(units[key], pending{r, a})
			})
		})
		envCount[cfg.dir] = 1
	}
	res.Errors = append(res.Errors, l.errs...)
	res.Files = append(res.Files, l.files...)

	type blockKey struct {
		file string
		line int
	}
	rootOf := map[blockKey][]Finding{}
	var viaCalls []Finding
	for _, k := range order {
		for _, f := range gradeUnit(units[k], ap) {
			if f.module == "" {
				rootOf[blockKey{f.File, f.Line}] = append(rootOf[blockKey{f.File, f.Line}], f)
				continue
			}
			viaCalls = append(viaCalls, f)
		}
	}
	// A directory that a configuration in the scan calls is a module:
	// Terraform plans its resources only through the calls, at the
	// calls' addresses and with the callers' inputs. Its own defaults
	// are graded only for declarations no followed call reached (a
	// module used only by examples, or called with count = 0).
	callsOf := map[blockKey]bool{}
	for _, f := range viaCalls {
		callsOf[blockKey{f.File, f.Line}] = true
	}
	for k, fs := range rootOf {
		if callsOf[k] {
			continue
		}
		res.Findings = append(res.Findings, fs...)
	}
	res.Findings = append(res.Findings, viaCalls...)

	// CloudFormation templates and plans. A template another nests (a
	// TemplateURL that is a path in the tree) is graded once per parent
	// stack, with the parameters the parent passes, as a module is.
	calls := map[string][]cfnCall{}
	byBase := map[string][]string{}
	for _, p := range append(append([]string{}, c.yaml...), c.json...) {
		byBase[filepath.Base(p)] = append(byBase[filepath.Base(p)], filepath.Clean(p))
	}
	for _, p := range append(append([]string{}, c.yaml...), c.json...) {
		raw, ok := readSmall(p, res)
		if !ok || !hasNested(raw) {
			continue
		}
		guard(&res.Errors, p, func() {
			cs, unread := nestedCalls(p, raw, strings.HasSuffix(p, ".json"), byBase)
			for child, cs := range cs {
				calls[child] = append(calls[child], cs...)
			}
			res.Notes = append(res.Notes, unread...)
		})
	}
	scanTemplate := func(p string, raw []byte, isJSON bool) {
		cs := calls[filepath.Clean(p)]
		if len(cs) == 0 {
			res.Findings = append(res.Findings, scanCFN(p, raw, isJSON, ap, res, nil)...)
			return
		}
		envCount[p] = len(cs)
		for i := range cs {
			res.Findings = append(res.Findings, scanCFN(p, raw, isJSON, ap, res, &cs[i])...)
		}
	}
	// Pulumi YAML programs, graded in each stack whose settings file
	// the project has.
	for _, p := range c.yaml {
		if !isPulumiProject(filepath.Base(p)) {
			continue
		}
		guard(&res.Errors, p, func() {
			prog, ok, err := readPulumi(p)
			if err != nil {
				res.Errors = append(res.Errors, FileError{File: p, Message: "not a readable Pulumi project: " + err.Error()})
				return
			}
			if !ok || len(prog.res) == 0 {
				return
			}
			stacks, errs := prog.stacks()
			res.Errors = append(res.Errors, errs...)
			res.Files = append(res.Files, prog.file)
			if len(stacks) == 0 {
				res.Findings = append(res.Findings, prog.resources(nil, ap)...)
				return
			}
			envCount[prog.dir] = len(stacks)
			for i := range stacks {
				res.Findings = append(res.Findings, prog.resources(&stacks[i], ap)...)
			}
		})
	}
	for _, p := range c.yaml {
		raw, ok := readSmall(p, res)
		if !ok || !bytes.Contains(raw, cfnMarker) {
			continue
		}
		guard(&res.Errors, p, func() { scanTemplate(p, raw, false) })
	}
	for _, p := range c.json {
		if strings.HasSuffix(p, ".tf.json") || strings.HasSuffix(p, ".tofu.json") || strings.HasSuffix(p, ".tfvars.json") {
			continue
		}
		raw, ok := readSmall(p, res)
		if !ok {
			continue
		}
		switch {
		case bytes.Contains(raw, []byte(`"planned_values"`)) || (bytes.Contains(raw, []byte(`"format_version"`)) && bytes.Contains(raw, []byte(`"root_module"`))):
			if !planJSONShape(raw) {
				continue
			}
			var rs []Resource
			var as []attrs
			var err error
			guard(&res.Errors, p, func() { rs, as, err = parsePlan(p, raw) })
			if err != nil {
				res.Errors = append(res.Errors, FileError{File: p, Message: err.Error()})
				continue
			}
			res.Files = append(res.Files, p)
			var pend []pending
			for i := range rs {
				pend = append(pend, pending{rs[i], as[i]})
			}
			res.Findings = append(res.Findings, gradeUnit(pend, ap)...)
		case bytes.Contains(raw, cfnMarker):
			guard(&res.Errors, p, func() { scanTemplate(p, raw, true) })
		}
	}
	res.Findings = dedupeEnvs(res.Findings, envCount)
	if acr {
		res.Notes = append(res.Notes, NoteACR)
	}
	applySuppressions(res)
	sortFindings(res.Findings)
	sort.Strings(res.Files)
	return res
}

// recoverPanics is turned off by the fuzz tests, which must see panics.
var recoverPanics = true

// guard turns a panic in a parser or evaluator (a bug, or input no test
// foresaw) into an error for that file: one file must not stop the scan.
func guard(errs *[]FileError, file string, fn func()) {
	if !recoverPanics {
		fn()
		return
	}
	defer func() {
		if p := recover(); p != nil {
			*errs = append(*errs, FileError{File: file, Message: fmt.Sprintf("internal error while reading it (please report): %v", p)})
		}
	}()
	fn()
}

func readSmall(p string, res *Result) ([]byte, bool) {
	st, err := os.Stat(p)
	if err != nil || st.Size() > maxFileSize {
		return nil, false
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		res.Errors = append(res.Errors, FileError{File: p, Message: err.Error()})
		return nil, false
	}
	return raw, true
}

func scanCFN(p string, raw []byte, isJSON bool, ap audit.Policy, res *Result, call *cfnCall) []Finding {
	var given map[string]any
	if call != nil {
		given = call.params
	}
	t, rs, ok, err := parseCFNGiven(p, raw, isJSON, given)
	if err != nil {
		if !slices.ContainsFunc(res.Errors, func(e FileError) bool { return e.File == p }) {
			res.Errors = append(res.Errors, FileError{File: p, Message: "not a readable template: " + err.Error()})
		}
		return nil
	}
	if !ok {
		return nil
	}
	if !slices.Contains(res.Files, p) {
		res.Files = append(res.Files, p)
	}
	syntax := SyntaxCFNYAML
	if isJSON {
		syntax = SyntaxCFNJSON
	}
	var out []Finding
	for _, cr := range rs {
		// A resource whose Condition is false with the parameter defaults
		// is still graded, as a Terraform declaration with count = 0 is:
		// a stack deployed with other parameters creates it as written.
		off := ""
		if _, cond := mapGet(cr.body, "Condition"); cond != nil && cond.Kind == yaml.ScalarNode {
			t.budget, t.bind = cfnBudget, cr.bind
			if b, why := t.condition(cond.Value); why == "" && !b {
				off = cond.Value
			}
		}
		r := Resource{File: p, Line: cr.key.Line, Column: cr.key.Column, Address: "Resources." + cr.id, Type: cr.typ, Syntax: syntax,
			block: blockRef{file: p, syntax: syntax, name: cr.ref}, endLine: cr.endLine}
		if call != nil {
			r.Root, r.rootDir, r.env = call.parent+" Resources."+call.id, p, call.env()
		}
		a := t.attrs(cr)
		if !classifyEither(&r, a, ap) {
			continue
		}
		if off != "" && r.Immutability.Note == "" {
			r.Immutability.Note = "created only when condition " + off + " holds (false with the parameter defaults)"
		}
		if cdk := cdkPath(cr.body); cdk != "" && r.fixer != nil {
			// cdk synth writes the template again from the app: an edit
			// here is lost; the construct is what to change.
			r.byHand = "the template is synthesized by the AWS CDK: set imageTagMutability: TagMutability.IMMUTABLE (and no mutable exclusions) on the construct " + cdk + ", then cdk synth"
		}
		if call != nil && call.byName != "" {
			n := "nested by " + call.parent + " Resources." + call.id + " through TemplateURL " + call.byName + ": taken to be this file, the only one of that name in the scan"
			if r.Immutability.Note != "" {
				n = r.Immutability.Note + "; " + n
			}
			r.Immutability.Note = n
		}
		if !r.NameKnown && r.Type == cfnECR {
			if _, _, why := a.str("RepositoryName"); why == "" {
				// CloudFormation names the repository itself; findings
				// still say which resource it is.
				r.Name = ""
			}
		}
		out = append(out, grade(r, ap))
	}
	return out
}

// pending is a resource awaiting classification with its arguments.
type pending struct {
	r Resource
	a attrs
}

// gradeUnit classifies and grades the resources of one module instance.
// Resources that only make sense together are resolved here: a Harbor
// project is graded by its rules, and a Docker Hub repository whose
// immutable tags are managed by the standalone resource by that one.
func gradeUnit(ps []pending, ap audit.Policy) []Finding {
	var rs []Resource
	for _, p := range ps {
		r := p.r
		if classifyEither(&r, p.a, ap) {
			if r.via != nil && r.fixer != nil {
				fix, k := r.fixer, r.via
				r.fixer = func(allowed []string) []op { return k.moduleFix(fix(allowed)) }
			}
			rs = append(rs, r)
		}
	}
	ruled := map[string]bool{}
	hubManaged := map[string]bool{}
	hubByName := map[string]bool{}
	projectName := map[string]string{}
	hubRepo := map[string]Resource{}
	for _, r := range rs {
		if r.Type == tfHarborProj {
			// A repeated project (count, for_each) has one name per
			// instance: a rule naming it by project_id gets none.
			k := tfHarborProj + "." + r.block.name
			if _, seen := projectName[k]; seen || !r.NameKnown || r.meta != "" {
				projectName[k] = "\x00"
			} else {
				projectName[k] = r.Name
			}
		}
		if (r.Type == tfHub || r.Type == tfHubLegacy) && r.NameKnown {
			hubRepo[r.Type+"."+r.block.name] = r
		}
	}
	for i, r := range rs {
		switch r.Type {
		case tfHarborRule:
			for _, ref := range r.refs["project_id"] {
				if strings.HasPrefix(ref, tfHarborProj+".") {
					ruled[ref] = true
					if n, ok := projectName[ref]; ok && n != "\x00" {
						rs[i].Name, rs[i].NameKnown = n, true
					}
				}
			}
			// One rule per project of a repeated project resource:
			// for_each = harbor_project.x (project_id = each.value.id),
			// or count = length(harbor_project.x).
			for _, ref := range slices.Concat(r.refs["for_each"], r.refs["count"]) {
				if strings.HasPrefix(ref, tfHarborProj+".") {
					ruled[ref] = true
				}
			}
		case tfHubImmutable:
			for _, ref := range append(r.refs["name"], r.refs["namespace"]...) {
				if strings.HasPrefix(ref, tfHub+".") || strings.HasPrefix(ref, tfHubLegacy+".") {
					hubManaged[ref] = true
					if h, ok := hubRepo[ref]; ok && !r.NameKnown {
						rs[i].Scope, rs[i].Name, rs[i].NameKnown = h.Scope, h.Name, true
						r = rs[i]
					}
				}
			}
			if r.NameKnown {
				hubByName[r.Scope+"/"+r.Name] = true
			}
		}
	}
	// A pull-through cache rule's repositories follow the creation
	// template for PULL_THROUGH_CACHE with its prefix, or the ROOT one.
	templates := map[string]Resource{}
	for _, r := range rs {
		if r.Type == tfECRTemplate && r.forPTC && r.NameKnown && r.Immutability.Mode != providers.ModeUnknown {
			templates[strings.TrimPrefix(r.Name, "template:")] = r
		}
	}
	for i, r := range rs {
		if r.Type != tfECRPTC || !r.NameKnown {
			continue
		}
		t, ok := templates[strings.TrimPrefix(r.Name, "pull-through:")]
		if !ok {
			t, ok = templates["ROOT"]
		}
		if ok {
			rs[i].Immutability = t.Immutability
			rs[i].Immutability.Note = "as " + t.Address + " makes the repositories it creates"
		}
	}
	var out []Finding
	for _, r := range rs {
		switch r.Type {
		case tfHarborProj:
			if ruled[tfHarborProj+"."+r.block.name] {
				continue
			}
		case tfHubLegacy:
			if hubManaged[tfHubLegacy+"."+r.block.name] || r.NameKnown && hubByName[r.Scope+"/"+r.Name] {
				continue // the settings live in docker_hub_repository_immutable_tags
			}
		case tfHub:
			managed := hubManaged[tfHub+"."+r.block.name] || (r.NameKnown && hubByName[r.Scope+"/"+r.Name])
			if managed && r.Immutability.Mode == providers.ModeMutable && r.Immutability.Native == "enabled=false" && r.Immutability.Note != "" {
				continue // the settings live in docker_hub_repository_immutable_tags
			}
		}
		out = append(out, grade(r, ap))
	}
	coverRules(out)
	return out
}

// coverRules applies that Harbor immutability rules and GitLab immutable
// tag rules add up per project: a tag is immutable when any enabled rule
// protects it. When one rule of a project protects every tag, the
// project's other rules leave nothing mutable and are not findings.
func coverRules(out []Finding) {
	key := func(f Finding) string {
		switch f.Type {
		case tfHarborRule:
			for _, ref := range slices.Concat(f.refs["project_id"], f.refs["for_each"], f.refs["count"]) {
				if strings.HasPrefix(ref, tfHarborProj+".") {
					return "harbor|ref|" + ref
				}
			}
			if f.NameKnown {
				return "harbor|" + f.Name
			}
		case tfGitLab:
			if f.NameKnown {
				return "gitlab|" + f.Name
			}
		}
		return ""
	}
	cover := map[string]Finding{}
	for _, f := range out {
		if k := key(f); k != "" && f.Status == audit.StatusCompliant && f.Immutability.Mode == providers.ModeImmutable {
			if _, ok := cover[k]; !ok {
				cover[k] = f
			}
		}
	}
	for i, f := range out {
		c, ok := cover[key(f)]
		if !ok || key(f) == "" || f.Status != audit.StatusDrift {
			continue
		}
		out[i].Status, out[i].Rule = audit.StatusCompliant, audit.RuleImmutable
		out[i].Reason = "every tag of the project is immutable: " + c.Address + " protects them all"
		out[i].Offending, out[i].Remediation, out[i].Edit = nil, "", ""
	}
}

// queryParam is a parameter of a source address's query string.
func queryParam(source, name string) string {
	i := strings.Index(source, "?")
	if i < 0 {
		return ""
	}
	q, err := url.ParseQuery(source[i+1:])
	if err != nil {
		return ""
	}
	return q.Get(name)
}
