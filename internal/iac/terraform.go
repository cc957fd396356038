package iac

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxModuleDepth bounds module nesting (and so a module that calls
// itself through a path that does not look like a cycle).
const maxModuleDepth = 16

// tfFile is one parsed configuration file.
type tfFile struct {
	path string
	body hcl.Body
	json bool
}

type tfVar struct {
	name string
	def  hcl.Expression
	typ  hcl.Expression
	// nonNullable is nullable = false: a caller's null means the default.
	nonNullable bool
}

type tfDecl struct {
	typ, name      string
	body           hcl.Body
	file           *tfFile
	rng            hcl.Range
	endLine        int
	count, forEach hcl.Expression
	// overrides are the override files merged into the declaration.
	overrides []string
}

type tfCall struct {
	name           string
	source         string
	version        string
	endLine        int
	file           *tfFile
	rng            hcl.Range
	inputs         map[string]*hcl.Attribute
	count, forEach hcl.Expression
}

// tfModule is one directory of configuration files.
type tfModule struct {
	dir       string
	files     []*tfFile
	variables map[string]*tfVar
	locals    map[string]*hcl.Attribute
	resources []*tfDecl
	calls     []*tfCall
	// tfvars are values from terraform.tfvars and *.auto.tfvars, used
	// when the directory is scanned as a root module.
	tfvars map[string]cty.Value
	// deployed is a directory with the marks of a configuration that is
	// applied: a backend or cloud block, or variable files.
	deployed bool
}

// resource returns the declaration of type.name, or nil.
func (m *tfModule) resource(typ, name string) *tfDecl {
	for _, d := range m.resources {
		if d.typ == typ && d.name == name {
			return d
		}
	}
	return nil
}

// call returns the module call of that name, or nil.
func (m *tfModule) call(name string) *tfCall {
	for _, c := range m.calls {
		if c.name == name {
			return c
		}
	}
	return nil
}

// tfLoader parses directories once and remembers them.
type tfLoader struct {
	// manifests caches each root's .terraform/modules/modules.json.
	manifests map[string]map[string]string
	parser    *hclparse.Parser
	modules   map[string]*tfModule
	errs      []FileError
	files     []string
}

func newTFLoader() *tfLoader {
	return &tfLoader{parser: hclparse.NewParser(), modules: map[string]*tfModule{}}
}

var topSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "module", LabelNames: []string{"name"}},
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "terraform"},
}}

var terraformBlockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "backend", LabelNames: []string{"type"}},
	{Type: "cloud"},
}}

var varSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "type"}, {Name: "nullable"}}}

func diagErrors(diags hcl.Diagnostics, file string) []FileError {
	var out []FileError
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		fe := FileError{File: file, Message: d.Summary}
		if d.Detail != "" {
			fe.Message += ": " + d.Detail
		}
		if d.Subject != nil {
			fe.File, fe.Line = d.Subject.Filename, d.Subject.Start.Line
		}
		out = append(out, fe)
	}
	return out
}

// isTFFile reports whether name is a Terraform configuration file.
// OpenTofu also reads .tofu and .tofu.json.
func isTFFile(name string) bool {
	return strings.HasSuffix(name, ".tf") || strings.HasSuffix(name, ".tf.json") ||
		strings.HasSuffix(name, ".tofu") || strings.HasSuffix(name, ".tofu.json")
}

// tofuTwin is the .tofu file OpenTofu reads instead of a .tf file of the
// same name ("" for other names).
func tofuTwin(name string) string {
	switch {
	case strings.HasSuffix(name, ".tf"):
		return strings.TrimSuffix(name, ".tf") + ".tofu"
	case strings.HasSuffix(name, ".tf.json"):
		return strings.TrimSuffix(name, ".tf.json") + ".tofu.json"
	}
	return ""
}

// load parses the configuration files of dir (not its subdirectories).
func (l *tfLoader) load(dir string) *tfModule {
	dir = filepath.Clean(dir)
	if m, ok := l.modules[dir]; ok {
		return m
	}
	m := &tfModule{dir: dir, variables: map[string]*tfVar{}, locals: map[string]*hcl.Attribute{}, tfvars: map[string]cty.Value{}}
	l.modules[dir] = m
	ents, err := os.ReadDir(dir)
	if err != nil {
		l.errs = append(l.errs, FileError{File: dir, Message: err.Error()})
		return m
	}
	var tfvars, overrides []string
	present := map[string]bool{}
	for _, e := range ents {
		present[e.Name()] = true
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if t := tofuTwin(name); t != "" && present[t] {
			// OpenTofu reads main.tofu and ignores main.tf beside it.
			continue
		}
		p := filepath.Join(dir, name)
		switch {
		case isTFFile(name) && isOverrideFile(name):
			overrides = append(overrides, p)
		case isTFFile(name):
			l.parseFile(m, p, strings.HasSuffix(name, ".json"), false)
		case name == "terraform.tfvars" || name == "terraform.tfvars.json" ||
			strings.HasSuffix(name, ".auto.tfvars") || strings.HasSuffix(name, ".auto.tfvars.json"):
			tfvars = append(tfvars, p)
			m.deployed = true
		}
	}
	// Override files merge into the declarations of the others, in
	// lexical order, after all of them are read (as Terraform does).
	for _, p := range overrides {
		l.parseFile(m, p, strings.HasSuffix(p, ".json"), true)
	}
	// terraform.tfvars first, then *.auto.tfvars in lexical order, as
	// Terraform applies them (later wins).
	sort.SliceStable(tfvars, func(i, j int) bool {
		a, b := strings.HasPrefix(filepath.Base(tfvars[i]), "terraform.tfvars"), strings.HasPrefix(filepath.Base(tfvars[j]), "terraform.tfvars")
		if a != b {
			return a
		}
		return tfvars[i] < tfvars[j]
	})
	for _, p := range tfvars {
		l.parseTFVars(m, p)
	}
	return m
}

