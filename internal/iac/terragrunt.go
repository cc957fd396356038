package iac

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// tgConfig is what a Terragrunt configuration says about the module it
// applies: the source and the inputs (Terragrunt passes them as TF_VAR_
// variables).
type tgConfig struct {
	path    string
	dir     string
	source  string
	srcRng  hcl.Range
	inputs  map[string]cty.Value
	why     map[string]string
	unknown string // why the inputs as a whole cannot be read
	rng     hcl.Range
	// localVals are the configuration's locals (include.x.locals).
	localVals map[string]cty.Value
	// inputFile is the configuration whose inputs set each input (the
	// child's over those it includes): a fix edits the value there. ""
	// when that inputs is not an object the fix can edit (merge(...)).
	inputFile map[string]string
	// otherInputs is set when the file's own inputs is an expression
	// other than an object: a missing input cannot be added to it.
	otherInputs bool
}

// maxIncludeDepth bounds include chains (a parent including its parent).
const maxIncludeDepth = 4

// terragrunt reads a Terragrunt configuration with what it includes. ok
// is false for a file that is not one (no terraform block, no inputs).
func (l *tfLoader) terragrunt(p, scanned string, depth int) (*tgConfig, bool) {
	f, diags := l.parser.ParseHCLFile(p)
	if diags.HasErrors() || f == nil {
		return nil, false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, false
	}
	cfg := &tgConfig{path: p, dir: filepath.Dir(p), inputs: map[string]cty.Value{}, why: map[string]string{}, rng: body.SrcRange, inputFile: map[string]string{}}
	// Terragrunt's functions return absolute paths; evaluate from the
	// absolute directory and bring paths back to the scan's form after.
	absDir, err := filepath.Abs(cfg.dir)
	if err != nil {
		absDir = cfg.dir
	}
	absScanned, err := filepath.Abs(scanned)
	if err != nil {
		absScanned = scanned
	}
	ev := &tgEval{dir: absDir, scanned: absScanned, locals: map[string]cty.Value{}, includes: map[string]cty.Value{}}
	if depth < maxIncludeDepth {
		ev.read = func(rp string) (cty.Value, bool) {
			if !filepath.IsAbs(rp) {
				rp = filepath.Join(absDir, rp)
			}
			other, ok := l.terragrunt(rp, scanned, depth+1)
			if !ok && other == nil {
				return cty.NilVal, false
			}
			return cty.ObjectVal(map[string]cty.Value{"locals": other.localsVal(), "inputs": objectOrEmpty(other.inputs)}), true
		}
	}

	// Included configurations first: their inputs are under the child's
	// (Terragrunt's shallow merge), their source applies when the child
	// has none.
	var parents []*tgConfig
	for _, b := range body.Blocks {
		if b.Type != "include" || depth >= maxIncludeDepth {
			continue
		}
		a := b.Body.Attributes["path"]
		if a == nil {
			continue
		}
		v, d := a.Expr.Value(ev.ctx())
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			continue
		}
		pp := v.AsString()
		if !filepath.IsAbs(pp) {
			pp = filepath.Join(cfg.dir, pp)
		} else if rel, err := filepath.Rel(absDir, pp); err == nil && !filepath.IsAbs(cfg.dir) {
			// find_in_parent_folders() is absolute: findings and edits
			// name the file as the scan does.
			pp = filepath.Join(cfg.dir, rel)
		}
		parent, ok := l.terragrunt(pp, scanned, depth+1)
		if !ok {
			continue
		}
		parents = append(parents, parent)
		label := ""
		if len(b.Labels) > 0 {
			label = b.Labels[0]
		}
		ev.includes[label] = cty.ObjectVal(map[string]cty.Value{"locals": parent.localsVal(), "inputs": objectOrEmpty(parent.inputs)})
		ev.parentDir = parent.dir
	}
	for _, b := range body.Blocks {
		if b.Type == "locals" {
			ev.evalLocals(b.Body)
		}
	}
	cfg.localVals = ev.locals
	for _, parent := range parents {
		for n, v := range parent.inputs {
			cfg.inputs[n] = v
			cfg.inputFile[n] = parent.inputFile[n]
			if w, ok := parent.why[n]; ok {
				cfg.why[n] = w
			}
		}
		if parent.unknown != "" {
			cfg.unknown = parent.unknown
		}
		if cfg.source == "" {
			cfg.source, cfg.srcRng = parent.source, parent.srcRng
		}
	}
	found := len(parents) > 0
	for _, b := range body.Blocks {
		if b.Type != "terraform" {
			continue
		}
		found = true
		if a := b.Body.Attributes["source"]; a != nil {
			v, d := a.Expr.Value(ev.ctx())
			if !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String && tgModuleDir(v.AsString(), cfg.dir) == "" {
				// get_repo_root() found a .git above a copy of the
				// tree: the scanned path is then the repository.
				ev.noGit = true
				if v2, d2 := a.Expr.Value(ev.ctx()); !d2.HasErrors() && v2.IsKnown() && tgModuleDir(v2.AsString(), cfg.dir) != "" {
					v = v2
				}
				ev.noGit = false
			}
			if !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
				cfg.source, cfg.srcRng = v.AsString(), a.SrcRange
			} else {
				cfg.source, cfg.srcRng = "", a.SrcRange
			}
		}
	}
	if a := body.Attributes["inputs"]; a != nil {
		found = true
		cfg.rng = a.SrcRange
		if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
			// Item by item: one input the scan cannot evaluate (a
			// dependency's output) leaves the others readable.
			for _, it := range obj.Items {
				kv, d := it.KeyExpr.Value(nil)
				if d.HasErrors() || kv.Type() != cty.String {
					if n := hcl.ExprAsKeyword(it.KeyExpr); n != "" {
						kv = cty.StringVal(n)
					} else {
						continue
					}
				}
				n := kv.AsString()
				v, d := it.ValueExpr.Value(ev.ctx())
				if d.HasErrors() {
					v = cty.DynamicVal
				}
				cfg.inputs[n] = v
				cfg.inputFile[n] = p
				if !v.IsWhollyKnown() {
					cfg.why[n] = "Terragrunt input " + n + " of " + p + " is only known when Terragrunt runs"
				} else {
					delete(cfg.why, n)
				}
			}
		} else {
			cfg.otherInputs = true
			v, d := a.Expr.Value(ev.ctx())
			if d.HasErrors() || !v.IsWhollyKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
				cfg.unknown = "the inputs of " + p + " are only known when Terragrunt runs"
			} else {
				for it := v.ElementIterator(); it.Next(); {
					k, e := it.Element()
					cfg.inputs[k.AsString()] = e
					cfg.inputFile[k.AsString()] = ""
				}
			}
		}
	}
	return cfg, found
}

