package iac

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/audit"
)

// SyntaxPulumi is a Pulumi YAML program (Pulumi.yaml or Main.yaml).
const SyntaxPulumi Syntax = "pulumi-yaml"

// Pulumi resource types, in the short form a YAML program may use; the
// canonical tokens (aws:ecr/repository:Repository) are brought to it.
const (
	pulumiECR         = "aws:ecr:Repository"
	pulumiECRTemplate = "aws:ecr:RepositoryCreationTemplate"
	pulumiAR          = "gcp:artifactregistry:Repository"
)

// pulumiType brings a type token to its short form:
// aws:ecr/repository:Repository is aws:ecr:Repository.
func pulumiType(t string) string {
	parts := strings.Split(strings.TrimSpace(t), ":")
	if len(parts) != 3 {
		return t
	}
	parts[1] = strings.SplitN(parts[1], "/", 2)[0]
	return strings.Join(parts, ":")
}

// pulumiProgram is a Pulumi YAML program with its project's settings.
type pulumiProgram struct {
	file    string // the file declaring the resources
	dir     string // the project directory
	project string
	// config are the program's config declarations (project config
	// and the program's config section), by key.
	config map[string]pulumiConfigDecl
	vars   map[string]*yaml.Node
	res    []pulumiResource
}

type pulumiConfigDecl struct {
	typ        string
	def        any
	hasDefault bool
}

type pulumiResource struct {
	name     string
	typ      string
	key      *yaml.Node
	body     *yaml.Node
	typeKey  *yaml.Node
	propsKey *yaml.Node
	props    *yaml.Node
	// ignored are the properties options.ignoreChanges names (their
	// first segment; "all" for "*"), as lifecycle.ignore_changes.
	ignored []string
}

// isPulumiProject reports a Pulumi project file name.
func isPulumiProject(name string) bool { return name == "Pulumi.yaml" || name == "Pulumi.yml" }

// readPulumi reads the program of the project file p. ok is false for a
// project in another language or without resources of any kind.
func readPulumi(p string) (*pulumiProgram, bool, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, false, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, false, err
	}
	root := docRoot(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, false, nil
	}
	_, rt := mapGet(root, "runtime")
	runtime := ""
	switch {
	case rt != nil && rt.Kind == yaml.ScalarNode:
		runtime = rt.Value
	case rt != nil && rt.Kind == yaml.MappingNode:
		if _, n := mapGet(rt, "name"); n != nil {
			runtime = n.Value
		}
	}
	if runtime != "yaml" {
		return nil, false, nil
	}
	prog := &pulumiProgram{file: p, dir: filepath.Dir(p), config: map[string]pulumiConfigDecl{}, vars: map[string]*yaml.Node{}}
	if _, n := mapGet(root, "name"); n != nil {
		prog.project = n.Value
	}
	prog.readSections(root)
	if _, r := mapGet(root, "resources"); r == nil {
		// The program is Main.yaml, in the project directory or the
		// directory main names.
		dir := prog.dir
		if _, m := mapGet(root, "main"); m != nil && m.Kind == yaml.ScalarNode && m.Value != "" {
			dir = filepath.Join(dir, m.Value)
		}
		mp := filepath.Join(dir, "Main.yaml")
		mraw, err := os.ReadFile(mp)
		if err != nil {
			return nil, false, nil
		}
		var mdoc yaml.Node
		if err := yaml.Unmarshal(mraw, &mdoc); err != nil {
			return nil, false, fmt.Errorf("%s: %w", mp, err)
		}
		mroot := docRoot(&mdoc)
		if mroot == nil || mroot.Kind != yaml.MappingNode {
			return nil, false, nil
		}
		prog.file = mp
		prog.readSections(mroot)
	}
	return prog, true, nil
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return nil
}