// isOverrideFile reports Terraform's override files: override.tf,
// override.tf.json and names ending in _override.tf(.json).
func isOverrideFile(name string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tf"), ".tofu")
	return base == "override" || strings.HasSuffix(base, "_override")
}

// overrideBody merges an override block's body into the original's as
// Terraform does: each argument replaces the original's, and nested
// blocks of a type the override declares replace all the original's
// blocks of that type (static or dynamic). Bodies in JSON syntax are
// not merged: the override's body then stands alone.
func overrideBody(orig, over hcl.Body) hcl.Body {
	ob, ok1 := orig.(*hclsyntax.Body)
	vb, ok2 := over.(*hclsyntax.Body)
	if !ok1 || !ok2 {
		return over
	}
	merged := *ob
	merged.Attributes = hclsyntax.Attributes{}
	for n, a := range ob.Attributes {
		merged.Attributes[n] = a
	}
	for n, a := range vb.Attributes {
		merged.Attributes[n] = a
	}
	kind := func(b *hclsyntax.Block) string {
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			return b.Labels[0]
		}
		return b.Type
	}
	replaced := map[string]bool{}
	for _, b := range vb.Blocks {
		replaced[kind(b)] = true
	}
	merged.Blocks = nil
	for _, b := range ob.Blocks {
		if !replaced[kind(b)] {
			merged.Blocks = append(merged.Blocks, b)
		}
	}
	merged.Blocks = append(merged.Blocks, vb.Blocks...)
	return &merged
}

func (l *tfLoader) parseFile(m *tfModule, p string, isJSON, override bool) {
	var f *hcl.File
	var diags hcl.Diagnostics
	if isJSON {
		f, diags = l.parser.ParseJSONFile(p)
	} else {
		f, diags = l.parser.ParseHCLFile(p)
	}
	l.files = append(l.files, p)
	if diags.HasErrors() {
		// What a broken file declares is not graded: the file error is
		// reported instead, and nothing in it is called compliant.
		l.errs = append(l.errs, diagErrors(diags, p)...)
		return
	}
	if f == nil || f.Body == nil {
		return
	}
	tf := &tfFile{path: p, body: f.Body, json: isJSON}
	m.files = append(m.files, tf)
	content, _, _ := f.Body.PartialContent(topSchema)
	if content == nil {
		return
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "resource":
			if override {
				if d := m.resource(b.Labels[0], b.Labels[1]); d != nil {
					d.body = overrideBody(d.body, b.Body)
					d.overrides = append(d.overrides, p)
					all := allAttrs(b.Body)
					if a := all["count"]; a != nil {
						d.count, d.forEach = a.Expr, nil
					}
					if a := all["for_each"]; a != nil {
						d.forEach, d.count = a.Expr, nil
					}
				}
				continue
			}
			d := &tfDecl{typ: b.Labels[0], name: b.Labels[1], body: b.Body, file: tf, rng: b.DefRange, endLine: b.DefRange.End.Line}
			if sb, ok := b.Body.(*hclsyntax.Body); ok {
				d.endLine = sb.SrcRange.End.Line
			}
			all := allAttrs(b.Body)
			if a := all["count"]; a != nil {
				d.count = a.Expr
			}
			if a := all["for_each"]; a != nil {
				d.forEach = a.Expr
			}
			m.resources = append(m.resources, d)
		case "module":
			c := &tfCall{name: b.Labels[0], file: tf, rng: b.DefRange, endLine: b.DefRange.End.Line, inputs: map[string]*hcl.Attribute{}}
			if sb, ok := b.Body.(*hclsyntax.Body); ok {
				c.endLine = sb.SrcRange.End.Line
			}
			if override {
				if orig := m.call(c.name); orig != nil {
					c = orig
				} else {
					continue
				}
			}
			for n, a := range allAttrs(b.Body) {
				switch n {
				case "source":
					v, d := a.Expr.Value(nil)
					if !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						c.source = v.AsString()
					}
				case "count":
					c.count = a.Expr
				case "for_each":
					c.forEach = a.Expr
				case "version":
					v, d := a.Expr.Value(nil)
					if !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						c.version = v.AsString()
					}
				case "providers", "depends_on":
				default:
					c.inputs[n] = a
				}
			}
			if !override {
				m.calls = append(m.calls, c)
			}
		case "variable":
			v := &tfVar{name: b.Labels[0]}
			if orig := m.variables[v.name]; override && orig != nil {
				v = orig
			}
			vc, _, _ := b.Body.PartialContent(varSchema)
			if vc != nil {
				if a := vc.Attributes["default"]; a != nil {
					v.def = a.Expr
				}
				if a := vc.Attributes["type"]; a != nil {
					v.typ = a.Expr
				}
				if a := vc.Attributes["nullable"]; a != nil {
					if nv, d := a.Expr.Value(nil); !d.HasErrors() && nv.Type() == cty.Bool && nv.IsKnown() && !nv.IsNull() {
						v.nonNullable = nv.False()
					}
				}
			}
			m.variables[v.name] = v
		case "locals":
			for n, a := range allAttrs(b.Body) {
				m.locals[n] = a
			}
		case "terraform":
			if tc, _, _ := b.Body.PartialContent(terraformBlockSchema); tc != nil && len(tc.Blocks) > 0 {
				m.deployed = true
			}
		}
	}
}

