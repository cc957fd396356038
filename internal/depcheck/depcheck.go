// Package depcheck keeps the module's import boundaries from holding by
// convention only: the CLI libraries stay in internal/cli, each cloud SDK in
// its adapter, emulators independent of the adapters they emulate for, the
// workflow linter free of the rest of immutag. It reads the import graph
// with `go list`, as go-containerregistry's internal/depcheck does.
package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Package is what Load reads of one package.
type Package struct {
	ImportPath   string
	Imports      []string // production imports
	Deps         []string // every package the production code depends on
	TestImports  []string
	XTestImports []string
}

// Load lists every package of the module in dir with its imports.
func Load(goTool, dir string) ([]Package, error) {
	cmd := exec.Command(goTool, "list", "-e", "-json=ImportPath,Imports,Deps,TestImports,XTestImports", "./...")
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []Package
	dec := json.NewDecoder(&out)
	for {
		var p Package
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// Scope says which of a package's imports a Rule looks at.
type Scope int

const (
	// Direct is the production code's own imports.
	Direct Scope = iota
	// DirectAndTests adds the imports of its tests.
	DirectAndTests
	// Transitive is everything the production code depends on.
	Transitive
)

// Rule forbids the packages For selects to import what Forbid matches,
// unless Allow matches the pair.
type Rule struct {
	Name   string
	Scope  Scope
	For    func(pkg string) bool
	Forbid func(imp string) bool
	// Allow, when set, lets pkg import imp after all.
	Allow func(pkg, imp string) bool
}

// Violation is one forbidden import.
type Violation struct {
	Rule, Package, Import string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s imports %s", v.Rule, v.Package, v.Import)
}

// Check applies rules to pkgs and returns every violation, in order.
func Check(pkgs []Package, rules []Rule) []Violation {
	var out []Violation
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.For(p.ImportPath) {
				continue
			}
			var imps []string
			switch r.Scope {
			case Direct:
				imps = p.Imports
			case DirectAndTests:
				imps = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
			case Transitive:
				imps = p.Deps
			}
			seen := map[string]bool{}
			for _, imp := range imps {
				if seen[imp] || !r.Forbid(imp) || (r.Allow != nil && r.Allow(p.ImportPath, imp)) {
					continue
				}
				seen[imp] = true
				out = append(out, Violation{Rule: r.Name, Package: p.ImportPath, Import: imp})
			}
		}
	}
	return out
}

// Under reports whether pkg is path or below it.
func Under(pkg, path string) bool {
	return pkg == path || strings.HasPrefix(pkg, path+"/")
}