// readSections reads config (and the older configuration), variables and
// resources of a program or project file.
func (p *pulumiProgram) readSections(root *yaml.Node) {
	for _, section := range []string{"configuration", "config"} {
		_, c := mapGet(root, section)
		if c == nil || c.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(c.Content); i += 2 {
			k, v := c.Content[i].Value, c.Content[i+1]
			d := pulumiConfigDecl{}
			if v.Kind == yaml.MappingNode {
				if _, t := mapGet(v, "type"); t != nil {
					d.typ = t.Value
				}
				for _, dk := range []string{"default", "value"} {
					if _, dv := mapGet(v, dk); dv != nil {
						var x any
						if dv.Decode(&x) == nil {
							d.def, d.hasDefault = normalizeYAML(x), true
						}
					}
				}
			} else {
				// A project config key given a value is its default.
				var x any
				if v.Decode(&x) == nil {
					d.def, d.hasDefault = normalizeYAML(x), true
				}
			}
			p.config[k] = d
		}
	}
	if _, vs := mapGet(root, "variables"); vs != nil && vs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vs.Content); i += 2 {
			p.vars[vs.Content[i].Value] = vs.Content[i+1]
		}
	}
	_, rs := mapGet(root, "resources")
	if rs == nil || rs.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(rs.Content); i += 2 {
		k, body := rs.Content[i], rs.Content[i+1]
		if body.Kind != yaml.MappingNode {
			continue
		}
		tk, t := mapGet(body, "type")
		if t == nil {
			continue
		}
		if _, get := mapGet(body, "get"); get != nil {
			// get reads a resource that exists; the program does not
			// manage it.
			continue
		}
		pk, props := mapGet(body, "properties")
		pr := pulumiResource{name: k.Value, typ: pulumiType(t.Value), key: k, body: body, typeKey: tk, propsKey: pk, props: props}
		_, opts := mapGet(body, "options")
		if _, ic := mapGet(opts, "ignoreChanges"); ic != nil && ic.Kind == yaml.SequenceNode {
			for _, c := range ic.Content {
				v := strings.TrimSpace(c.Value)
				if v == "*" {
					v = "all"
				}
				if i := strings.IndexAny(v, ".["); i > 0 {
					v = v[:i]
				}
				pr.ignored = append(pr.ignored, v)
			}
		}
		p.res = append(p.res, pr)
	}
}

// normalizeYAML turns decoded YAML into the values attrs hold.
func normalizeYAML(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeYAML(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalizeYAML(e)
		}
		return v
	case int:
		return float64(v)
	}
	return x
}

// pulumiStack is one stack's settings file: Pulumi.<stack>.yaml.
type pulumiStack struct {
	name, file string
	config     map[string]any
	// esc names the Pulumi ESC environments the stack imports: they
	// can set any config key the file does not.
	esc string
}

