package iac

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// maxWorkspaces bounds the workspaces a root is graded in.
const maxWorkspaces = 12

// isWorkspace reports an expression that is terraform.workspace.
func isWorkspace(e hclsyntax.Expression) bool {
	t, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(t.Traversal) != 2 || t.Traversal.RootName() != "terraform" {
		return false
	}
	a, ok := t.Traversal[1].(hcl.TraverseAttr)
	return ok && a.Name == "workspace"
}

// workspaces returns the workspaces a root's configuration names, when
// it reads terraform.workspace: the keys of the maps it indexes with it
// (local.settings[terraform.workspace], lookup(var.x, terraform.workspace)),
// the names it compares it with, and "default" for the others. A value keyed by the
// workspace is otherwise unknown, and each workspace is a deployment of
// its own: prod may be immutable and dev not.
func (in *tfInstance) workspaces() (out []string, implied bool) {
	// A local that is the workspace (environment = terraform.workspace)
	// keys maps as the workspace itself does.
	alias := map[string]bool{}
	for n, a := range in.mod.locals {
		if e, ok := a.Expr.(hclsyntax.Expression); ok && isWorkspace(e) {
			alias[n] = true
		}
	}
	isWorkspace := func(e hclsyntax.Expression) bool {
		if isWorkspace(e) {
			return true
		}
		t, ok := e.(*hclsyntax.ScopeTraversalExpr)
		return ok && t.Traversal.RootName() == "local" && len(t.Traversal) == 2 && alias[attrName(t.Traversal)]
	}
	names := map[string]bool{}
	uses, fallback := false, false
	var keyed []hclsyntax.Expression
	for _, f := range in.mod.files {
		body, ok := f.body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			switch x := n.(type) {
			case *hclsyntax.ScopeTraversalExpr:
				uses = uses || isWorkspace(x)
			case *hclsyntax.IndexExpr:
				if isWorkspace(x.Key) {
					keyed = append(keyed, x.Collection)
				}
			case *hclsyntax.FunctionCallExpr:
				if x.Name == "lookup" && len(x.Args) >= 2 && isWorkspace(x.Args[1]) {
					keyed = append(keyed, x.Args[0])
					fallback = fallback || len(x.Args) > 2
				}
			case *hclsyntax.BinaryOpExpr:
				if x.Op == hclsyntax.OpEqual || x.Op == hclsyntax.OpNotEqual {
					for _, pair := range [][2]hclsyntax.Expression{{x.LHS, x.RHS}, {x.RHS, x.LHS}} {
						if isWorkspace(pair[0]) {
							fallback = true
							if v, d := pair[1].Value(nil); !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
								names[v.AsString()] = true
							}
						}
					}
				}
			}
			return nil
		})
	}
	if !uses {
		return nil, false
	}
	for _, e := range keyed {
		v, d := e.Value(in.ctx(e, nil))
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			continue
		}
		for it := v.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			names[k.AsString()] = true
		}
	}
	// Any other workspace takes a lookup's default or a comparison's
	// other branch: "default" stands for them. A plain index has no
	// other value (Terraform fails in a workspace without a key).
	if len(names) == 0 {
		// Only read (a tag, a name): nothing depends on which.
		return nil, false
	}
	if fallback {
		implied = !names["default"]
		names["default"] = true
	}
	out = make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) > maxWorkspaces {
		out = out[:maxWorkspaces]
	}
	return out, implied
}