func (l *tfLoader) parseTFVars(m *tfModule, p string) {
	f, diags := l.parseVarsFile(p)
	if diags.HasErrors() || f == nil {
		l.errs = append(l.errs, diagErrors(diags, p)...)
		return
	}
	as, _ := f.Body.JustAttributes()
	for n, a := range as {
		v, d := a.Expr.Value(nil)
		if d.HasErrors() {
			continue
		}
		m.tfvars[n] = v
	}
}

// allAttrs returns every attribute of a body, whatever its syntax (JSON
// bodies have no blocks until a schema says so).
func allAttrs(b hcl.Body) map[string]*hcl.Attribute {
	if sb, ok := b.(*hclsyntax.Body); ok {
		out := make(map[string]*hcl.Attribute, len(sb.Attributes))
		for n, a := range sb.Attributes {
			out[n] = a.AsHCLAttribute()
		}
		return out
	}
	as, _ := b.JustAttributes()
	return as
}

// localSource reports whether a module source is a path in the tree.
func localSource(s string) bool {
	return strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || s == "." || s == ".."
}

// tfInstance is a module evaluated with concrete inputs.
type tfInstance struct {
	l       *tfLoader
	mod     *tfModule
	root    string // directory of the root module
	address string // "module.a." prefix, "" for the root
	vars    map[string]cty.Value
	varWhy  map[string]string
	locals  map[string]cty.Value
	busy    map[string]bool
	depth   int
	stack   []string
	// noCalls leaves module calls alone (a root that only exercises the
	// module, such as examples/ or test/).
	noCalls bool
	funcs   map[string]function.Function
	// label names the environment (variable file, Terragrunt
	// configuration) the root is applied with; "" for its defaults.
	label string
	env   string
	// workspace is terraform.workspace ("" when not known).
	workspace string
	// implied is a deployment the configuration does not name (the
	// default workspace standing for unnamed ones, the root without a
	// variable file): its unreadable values give way to named ones.
	implied bool
	// bare is the root applied without any variable file, beside the
	// variable files it has: graded only to tell which findings the
	// files change, reported only for what no file grades.
	bare bool
	// tg is the Terragrunt configuration applying the root.
	tg *tgConfig
}

func (l *tfLoader) instance(m *tfModule, root, address string, inputs map[string]cty.Value, asRoot bool, depth int, stack []string) *tfInstance {
	in := &tfInstance{l: l, mod: m, root: root, address: address, vars: map[string]cty.Value{}, varWhy: map[string]string{},
		locals: map[string]cty.Value{}, busy: map[string]bool{}, depth: depth, stack: append(stack, m.dir)}
	for name, v := range m.variables {
		val, given := inputs[name]
		if !given && asRoot {
			val, given = m.tfvars[name]
		}
		if given && v.nonNullable && val.IsKnown() && val.IsNull() {
			// Terraform gives a non-nullable variable its default when
			// the caller passes null (a wrapper forwarding its own
			// null-default input, typically).
			given = false
		}
		if !given {
			if v.def == nil {
				in.vars[name] = cty.DynamicVal
				in.varWhy[name] = fmt.Sprintf("variable %q has no default and no value in the scanned files", name)
				continue
			}
			dv, d := v.def.Value(nil)
			if d.HasErrors() {
				in.vars[name] = cty.DynamicVal
				in.varWhy[name] = fmt.Sprintf("variable %q has a default the scan cannot evaluate", name)
				continue
			}
			val = dv
		}
		in.vars[name] = typed(val, v.typ)
	}
	return in
}

// typed applies a variable's type constraint, with optional attribute
// defaults, as Terraform does before the module sees the value.
func typed(v cty.Value, typ hcl.Expression) cty.Value {
	if typ == nil || v.IsNull() || !v.IsWhollyKnown() {
		return v
	}
	ty, defaults, d := typeexpr.TypeConstraintWithDefaults(typ)
	if d.HasErrors() {
		return v
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	if c, err := convert.Convert(v, ty); err == nil {
		return c
	}
	return v
}

var tfFunctions = func() map[string]function.Function {
	fs := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc, "chunklist": stdlib.ChunklistFunc,
		"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "csvdecode": stdlib.CSVDecodeFunc,
		"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
		"floor": stdlib.FloorFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "index": stdlib.IndexFunc, "join": stdlib.JoinFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "log": stdlib.LogFunc,
		"lookup": lookupFunc, "lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc,
		"min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "range": stdlib.RangeFunc,
		"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "replace": replaceFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc, "setsubtract": stdlib.SetSubtractFunc,
		"setunion": stdlib.SetUnionFunc, "signum": stdlib.SignumFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc,
		"split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc,
		"trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc, "trimspace": stdlib.TrimSpaceFunc,
		"trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc, "values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		"startswith": startsWithFunc, "endswith": endsWithFunc, "strcontains": strContainsFunc,
		"alltrue": boolsFunc(true), "anytrue": boolsFunc(false), "sum": sumFunc, "one": oneFunc,
		"sensitive": identityFunc, "nonsensitive": identityFunc, "yamldecode": yamlDecodeFunc,
		"basename": pathFunc(filepath.Base), "dirname": pathFunc(filepath.Dir),
		"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number), "tobool": stdlib.MakeToFunc(cty.Bool),
		"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)), "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	}
	return fs
}()