func (c *tgConfig) localsVal() cty.Value { return objectOrEmpty(c.localVals) }

// tgEval evaluates Terragrunt expressions: Terraform's functions, the
// Terragrunt functions that name paths, local and include values. Any
// other function or reference (dependency outputs, run_cmd) is unknown.
type tgEval struct {
	dir, scanned, parentDir string
	locals                  map[string]cty.Value
	includes                map[string]cty.Value
	noGit                   bool
	// read reads another configuration (read_terragrunt_config).
	read func(path string) (cty.Value, bool)
}

func (e *tgEval) ctx() *hcl.EvalContext {
	fs := map[string]function.Function{}
	for k, f := range tfFunctions {
		fs[k] = f
	}
	str := func(fn func() string) function.Function {
		return function.New(&function.Spec{Type: function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				if s := fn(); s != "" {
					return cty.StringVal(s), nil
				}
				return cty.UnknownVal(cty.String), nil
			}})
	}
	fs["get_terragrunt_dir"] = str(func() string { return e.dir })
	fs["get_original_terragrunt_dir"] = str(func() string { return e.dir })
	fs["get_parent_terragrunt_dir"] = str(func() string { return e.parentDir })
	root := func() string {
		if e.noGit {
			return e.scanned
		}
		return repoRoot(e.dir, e.scanned)
	}
	fs["get_repo_root"] = str(root)
	fs["get_path_to_repo_root"] = str(func() string {
		rel, err := filepath.Rel(e.dir, root())
		if err != nil {
			return ""
		}
		return filepath.ToSlash(rel)
	})
	fs["find_in_parent_folders"] = function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "args", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := "terragrunt.hcl"
			if len(args) > 0 && args[0].IsKnown() && !args[0].IsNull() {
				name = args[0].AsString()
			}
			for d := filepath.Dir(e.dir); ; d = filepath.Dir(d) {
				p := filepath.Join(d, name)
				if st, err := os.Stat(p); err == nil && !st.IsDir() {
					return cty.StringVal(p), nil
				}
				if d == filepath.Dir(d) || d == "." {
					break
				}
			}
			if len(args) > 1 {
				return args[1], nil
			}
			return cty.UnknownVal(cty.String), nil
		}})
	fs["read_terragrunt_config"] = function.New(&function.Spec{
		Params:   []function.Parameter{{Name: "path", Type: cty.String}},
		VarParam: &function.Parameter{Name: "default", Type: cty.DynamicPseudoType},
		Type:     function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if e.read != nil && args[0].IsKnown() && !args[0].IsNull() {
				if v, ok := e.read(args[0].AsString()); ok {
					return v, nil
				}
			}
			if len(args) > 1 {
				return args[1], nil
			}
			return cty.DynamicVal, nil
		}})
	inc := map[string]cty.Value{}
	for k, v := range e.includes {
		if k == "" {
			// An unlabelled include is read as include.locals.
			if v.Type().IsObjectType() {
				for n, a := range v.AsValueMap() {
					inc[n] = a
				}
			}
			continue
		}
		inc[k] = v
	}
	return &hcl.EvalContext{Functions: fs, Variables: map[string]cty.Value{
		"local":      objectOrEmpty(e.locals),
		"include":    objectOrEmpty(inc),
		"dependency": cty.DynamicVal,
		"feature":    cty.DynamicVal,
		"values":     cty.DynamicVal,
	}}
}

