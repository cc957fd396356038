package iac

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// tgInputsBlock marks an edit of a Terragrunt configuration's inputs
// object rather than of a Terraform declaration.
const tgInputsBlock = "terragrunt inputs"

// inputsTarget is the configuration whose inputs the module-level ops
// (set or remove an input) edit: the one that sets the inputs they
// touch, or the unit itself for an input nobody sets. why says why no
// single file can take them.
func (c *tgConfig) inputsTarget(ops []op) (file, why string) {
	for _, o := range ops {
		if len(o.path) != 1 || (o.kind != opSet && o.kind != opRemove) {
			return "", "the edit is not of one input"
		}
		k := o.path[0]
		f, set := c.inputFile[k]
		switch {
		case !set && o.kind == opRemove:
			continue
		case !set && c.otherInputs:
			return "", "the inputs of " + c.path + " are not an object to add " + k + " to"
		case !set:
			f = c.path
		case f == "":
			return "", "input " + k + " comes from an inputs expression (merge, a local) rather than an object"
		}
		if file != "" && file != f {
			return "", "the inputs the edit changes are set in " + file + " and " + f
		}
		file = f
	}
	if file == "" {
		return "", "no input to change"
	}
	return file, ""
}

// editTerragrunt applies module-level ops to the inputs object of a
// Terragrunt configuration in place: a value is replaced, a missing input
// added beside the others with their indentation, a removed one deleted
// with its lines. Everything else stays as written.
func editTerragrunt(file string, src []byte, es []*edit) ([]byte, error) {
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("not native syntax")
	}
	set := map[string]any{}
	removed := map[string]bool{}
	for _, e := range es {
		for _, o := range e.ops {
			if len(o.path) != 1 {
				return nil, fmt.Errorf("%s is not an input", strings.Join(o.path, "."))
			}
			switch o.kind {
			case opSet:
				set[o.path[0]] = o.value
				delete(removed, o.path[0])
			case opRemove:
				removed[o.path[0]] = true
				delete(set, o.path[0])
			}
		}
	}
	var add []string
	for k := range set {
		add = append(add, k)
	}
	sort.Strings(add)
	a := body.Attributes["inputs"]
	if a == nil {
		if len(add) == 0 {
			return src, nil
		}
		out := bytes.TrimRight(src, "\n")
		out = append(out, "\n\ninputs = {\n"...)
		for _, k := range add {
			out = append(out, "  "+k+" = "+hclLiteral(set[k])+"\n"...)
		}
		out = append(out, "}\n"...)
		return checkTerragrunt(file, out)
	}
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, fmt.Errorf("inputs is not an object")
	}
	type repl struct {
		start, end int
		text       string
	}
	var rs []repl
	done := map[string]bool{}
	indent := ""
	for i, it := range obj.Items {
		k := ""
		if kv, d := it.KeyExpr.Value(nil); !d.HasErrors() && kv.Type() == cty.String && kv.IsKnown() && !kv.IsNull() {
			k = kv.AsString()
		} else {
			k = hcl.ExprAsKeyword(it.KeyExpr)
		}
		ks, ve := it.KeyExpr.Range(), it.ValueExpr.Range()
		if i == 0 {
			indent = lineIndent(src, ks.Start.Byte)
		}
		_, isSet := set[k]
		switch {
		case isSet:
			rs = append(rs, repl{ve.Start.Byte, ve.End.Byte, hclLiteral(set[k])})
			done[k] = true
		case removed[k]:
			start, end, ok := ownLines(src, ks.Start.Byte, ve.End.Byte)
			if !ok {
				return nil, fmt.Errorf("input %s shares its line with another: remove it by hand", k)
			}
			rs = append(rs, repl{start, end, ""})
		}
	}
	closing := obj.SrcRange.End.Byte - 1
	if closing < 0 || closing >= len(src) || src[closing] != '}' {
		return nil, fmt.Errorf("the inputs object's end was not found")
	}
	var missing []string
	for _, k := range add {
		if !done[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		ls := bytes.LastIndexByte(src[:closing], '\n') + 1
		if ls > obj.SrcRange.Start.Byte && len(bytes.TrimSpace(src[ls:closing])) == 0 {
			// The closing brace has its own line: new inputs go on lines
			// before it, indented as the first one.
			if indent == "" || len(obj.Items) == 0 {
				indent = string(src[ls:closing]) + "  "
			}
			var b strings.Builder
			for _, k := range missing {
				b.WriteString(indent + k + " = " + hclLiteral(set[k]) + "\n")
			}
			rs = append(rs, repl{ls, ls, b.String()})
		} else {
			// { a = 1 } on one line.
			end := len(bytes.TrimRight(src[:closing], " \t"))
			var b strings.Builder
			for i, k := range missing {
				if i > 0 || len(obj.Items) > 0 {
					b.WriteString(",")
				}
				b.WriteString(" " + k + " = " + hclLiteral(set[k]))
			}
			b.WriteString(" ")
			rs = append(rs, repl{end, closing, b.String()})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].start > rs[j].start })
	out := append([]byte(nil), src...)
	for _, r := range rs {
		out = append(out[:r.start:r.start], append([]byte(r.text), out[r.end:]...)...)
	}
	return checkTerragrunt(file, out)
}