// known root names of expressions; any other root (a resource type,
// data, module) is a value only apply knows.
var builtinRoots = map[string]bool{"var": true, "local": true, "count": true, "each": true, "path": true}

// ctx builds the evaluation context for expr; extra holds count/each.
func (in *tfInstance) ctx(expr hcl.Expression, extra map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   objectOrEmpty(in.vars),
		"path":  in.paths(),
		"count": cty.DynamicVal,
		"each":  cty.DynamicVal,
	}
	if in.workspace != "" {
		vars["terraform"] = cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal(in.workspace)})
	}
	for k, v := range extra {
		vars[k] = v
	}
	locals := map[string]cty.Value{}
	for _, t := range expr.Variables() {
		root := t.RootName()
		switch {
		case root == "local":
			if name := attrName(t); name != "" {
				locals[name] = in.local(name)
			}
		case !builtinRoots[root]:
			if _, ok := vars[root]; !ok {
				vars[root] = cty.DynamicVal
			}
		}
	}
	vars["local"] = objectOrEmpty(locals)
	return &hcl.EvalContext{Variables: vars, Functions: in.functions()}
}

// paths is path.*, as Terraform gives it: relative to the root module
// directory, where Terraform runs (and where file() reads from).
func (in *tfInstance) paths() cty.Value {
	mod := "."
	if rel, err := filepath.Rel(in.root, in.mod.dir); err == nil {
		mod = filepath.ToSlash(rel)
	}
	return cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(mod), "root": cty.StringVal("."), "cwd": cty.StringVal(in.root)})
}