// stacks reads the project's stack settings files; unreadable ones are
// returned as errors and not graded.
func (p *pulumiProgram) stacks() ([]pulumiStack, []FileError) {
	var out []pulumiStack
	var errs []FileError
	ms, _ := filepath.Glob(filepath.Join(p.dir, "Pulumi.*.yaml"))
	ms2, _ := filepath.Glob(filepath.Join(p.dir, "Pulumi.*.yml"))
	ms = append(ms, ms2...)
	sort.Strings(ms)
	for _, f := range ms {
		base := filepath.Base(f)
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".yaml"), ".yml")
		if name == "" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, FileError{File: f, Message: err.Error()})
			continue
		}
		var doc struct {
			Config      map[string]any `yaml:"config"`
			Environment any            `yaml:"environment"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			errs = append(errs, FileError{File: f, Message: "not a readable stack settings file: " + err.Error()})
			continue
		}
		cfg := map[string]any{}
		for k, v := range doc.Config {
			cfg[k] = normalizeYAML(v)
		}
		st := pulumiStack{name: name, file: f, config: cfg}
		switch env := doc.Environment.(type) {
		case string:
			st.esc = env
		case []any:
			var names []string
			for _, e := range env {
				names = append(names, fmt.Sprint(e))
			}
			st.esc = strings.Join(names, ", ")
		case map[string]any:
			st.esc = "the environment of " + base
		}
		out = append(out, st)
	}
	return out, errs
}

// pulumiEval evaluates a program's expressions in one stack.
type pulumiEval struct {
	p     *pulumiProgram
	stack *pulumiStack
	busy  map[string]bool
	depth int
	// steps bounds the work of one resource: aliases can make a small
	// file a very large value.
	steps int
}

const maxPulumiSteps = 100000

var pulumiInterp = regexp.MustCompile(`\$\{([^}]*)\}`)

func (e *pulumiEval) node(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	e.depth++
	e.steps++
	defer func() { e.depth-- }()
	if e.depth > 32 || e.steps > maxPulumiSteps {
		return unknown{why: "the expression nests too deeply or is too large"}
	}
	switch n.Kind {
	case yaml.AliasNode:
		return e.node(n.Alias)
	case yaml.ScalarNode:
		var x any
		if err := n.Decode(&x); err != nil {
			return unknown{why: "value cannot be read: " + err.Error()}
		}
		if s, ok := x.(string); ok && n.Tag == "!!str" {
			return e.interpolate(s)
		}
		return normalizeYAML(x)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, e.node(c))
		}
		return out
	case yaml.MappingNode:
		if len(n.Content) == 2 && strings.HasPrefix(strings.ToLower(n.Content[0].Value), "fn::") {
			fn := n.Content[0].Value
			if strings.EqualFold(fn, "fn::secret") {
				return e.node(n.Content[1])
			}
			return unknown{why: fn + " is evaluated when Pulumi runs"}
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = e.node(n.Content[i+1])
		}
		return out
	}
	return nil
}

// interpolate resolves ${...} in a string: the whole string one
// reference keeps the value's type.
func (e *pulumiEval) interpolate(s string) any {
	if !strings.Contains(s, "${") {
		return s
	}
	if m := pulumiInterp.FindStringSubmatchIndex(s); m != nil && m[0] == 0 && m[1] == len(s) {
		return e.ref(strings.TrimSpace(s[m[2]:m[3]]))
	}
	var b strings.Builder
	var why string
	last := 0
	for _, m := range pulumiInterp.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > 0 && s[m[0]-1] == '$' {
			// $${x} is the text ${x}.
			b.WriteString(s[last : m[0]-1])
			b.WriteString(s[m[0]:m[1]])
			last = m[1]
			continue
		}
		b.WriteString(s[last:m[0]])
		last = m[1]
		v := e.ref(strings.TrimSpace(s[m[2]:m[3]]))
		switch x := v.(type) {
		case unknown:
			if why == "" {
				why = x.why
			}
		case string:
			b.WriteString(x)
		case bool, float64:
			b.WriteString(fmt.Sprint(x))
		default:
			if why == "" {
				why = "${" + s[m[2]:m[3]] + "} is not text"
			}
		}
	}
	if why != "" {
		return unknown{why: why}
	}
	b.WriteString(s[last:])
	return b.String()
}

var pulumiAccessor = regexp.MustCompile(`^\.([A-Za-z_][A-Za-z0-9_-]*)|^\[\s*(\d+)\s*\]|^\[\s*"([^"]*)"\s*\]`)