func checkTerragrunt(file string, out []byte) ([]byte, error) {
	if _, d := hclsyntax.ParseConfig(out, file, hcl.InitialPos); d.HasErrors() {
		return nil, fmt.Errorf("the edited file does not parse: %s", d.Error())
	}
	return out, nil
}

// lineIndent is the white space that starts the line holding offset.
func lineIndent(src []byte, off int) string {
	ls := bytes.LastIndexByte(src[:off], '\n') + 1
	return string(src[ls:off])
}

// ownLines widens [start, end) to whole lines when nothing else (but a
// trailing comma or comment) shares them.
func ownLines(src []byte, start, end int) (int, int, bool) {
	ls := bytes.LastIndexByte(src[:start], '\n') + 1
	if len(bytes.TrimSpace(src[ls:start])) > 0 {
		return 0, 0, false
	}
	le := bytes.IndexByte(src[end:], '\n')
	if le < 0 {
		le = len(src) - end
	}
	rest := strings.TrimSpace(string(src[end : end+le]))
	rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	if rest != "" && !strings.HasPrefix(rest, "#") && !strings.HasPrefix(rest, "//") {
		return 0, 0, false
	}
	e := end + le
	if e < len(src) {
		e++
	}
	return ls, e, true
}

// hclLiteral writes a value as HCL source on one line.
func hclLiteral(v any) string {
	switch x := v.(type) {
	case string:
		return string(hclwrite.TokensForValue(cty.StringVal(x)).Bytes())
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = hclLiteral(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case map[string]any:
		s := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			s = append(s, k+" = "+hclLiteral(x[k]))
		}
		return "{ " + strings.Join(s, ", ") + " }"
	}
	return literal(v)
}

// directVars maps the body's arguments written as a bare root variable
// (var.x) to the variable, leaving out those the module's own
// terraform.tfvars sets (they win over Terragrunt's inputs).
func directVars(b hcl.Body, tfvars map[string]cty.Value) map[string]string {
	body, ok := b.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	out := map[string]string{}
	add := func(prefix string, b *hclsyntax.Body) {
		for n, a := range b.Attributes {
			t, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr)
			if !ok || len(t.Traversal) != 2 || t.Traversal.RootName() != "var" {
				continue
			}
			if v, ok := t.Traversal[1].(hcl.TraverseAttr); ok {
				if _, shadowed := tfvars[v.Name]; !shadowed {
					out[prefix+n] = v.Name
				}
			}
		}
	}
	add("", body)
	// A setting in the declaration's one block of its type
	// (docker_config { immutable_tags = var.immutable }).
	count := map[string]int{}
	for _, b := range body.Blocks {
		count[b.Type]++
	}
	for _, b := range body.Blocks {
		if count[b.Type] == 1 && b.Type != "dynamic" && b.Type != "lifecycle" {
			add(b.Type+".", b.Body)
		}
	}
	return out
}

// tgInputOps turns the ops on a module's declaration into ops on the
// Terragrunt inputs that give it its values, or nil when one of them
// is not a variable an input of the unit sets (the declaration is then
// what to edit).
func (r Resource) tgInputOps(ops []op) []op {
	if r.tg == nil || len(ops) == 0 {
		return nil
	}
	out := make([]op, 0, len(ops))
	for _, o := range ops {
		if o.kind != opSet || len(o.path) == 0 || len(o.path) > 2 {
			return nil
		}
		v := r.tgVars[strings.Join(o.path, ".")]
		if _, set := r.tg.inputFile[v]; v == "" || !set {
			return nil
		}
		out = append(out, op{kind: opSet, path: []string{v}, value: o.value})
	}
	if _, why := r.tg.inputsTarget(out); why != "" {
		return nil
	}
	return out
}