// functions are tfFunctions with the file functions reading from the
// root module directory.
func (in *tfInstance) functions() map[string]function.Function {
	if in.funcs == nil {
		in.funcs = make(map[string]function.Function, len(tfFunctions)+2)
		for k, f := range tfFunctions {
			in.funcs[k] = f
		}
		for k, f := range (fileReader{root: in.root}).functions() {
			in.funcs[k] = f
		}
	}
	return in.funcs
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func attrName(t hcl.Traversal) string {
	if len(t) < 2 {
		return ""
	}
	if a, ok := t[1].(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// local evaluates a local value (memoised; a cycle is unknown).
func (in *tfInstance) local(name string) cty.Value {
	if v, ok := in.locals[name]; ok {
		return v
	}
	a := in.mod.locals[name]
	if a == nil || in.busy[name] {
		return cty.DynamicVal
	}
	in.busy[name] = true
	v, d := a.Expr.Value(in.ctx(a.Expr, nil))
	delete(in.busy, name)
	if d.HasErrors() {
		v = cty.DynamicVal
	}
	in.locals[name] = v
	return v
}

// eval evaluates an expression into a plain value; unknown parts say
// what they depend on.
func (in *tfInstance) eval(expr hcl.Expression, extra map[string]cty.Value) any {
	ctx := in.ctx(expr, extra)
	v, d := expr.Value(ctx)
	if d.HasErrors() {
		return unknown{why: in.why(expr, ctx, d)}
	}
	if v.IsWhollyKnown() {
		return fromCty(v, "")
	}
	why := in.why(expr, ctx, nil)
	if conds := in.unknownConds(expr, extra, map[string]bool{}, 0, nil); len(conds) > 0 {
		way, groups := in.condGroups(conds)
		return branches(why, way, in.evalEachWay(expr, extra, groups))
	}
	return fromCty(v, why)
}

// maxConds bounds the unknown conditions an expression is evaluated
// each way of (2^maxConds evaluations).
const maxConds = 3

// unknownConds finds the conditionals, in expr and the locals it reads,
// whose condition the scan cannot know (a variable without a default,
// an attribute known after apply). nil when there are more than
// maxConds of them or none.
func (in *tfInstance) unknownConds(expr hcl.Expression, extra map[string]cty.Value, seen map[string]bool, depth int, acc []*hclsyntax.ConditionalExpr) []*hclsyntax.ConditionalExpr {
	node, ok := expr.(hclsyntax.Node)
	if !ok || depth > 8 {
		return acc
	}
	over := false
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		switch x := n.(type) {
		case *hclsyntax.ConditionalExpr:
			if slices.Contains(acc, x) {
				return nil
			}
			c, d := x.Condition.Value(in.ctx(x.Condition, extra))
			// A condition on an iteration variable of a for expression
			// does not evaluate here: it is left as it is.
			if !d.HasErrors() && !c.IsKnown() {
				if len(acc) == maxConds {
					over = true
				}
				acc = append(acc, x)
			}
		case *hclsyntax.ScopeTraversalExpr:
			if x.Traversal.RootName() == "local" {
				if name := attrName(x.Traversal); name != "" && !seen[name] {
					seen[name] = true
					if a := in.mod.locals[name]; a != nil {
						acc = in.unknownConds(a.Expr, nil, seen, depth+1, acc)
					}
				}
			}
		}
		return nil
	})
	if over || len(acc) > maxConds {
		return nil
	}
	return acc
}

// evalEachWay evaluates expr once per way the conditions can go.
func (in *tfInstance) evalEachWay(expr hcl.Expression, extra map[string]cty.Value, groups [][]*hclsyntax.ConditionalExpr) []any {
	return in.eachWay(groups, func() any {
		v, d := expr.Value(in.ctx(expr, extra))
		if d.HasErrors() || !v.IsWhollyKnown() {
			return unknown{why: "a branch is not known"}
		}
		return fromCty(v, "")
	})
}

// condGroups groups conditionals by the text of their condition (the
// same condition in two places goes the same way in both) and names
// them: values computed over the same named groups go the same way.
func (in *tfInstance) condGroups(conds []*hclsyntax.ConditionalExpr) (string, [][]*hclsyntax.ConditionalExpr) {
	byText := map[string][]*hclsyntax.ConditionalExpr{}
	var texts []string
	for _, c := range conds {
		t := in.exprText(c.Condition)
		if _, ok := byText[t]; !ok {
			texts = append(texts, t)
		}
		byText[t] = append(byText[t], c)
	}
	sort.Strings(texts)
	groups := make([][]*hclsyntax.ConditionalExpr, len(texts))
	for i, t := range texts {
		groups[i] = byText[t]
	}
	return "tf " + in.label + "\x00" + strings.Join(texts, "\x00"), groups
}

// exprText is an expression's source without its spacing; a position
// when the source is not at hand (which only ties fewer values).
func (in *tfInstance) exprText(e hcl.Expression) string {
	r := e.Range()
	if f := in.l.parser.Files()[r.Filename]; f != nil && r.End.Byte <= len(f.Bytes) && r.Start.Byte <= r.End.Byte {
		return strings.Join(strings.Fields(string(r.SliceBytes(f.Bytes))), "")
	}
	return r.String()
}

// eachWay calls fn once per way the groups of conditions can go. The
// parsed conditionals are pointed at a literal for the call and
// restored after it; locals are evaluated afresh each way.
func (in *tfInstance) eachWay(groups [][]*hclsyntax.ConditionalExpr, fn func() any) []any {
	orig := map[*hclsyntax.ConditionalExpr]hclsyntax.Expression{}
	for _, g := range groups {
		for _, c := range g {
			orig[c] = c.Condition
		}
	}
	saved := in.locals
	defer func() {
		for c, e := range orig {
			c.Condition = e
		}
		in.locals = saved
	}()
	var out []any
	for way := range 1 << len(groups) {
		for i, g := range groups {
			for _, c := range g {
				c.Condition = &hclsyntax.LiteralValueExpr{Val: cty.BoolVal(way&(1<<i) != 0), SrcRange: orig[c].Range()}
			}
		}
		in.locals = map[string]cty.Value{}
		out = append(out, fn())
	}
	return out
}

// why explains an unknown value by the references it depends on.
func (in *tfInstance) why(expr hcl.Expression, ctx *hcl.EvalContext, d hcl.Diagnostics) string {
	var parts []string
	for _, t := range expr.Variables() {
		root := t.RootName()
		if root == "var" {
			if n := attrName(t); n != "" {
				if w, ok := in.varWhy[n]; ok {
					parts = append(parts, w)
					continue
				}
				if _, ok := in.vars[n]; !ok {
					parts = append(parts, fmt.Sprintf("variable %q is not declared", n))
					continue
				}
			}
		}
		tv, td := t.TraverseAbs(ctx)
		if td.HasErrors() || !tv.IsWhollyKnown() {
			switch root {
			case "each":
				parts = append(parts, travString(t)+" is not known: the for_each has no element the scan can list (empty with the defaults, or only known after apply)")
			case "count":
				parts = append(parts, travString(t)+" is not known: the count is 0 with the defaults or only known after apply")
			case "terraform":
				parts = append(parts, travString(t)+" is not known: the workspace is chosen when Terraform runs")
			default:
				parts = append(parts, travString(t)+" is only known after apply")
			}
		}
	}
	if len(parts) == 0 && d.HasErrors() {
		return d[0].Summary
	}
	if len(parts) == 0 {
		return "the value is only known after apply"
	}
	return strings.Join(dedupe(parts), "; ")
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func travString(t hcl.Traversal) string {
	var b strings.Builder
	for i, s := range t {
		switch x := s.(type) {
		case hcl.TraverseRoot:
			b.WriteString(x.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + x.Name)
		case hcl.TraverseIndex:
			if x.Key.Type() == cty.String {
				b.WriteString(fmt.Sprintf("[%q]", x.Key.AsString()))
			} else if x.Key.Type() == cty.Number {
				b.WriteString("[" + x.Key.AsBigFloat().String() + "]")
			}
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		}
		if i > 4 {
			break
		}
	}
	return b.String()
}

// unknownKeys is one instance whose count.index or each is unknown.
func unknownKeys(count bool) []instanceKey {
	if count {
		return []instanceKey{{extra: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}}}
	}
	return []instanceKey{{extra: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.DynamicVal, "value": cty.DynamicVal})}}}
}

// exampleDirs name directories whose configurations exercise a module
// rather than deploy it; their module calls are not followed, so a
// module's resources are graded with their own defaults, not once per
// example. wrappers/ holds the pass-through wrappers some module
// repositories generate for Terragrunt (for_each over var.items).
var exampleDirs = map[string]bool{"examples": true, "example": true, "_examples": true, "test": true, "tests": true,
	"fixtures": true, "fixture": true, "samples": true, "sample": true, "spec": true, "specs": true, "testdata": true,
	"test-fixtures": true, "test_fixtures": true, "wrappers": true}

// exampleRoot reports whether dir, relative to the scanned path, lies in
// an examples or tests directory.
func exampleRoot(scanned, dir string) bool {
	rel, err := filepath.Rel(scanned, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = dir
	}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if exampleDirs[strings.ToLower(seg)] {
			return true
		}
	}
	return false
}