// ref resolves a reference: a variable, a config key, pulumi.stack or
// pulumi.project, with property and index accessors. A resource's
// outputs are known once Pulumi creates it.
func (e *pulumiEval) ref(expr string) any {
	root := expr
	rest := ""
	if i := strings.IndexAny(expr, ".["); i >= 0 {
		root, rest = expr[:i], expr[i:]
	}
	var v any
	switch {
	case root == "pulumi":
		switch {
		case strings.HasPrefix(rest, ".stack") && e.stack != nil:
			v, rest = e.stack.name, strings.TrimPrefix(rest, ".stack")
		case strings.HasPrefix(rest, ".stack"):
			return unknown{why: "${pulumi.stack} is the stack Pulumi runs, and the project has no stack settings file"}
		case strings.HasPrefix(rest, ".project"):
			v, rest = e.p.project, strings.TrimPrefix(rest, ".project")
		default:
			return unknown{why: "${" + expr + "} is known when Pulumi runs"}
		}
	case e.p.vars[root] != nil:
		if e.busy[root] {
			return unknown{why: "variable " + root + " refers to itself"}
		}
		e.busy[root] = true
		v = e.node(e.p.vars[root])
		delete(e.busy, root)
	default:
		if cv, ok := e.config(root); ok {
			v = cv
		} else if _, declared := e.p.config[root]; declared || strings.Contains(root, ":") {
			where := "no stack settings file"
			if e.stack != nil {
				where = filepath.Base(e.stack.file)
			}
			return unknown{why: "config " + root + " has no default and no value in " + where}
		} else if e.p.isResource(root) {
			return unknown{why: "${" + expr + "} is an output of resource " + root + ", known once Pulumi creates it"}
		} else {
			return unknown{why: "${" + expr + "} names nothing the program declares"}
		}
	}
	for rest != "" {
		if u, ok := v.(unknown); ok {
			return u
		}
		m := pulumiAccessor.FindStringSubmatch(rest)
		if m == nil {
			return unknown{why: "${" + expr + "} cannot be read"}
		}
		rest = rest[len(m[0]):]
		switch {
		case m[1] != "" || m[3] != "":
			k := m[1] + m[3]
			obj, ok := v.(map[string]any)
			if !ok {
				return unknown{why: "${" + expr + "}: not an object"}
			}
			v = obj[k]
		default:
			i, _ := strconv.Atoi(m[2])
			l, ok := v.([]any)
			if !ok || i >= len(l) {
				return unknown{why: "${" + expr + "}: no such element"}
			}
			v = l[i]
		}
	}
	return v
}

func (p *pulumiProgram) isResource(name string) bool {
	for _, r := range p.res {
		if r.name == name {
			return true
		}
	}
	return false
}

// config is a config key's value in the stack (namespaced by the
// project, as pulumi config set writes it), or its declared default.
func (e *pulumiEval) config(key string) (any, bool) {
	d := e.p.config[key]
	if e.stack != nil {
		for _, k := range []string{e.p.project + ":" + key, key} {
			if v, ok := e.stack.config[k]; ok {
				if m, ok := v.(map[string]any); ok && m["secure"] != nil {
					return unknown{why: "config " + key + " is a secret of " + filepath.Base(e.stack.file)}, true
				}
				return typedConfig(v, d.typ), true
			}
		}
	}
	if e.stack != nil && e.stack.esc != "" {
		// An ESC environment's pulumiConfig is read when Pulumi runs.
		return unknown{why: "config " + key + " is not in " + filepath.Base(e.stack.file) + " and may come from ESC environment " + e.stack.esc}, true
	}
	if d.hasDefault {
		return typedConfig(d.def, d.typ), true
	}
	return nil, false
}

// typedConfig converts a stack value written as text to the declared type.
func typedConfig(v any, typ string) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch strings.ToLower(typ) {
	case "boolean", "bool":
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	case "integer", "number", "int":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return v
}