// evalLocals evaluates a locals block, in as many passes as locals refer
// to each other.
func (e *tgEval) evalLocals(b *hclsyntax.Body) {
	pending := map[string]*hclsyntax.Attribute{}
	for n, a := range b.Attributes {
		pending[n] = a
	}
	for pass := 0; pass < 8 && len(pending) > 0; pass++ {
		for n, a := range pending {
			v, d := a.Expr.Value(e.ctx())
			if d.HasErrors() {
				continue
			}
			e.locals[n] = v
			delete(pending, n)
		}
	}
	for n := range pending {
		e.locals[n] = cty.DynamicVal
	}
}

// repoRoot is the directory holding .git above dir, or the scanned path.
func repoRoot(dir, scanned string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if d == filepath.Dir(d) || d == "." {
			break
		}
	}
	return scanned
}

// tgModuleDir resolves a Terragrunt source to a directory in the tree, or
// "" for a remote one. "//" separates the package from the module inside
// it; ?ref= and other query strings name a version.
func tgModuleDir(source, dir string) string {
	if source == "" || strings.Contains(source, "::") || strings.Contains(source, "://") {
		return ""
	}
	s := strings.SplitN(source, "?", 2)[0]
	s = strings.Replace(s, "//", "/", -1)
	if !filepath.IsAbs(s) {
		if !localSource(s) {
			return ""
		}
		s = filepath.Join(dir, s)
	}
	s = filepath.Clean(s)
	if st, err := os.Stat(s); err != nil || !st.IsDir() {
		return ""
	}
	if filepath.IsAbs(s) && !filepath.IsAbs(dir) {
		// Report it as the rest of the scan names its files.
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, s); err == nil {
				s = rel
			}
		}
	}
	return s
}

// env is the environment the configuration applies its module with, on
// top of the module's own terraform.tfvars and *.auto.tfvars (Terraform
// prefers them to TF_VAR_ variables).
func (c *tgConfig) env(m *tfModule) tfEnv {
	vars := map[string]cty.Value{}
	why := map[string]string{}
	if c.unknown != "" {
		for n := range m.variables {
			vars[n], why[n] = cty.DynamicVal, c.unknown
		}
	}
	for n, v := range c.inputs {
		vars[n] = v
		if w, ok := c.why[n]; ok {
			why[n] = w
		}
	}
	for n, v := range m.tfvars {
		vars[n] = v
		delete(why, n)
	}
	return tfEnv{label: c.dir, name: "terragrunt " + c.path, vars: vars, why: why, tg: c}
}