// instanceKey is one expansion of count or for_each.
type instanceKey struct {
	suffix string
	extra  map[string]cty.Value
}

// expand evaluates count/for_each. An unknown expansion yields one
// instance whose count.index / each are unknown: the declaration is still
// graded, never skipped (fail closed).
func (in *tfInstance) expand(count, forEach hcl.Expression, extra map[string]cty.Value) []instanceKey {
	switch {
	case count != nil:
		v, d := count.Value(in.ctx(count, extra))
		if !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() != cty.Number {
			// count = "2" (0.11-era configurations): Terraform converts.
			if n, err := convert.Convert(v, cty.Number); err == nil {
				v = n
			}
		}
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
			return []instanceKey{{extra: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}}}
		}
		n, _ := v.AsBigFloat().Int64()
		if n > 1000 {
			n = 1000
		}
		out := make([]instanceKey, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, instanceKey{suffix: "[" + strconv.FormatInt(i, 10) + "]",
				extra: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(i)})}})
		}
		return out
	case forEach != nil:
		v, d := forEach.Value(in.ctx(forEach, extra))
		unknownEach := unknownKeys(false)
		if d.HasErrors() || !v.IsKnown() || v.IsNull() {
			return unknownEach
		}
		t := v.Type()
		if !(t.IsMapType() || t.IsObjectType() || t.IsSetType()) {
			return unknownEach
		}
		var out []instanceKey
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if t.IsSetType() {
				k = e
			}
			if !k.IsKnown() || k.Type() != cty.String {
				return unknownEach
			}
			out = append(out, instanceKey{suffix: fmt.Sprintf("[%q]", k.AsString()),
				extra: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})}})
		}
		return out
	}
	return []instanceKey{{}}
}

// metaArgs are Terraform's own arguments, not the provider's.
var metaArgs = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true, "lifecycle": true,
	"provisioner": true, "connection": true, "dynamic": true}

// bodyValue evaluates a resource body: attributes, nested blocks as lists
// of objects, dynamic blocks expanded.
func (in *tfInstance) bodyValue(b hcl.Body, extra map[string]cty.Value) attrs {
	out := attrs{}
	sb, ok := b.(*hclsyntax.Body)
	if !ok {
		for n, a := range allAttrs(b) {
			if n == "dynamic" {
				// JSON dynamic blocks: every block they generate is unknown.
				if obj, ok := in.eval(a.Expr, extra).(map[string]any); ok {
					for bn := range obj {
						out[bn] = unknown{why: "dynamic block " + bn + " in JSON syntax is not expanded by the scan"}
					}
				} else {
					for _, key := range jsonObjectKeys(a.Expr) {
						out[key] = unknown{why: "dynamic block " + key + " in JSON syntax is not expanded by the scan"}
					}
				}
				continue
			}
			if metaArgs[n] {
				continue
			}
			out[n] = in.eval(a.Expr, extra)
		}
		return out
	}
	for n, a := range sb.Attributes {
		if metaArgs[n] {
			continue
		}
		out[n] = in.eval(a.Expr, extra)
	}
	for _, blk := range sb.Blocks {
		switch blk.Type {
		case "lifecycle", "provisioner", "connection":
			continue
		case "dynamic":
			if len(blk.Labels) != 1 {
				continue
			}
			name := blk.Labels[0]
			if _, bad := out[name].(unknown); bad {
				continue
			}
			static, _ := out[name].([]any)
			blocks := func() any {
				objs, why := in.dynamic(blk, extra)
				if why != "" {
					return unknown{why: why}
				}
				list := slices.Clone(static)
				for _, o := range objs {
					list = append(list, map[string]any(o))
				}
				return list
			}
			v := blocks()
			if u, ok := v.(unknown); ok {
				// for_each = var.x ? [1] : []: the blocks of each way.
				if fe := blk.Body.Attributes["for_each"]; fe != nil {
					if conds := in.unknownConds(fe.Expr, extra, map[string]bool{}, 0, nil); len(conds) > 0 {
						way, groups := in.condGroups(conds)
						v = branches(u.why, way, in.eachWay(groups, blocks))
					}
				}
			}
			out[name] = v
		default:
			if _, bad := out[blk.Type].(unknown); bad {
				continue
			}
			list, _ := out[blk.Type].([]any)
			out[blk.Type] = append(list, map[string]any(in.bodyValue(blk.Body, extra)))
		}
	}
	return out
}

func jsonObjectKeys(expr hcl.Expression) []string {
	if ks, d := hcl.ExprMap(expr); !d.HasErrors() {
		var out []string
		for _, kv := range ks {
			if v, d := kv.Key.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() {
				out = append(out, v.AsString())
			}
		}
		return out
	}
	return nil
}