// attrs gives a Pulumi resource's properties the names of the Terraform
// provider Pulumi bridges (the same settings), for one classification.
func (e *pulumiEval) attrs(r pulumiResource) attrs {
	prop := func(k string) any {
		_, v := mapGet(r.props, k)
		if v == nil {
			return nil
		}
		return e.node(v)
	}
	a := attrs{}
	switch r.typ {
	case pulumiECR, pulumiECRTemplate:
		if r.typ == pulumiECR {
			a["name"] = prop("name")
		} else {
			a["prefix"] = prop("prefix")
			a["applied_for"] = prop("appliedFors")
		}
		a["image_tag_mutability"] = prop("imageTagMutability")
		switch fs := prop("imageTagMutabilityExclusionFilters").(type) {
		case []any:
			var out []any
			for _, f := range fs {
				m, ok := f.(map[string]any)
				if !ok {
					out = append(out, f)
					continue
				}
				out = append(out, map[string]any{"filter": m["filter"], "filter_type": m["filterType"]})
			}
			a["image_tag_mutability_exclusion_filter"] = out
		case nil:
		default:
			a["image_tag_mutability_exclusion_filter"] = fs
		}
	case pulumiAR:
		for tf, pu := range map[string]string{"repository_id": "repositoryId", "format": "format", "mode": "mode", "project": "project", "location": "location"} {
			a[tf] = prop(pu)
		}
		switch dc := prop("dockerConfig").(type) {
		case map[string]any:
			a["docker_config"] = []any{map[string]any{"immutable_tags": dc["immutableTags"]}}
		case nil:
		default:
			a["docker_config"] = dc
		}
	}
	return a
}

// pulumiNames are the Terraform names of the settings with the Pulumi
// property names a program writes.
var pulumiNames = strings.NewReplacer(
	"image_tag_mutability_exclusion_filter", "imageTagMutabilityExclusionFilters",
	"image_tag_mutability", "imageTagMutability",
	"docker_config.immutable_tags", "dockerConfig.immutableTags",
	"docker_config", "dockerConfig",
	"repository_id", "repositoryId",
	"applied_for", "appliedFors",
)

// pulumiOps are the edits of a Terraform fixer in the program's names.
func pulumiOps(ops []op) []op {
	out := make([]op, 0, len(ops))
	for _, o := range ops {
		switch {
		case o.kind == opSet && len(o.path) == 1 && o.path[0] == "image_tag_mutability":
			out = append(out, op{kind: opSet, path: []string{"imageTagMutability"}, value: o.value})
		case o.kind == opRemove && len(o.path) == 1 && o.path[0] == "image_tag_mutability_exclusion_filter":
			out = append(out, op{kind: opRemove, path: []string{"imageTagMutabilityExclusionFilters"}})
			if len(o.keep) > 0 {
				var list []any
				for _, k := range o.keep {
					list = append(list, map[string]any{"filter": k, "filterType": "WILDCARD"})
				}
				out = append(out, op{kind: opSet, path: []string{"imageTagMutabilityExclusionFilters"}, value: list})
			}
		case o.kind == opSet && len(o.path) == 2 && o.path[0] == "docker_config" && o.path[1] == "immutable_tags":
			out = append(out, op{kind: opSet, path: []string{"dockerConfig", "immutableTags"}, value: o.value})
		default:
			// An edit the program cannot take as written: none.
			return nil
		}
	}
	return out
}

// pulumiResources classifies a program's resources in one stack.
func (p *pulumiProgram) resources(stack *pulumiStack, ap audit.Policy) []Finding {
	e := &pulumiEval{p: p, stack: stack, busy: map[string]bool{}}
	var out []Finding
	for _, pr := range p.res {
		tfType := map[string]string{pulumiECR: tfECR, pulumiECRTemplate: tfECRTemplate, pulumiAR: tfAR}[pr.typ]
		if tfType == "" {
			continue
		}
		e.steps = 0
		a := e.attrs(pr)
		r := Resource{File: p.file, Line: pr.key.Line, Column: pr.key.Column, Address: "resources." + pr.name, Type: tfType,
			Syntax: SyntaxPulumi, block: blockRef{file: p.file, syntax: SyntaxPulumi, name: pr.name}, endLine: lastLine(pr.body), ignored: pr.ignored}
		autoNamed := pr.typ == pulumiECR && a["name"] == nil
		if !classify(&r, a) {
			continue
		}
		r.Type = pr.typ
		if autoNamed {
			// Pulumi names the repository itself (the resource name
			// and a random suffix).
			r.Name, r.NameKnown = "", false
		}
		im := &r.Immutability
		im.Error, im.Note = pulumiNames.Replace(im.Error), pulumiNames.Replace(im.Note)
		if fix := r.fixer; fix != nil {
			r.fixer = func(allowed []string) []op { return pulumiOps(fix(allowed)) }
		}
		if stack != nil {
			r.rootDir, r.env = p.dir, "stack "+stack.name
		}
		out = append(out, grade(r, ap))
	}
	return out
}