// dynamic expands one dynamic block.
func (in *tfInstance) dynamic(blk *hclsyntax.Block, extra map[string]cty.Value) ([]attrs, string) {
	name := blk.Labels[0]
	fe := blk.Body.Attributes["for_each"]
	if fe == nil {
		return nil, "dynamic block " + name + " has no for_each"
	}
	iter := name
	if it := blk.Body.Attributes["iterator"]; it != nil {
		if t, d := hcl.AbsTraversalForExpr(it.Expr); !d.HasErrors() && len(t) == 1 {
			iter = t.RootName()
		}
	}
	var content *hclsyntax.Body
	for _, c := range blk.Body.Blocks {
		if c.Type == "content" {
			content = c.Body
		}
	}
	if content == nil {
		return nil, "dynamic block " + name + " has no content"
	}
	ctx := in.ctx(fe.Expr, extra)
	v, d := fe.Expr.Value(ctx)
	if d.HasErrors() {
		return nil, "dynamic block " + name + ": for_each: " + in.why(fe.Expr, ctx, d)
	}
	if !v.IsKnown() {
		return nil, "dynamic block " + name + ": for_each: " + in.why(fe.Expr, ctx, nil)
	}
	if v.IsNull() || !v.CanIterateElements() {
		return nil, ""
	}
	var out []attrs
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if v.Type().IsSetType() {
			k = e
		}
		ex := map[string]cty.Value{}
		for kk, vv := range extra {
			ex[kk] = vv
		}
		ex[iter] = cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})
		out = append(out, in.bodyValue(content, ex))
	}
	return out, ""
}

// ignoreChanges returns the arguments lifecycle.ignore_changes names
// ("all" for all): Terraform leaves their live value alone.
func ignoreChanges(b hcl.Body) []string {
	sb, ok := b.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []string
	for _, blk := range sb.Blocks {
		if blk.Type != "lifecycle" {
			continue
		}
		a := blk.Body.Attributes["ignore_changes"]
		if a == nil {
			continue
		}
		if t, d := hcl.AbsTraversalForExpr(a.Expr); !d.HasErrors() && t.RootName() == "all" {
			return []string{"all"}
		}
		exprs, d := hcl.ExprList(a.Expr)
		if d.HasErrors() {
			continue
		}
		for _, e := range exprs {
			if t, d := hcl.AbsTraversalForExpr(e); !d.HasErrors() {
				out = append(out, t.RootName())
			}
		}
	}
	return out
}

// refsOf lists the resources (type.name, data.type.name) each top-level
// argument refers to, through the module's locals
// (project_id = local.project -> local.project = harbor_project.x.id).
func refsOf(b hcl.Body, locals map[string]*hcl.Attribute) map[string][]string {
	out := map[string][]string{}
	for n, a := range allAttrs(b) {
		out[n] = exprRefs(a.Expr, locals, map[string]bool{}, 0)
		if len(out[n]) == 0 {
			delete(out, n)
		}
	}
	return out
}

func exprRefs(e hcl.Expression, locals map[string]*hcl.Attribute, seen map[string]bool, depth int) []string {
	var out []string
	for _, t := range e.Variables() {
		root := t.RootName()
		switch {
		case root == "local":
			name := attrName(t)
			if la := locals[name]; la != nil && !seen[name] && depth < 8 {
				seen[name] = true
				out = append(out, exprRefs(la.Expr, locals, seen, depth+1)...)
			}
		case builtinRoots[root] || root == "module":
		case root == "data":
			// data.type.name: what a data source reads exists already.
			if len(t) >= 3 {
				typ, ok1 := t[1].(hcl.TraverseAttr)
				name, ok2 := t[2].(hcl.TraverseAttr)
				if ok1 && ok2 {
					out = append(out, "data."+typ.Name+"."+name.Name)
				}
			}
		default:
			if name := attrName(t); name != "" {
				out = append(out, root+"."+name)
			}
		}
	}
	return out
}

// collect evaluates every known resource of the instance and of the
// modules it calls.
func (in *tfInstance) collect(emit func(Resource, attrs)) {
	for _, d := range in.mod.resources {
		if !terraformTypes[d.typ] {
			continue
		}
		syntax := SyntaxHCL
		if d.file.json {
			syntax = SyntaxTFJSON
		}
		meta := ""
		if d.count != nil {
			meta = "count"
		} else if d.forEach != nil {
			meta = "for_each"
		}
		refs := refsOf(d.body, in.mod.locals)
		ignored := ignoreChanges(d.body)
		keys := in.expand(d.count, d.forEach, nil)
		if len(keys) == 0 && in.address == "" {
			// A root declaration that creates nothing with its defaults
			// (for_each over an empty map, count = 0 until enabled) is
			// still graded once, with count.index and each unknown: its
			// literal settings still say what it will create.
			keys = unknownKeys(d.count != nil)
		}
		for _, k := range keys {
			a := in.bodyValue(d.body, k.extra)
			r := Resource{File: d.file.path, Line: d.rng.Start.Line, Column: d.rng.Start.Column,
				Address: in.address + d.typ + "." + d.name + k.suffix, Type: d.typ, Syntax: syntax,
				block: blockRef{file: d.file.path, syntax: syntax, typ: d.typ, name: d.name},
				refs:  refs, module: in.address, endLine: d.endLine, meta: meta, ignored: ignored, overrides: d.overrides}
			r.rootDir, r.env, r.implied, r.bare = in.root, in.env, in.implied, in.bare
			if in.tg != nil && in.address == "" && syntax == SyntaxHCL {
				r.tg, r.tgVars = in.tg, directVars(d.body, in.mod.tfvars)
			}
			if in.label != "" {
				r.Root = in.label
			} else if in.address != "" {
				r.Root = in.root
			}
			emit(r, a)
		}
	}
	if in.depth >= maxModuleDepth || in.noCalls {
		return
	}
	for _, c := range in.mod.calls {
		var dir string
		var known *knownModule
		if localSource(c.source) {
			dir = filepath.Clean(filepath.Join(in.mod.dir, c.source))
		} else if dir = in.l.installed(in.root, in.modKey(c.name)); dir == "" {
			// A registry or git module that terraform init has not
			// downloaded: its resources are not in the tree, but the
			// common repository modules are read from their inputs.
			if known = lookupKnownModule(c.source); known == nil {
				continue
			}
		}
		if known != nil {
			in.knownModuleCall(c, known, emit)
			continue
		}
		cycle := false
		for _, s := range in.stack {
			cycle = cycle || s == dir
		}
		if cycle || localSource(c.source) && enclosing(dir, in.mod.dir) && !in.mod.deployed {
			// A configuration inside a module's own tree that calls the
			// module (source = "../..": an example, a test harness, a
			// wrapper submodule) exercises it rather than deploys it,
			// unless it has a backend or variable files: then it is an
			// environment applying the module it lives in.
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			in.l.errs = append(in.l.errs, FileError{File: c.file.path, Line: c.rng.Start.Line,
				Message: fmt.Sprintf("module %q: source %q is not a directory", c.name, c.source)})
			continue
		}
		child := in.l.load(dir)
		keys := in.expand(c.count, c.forEach, nil)
		if len(keys) == 0 && in.address == "" && c.count != nil {
			// A root's call that creates nothing with the defaults
			// (count = 0 until enabled) is followed once, as a root
			// resource is: its inputs still say what it will create.
			// A for_each over an empty default is not: every input
			// would read each.value, unknown, and hide what the module
			// itself declares.
			keys = unknownKeys(true)
		}
		for _, k := range keys {
			inputs, whys := in.callInputs(c, k)
			ci := in.l.instance(child, in.root, in.address+"module."+c.name+k.suffix+".", inputs, false, in.depth+1, in.stack)
			ci.label, ci.env, ci.workspace, ci.implied, ci.bare = in.label, in.env, in.workspace, in.implied, in.bare
			for n, w := range whys {
				ci.varWhy[n] = w
			}
			ci.collect(emit)
		}
	}
}