// editPulumi edits a program on its text as a template is edited, and
// grades the edited resources again: the edit must make them compliant.
func editPulumi(file string, src []byte, es []*edit, p Policy) ([]byte, error) {
	prog, err := parsePulumiProgram(file, src)
	if err != nil {
		return nil, err
	}
	le := newLineEdits(src)
	for _, e := range es {
		var pr *pulumiResource
		for i := range prog.res {
			if prog.res[i].name == e.block.name {
				pr = &prog.res[i]
			}
		}
		if pr == nil {
			return nil, fmt.Errorf("resource %s not found", e.block.name)
		}
		cr := &cfnResource{id: pr.name, typ: pr.typ, key: pr.key, props: pr.props, propsKey: pr.propsKey, typeKey: pr.typeKey, body: pr.body, propsName: "properties"}
		// A value in a flow mapping ({immutableTags: false}) ends at a
		// comma or brace, as in JSON.
		flow := func(n *yaml.Node) bool { return n != nil && n.Style&yaml.FlowStyle != 0 }
		for _, o := range e.ops {
			switch {
			case o.kind == opSet && len(o.path) == 1:
				setCFN(le, cr, o.path[0], o.value, flow(pr.props))
			case o.kind == opRemove && len(o.path) == 1:
				if flow(pr.props) {
					return nil, fmt.Errorf("%s: properties written on one line: remove %s by hand", pr.name, o.path[0])
				}
				removeCFN(le, cr, o.path[0], false)
			case o.kind == opSet && len(o.path) == 2:
				k, v := mapGet(pr.props, o.path[0])
				if v == nil {
					setCFN(le, cr, o.path[0], map[string]any{o.path[1]: o.value}, false)
					continue
				}
				if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
					return nil, fmt.Errorf("%s.%s is not a mapping with entries", pr.name, o.path[0])
				}
				sub := &cfnResource{id: pr.name + "." + o.path[0], props: v, propsKey: k, typeKey: k, body: v, propsName: o.path[0]}
				setCFN(le, sub, o.path[1], o.value, flow(v))
			default:
				return nil, fmt.Errorf("%s: no automatic edit", pr.name)
			}
		}
	}
	if le.failed != nil {
		return nil, le.failed
	}
	out := le.render()
	prog2, err := parsePulumiProgram(file, out)
	if err != nil {
		return nil, fmt.Errorf("the edited program does not parse: %w", err)
	}
	ap := p.auditPolicy()
	ev := &pulumiEval{p: prog2, busy: map[string]bool{}}
	for _, e := range es {
		for _, pr := range prog2.res {
			if pr.name != e.block.name {
				continue
			}
			r := Resource{Type: map[string]string{pulumiECR: tfECR, pulumiECRTemplate: tfECRTemplate, pulumiAR: tfAR}[pr.typ], File: file}
			classify(&r, ev.attrs(pr))
			r.NameKnown = true
			if g := grade(r, ap); g.Status != audit.StatusCompliant && g.Status != audit.StatusExempt {
				return nil, fmt.Errorf("%s would still be %s after the edit", pr.name, g.Status)
			}
		}
	}
	return out, nil
}

// parsePulumiProgram reads the resources of a program's text (the
// file the edit goes to, project file or Main.yaml).
func parsePulumiProgram(file string, src []byte) (*pulumiProgram, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	root := docRoot(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a Pulumi program")
	}
	prog := &pulumiProgram{file: file, dir: filepath.Dir(file), config: map[string]pulumiConfigDecl{}, vars: map[string]*yaml.Node{}}
	prog.readSections(root)
	return prog, nil
}