// callInputs evaluates a module call's inputs for one instance of it.
func (in *tfInstance) callInputs(c *tfCall, k instanceKey) (map[string]cty.Value, map[string]string) {
	inputs := map[string]cty.Value{}
	whys := map[string]string{}
	for n, a := range c.inputs {
		ctx := in.ctx(a.Expr, k.extra)
		v, d := a.Expr.Value(ctx)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		inputs[n] = v
		if !v.IsWhollyKnown() {
			// Say why the caller's value is unknown (a variable
			// without a value, another resource's attribute), not
			// only that it is.
			whys[n] = fmt.Sprintf("module %q input %q: %s", c.name, n, in.why(a.Expr, ctx, d))
		}
	}
	return inputs, whys
}

// knownModuleCall grades a call of a known public module by its inputs,
// once per instance; a call that creates nothing with the defaults is
// still graded once, as a resource is.
func (in *tfInstance) knownModuleCall(c *tfCall, known *knownModule, emit func(Resource, attrs)) {
	keys := in.expand(c.count, c.forEach, nil)
	if len(keys) == 0 && in.address == "" {
		keys = unknownKeys(c.count != nil)
	}
	for _, k := range keys {
		inputs, whys := in.callInputs(c, k)
		in.knownModuleResources(c, known, k, inputs, whys, emit)
	}
}

// enclosing reports whether dir is inner or one of its parents.
func enclosing(dir, inner string) bool {
	rel, err := filepath.Rel(dir, inner)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// modKey is the key terraform init gives a module call in
// .terraform/modules/modules.json ("a.b" for module.a.module.b).
func (in *tfInstance) modKey(name string) string {
	var parts []string
	for _, seg := range strings.Split(strings.TrimSuffix(in.address, "."), ".") {
		if seg == "" || seg == "module" {
			continue
		}
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		parts = append(parts, seg)
	}
	return strings.Join(append(parts, name), ".")
}

// installed returns the directory terraform init downloaded a non-local
// module to, from root/.terraform/modules/modules.json, or "".
func (l *tfLoader) installed(root, key string) string {
	if l.manifests == nil {
		l.manifests = map[string]map[string]string{}
	}
	m, ok := l.manifests[root]
	if !ok {
		m = map[string]string{}
		l.manifests[root] = m
		b, err := os.ReadFile(filepath.Join(root, ".terraform", "modules", "modules.json"))
		if err == nil {
			var doc struct {
				Modules []struct {
					Key string `json:"Key"`
					Dir string `json:"Dir"`
				} `json:"Modules"`
			}
			if json.Unmarshal(b, &doc) == nil {
				for _, e := range doc.Modules {
					if e.Key != "" && e.Dir != "" && !filepath.IsAbs(e.Dir) {
						m[e.Key] = filepath.Join(root, e.Dir)
					}
				}
			}
		}
	}
	return m[key]
}

// planJSONShape reports whether a .json file looks like a plan or state
// document rather than configuration.
func planJSONShape(raw []byte) bool {
	var probe struct {
		FormatVersion    string          `json:"format_version"`
		PlannedValues    json.RawMessage `json:"planned_values"`
		TerraformVersion string          `json:"terraform_version"`
		Values           json.RawMessage `json:"values"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	return probe.FormatVersion != "" && (probe.PlannedValues != nil || probe.Values != nil)
}

// parseVarsFile parses a variable file in the syntax its name says
// (*.tfvars.json is JSON, the rest HCL).
func (l *tfLoader) parseVarsFile(p string) (*hcl.File, hcl.Diagnostics) {
	if strings.HasSuffix(p, ".json") {
		return l.parser.ParseJSONFile(p)
	}
	return l.parser.ParseHCLFile(p)
}
