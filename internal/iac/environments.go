package iac

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/immutag/immutag/internal/audit"
)

// tfEnv is one way a root module is applied: the values a variable file
// passed with -var-file, or a Terragrunt configuration, gives it. The
// defaults alone are not what such a root deploys: a variable whose
// default is IMMUTABLE and that prod.tfvars sets to MUTABLE is mutable
// in production, and grading only the default would call it compliant.
type tfEnv struct {
	// label names the environment in findings (Resource.Root).
	label string
	// name is the short form reasons give (-var-file=envs/prod.tfvars).
	name string
	// bare is the root applied without any variable file.
	bare bool
	// vars are the root's variable values, replacing the defaults.
	vars map[string]cty.Value
	// why explains values the environment gives but the scan cannot
	// evaluate (a Terragrunt function, a dependency's output).
	why map[string]string
	// tg is the Terragrunt configuration that applies the root.
	tg *tgConfig
}

// maxVarFileDepth bounds how deep under a root variable files are looked
// for (envs/prod.tfvars, environments/prod/terraform.tfvars).
const maxVarFileDepth = 2

// varFiles returns the variable files Terraform does not load by itself
// that belong to the root in dir: *.tfvars and *.tfvars.json in dir, and
// in the subdirectories (two levels) that hold no configuration of their
// own (envs/, tfvars/, environments/prod/). A subdirectory with .tf files
// is another module, and its variable files are its own.
func varFiles(dir string) []string {
	var out []string
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		ents, err := os.ReadDir(d)
		if err != nil {
			return
		}
		if depth > 0 {
			for _, e := range ents {
				if !e.IsDir() && isTFFile(e.Name()) {
					return
				}
			}
		}
		for _, e := range ents {
			name := e.Name()
			p := filepath.Join(d, name)
			switch {
			case e.IsDir():
				if depth < maxVarFileDepth && !skipDir(name) && !exampleDirs[strings.ToLower(name)] {
					walk(p, depth+1)
				}
			case e.Type().IsRegular() && isVarFile(name) && !autoVarFile(name):
				out = append(out, p)
			}
		}
	}
	walk(dir, 0)
	sort.Strings(out)
	return out
}

func isVarFile(name string) bool {
	return strings.HasSuffix(name, ".tfvars") || strings.HasSuffix(name, ".tfvars.json")
}

// autoVarFile reports the variable files Terraform loads without being
// told (read into tfModule.tfvars).
func autoVarFile(name string) bool {
	return name == "terraform.tfvars" || name == "terraform.tfvars.json" ||
		strings.HasSuffix(name, ".auto.tfvars") || strings.HasSuffix(name, ".auto.tfvars.json")
}

// readVarFile reads the literal values of a variable file. Values that
// are not constants (variable files allow none) are left out.
func (l *tfLoader) readVarFile(p string) map[string]cty.Value {
	f, diags := l.parseVarsFile(p)
	if diags.HasErrors() || f == nil {
		// Terraform reads it only when told to: a file it cannot parse
		// is not a file this configuration is applied with.
		return nil
	}
	as, _ := f.Body.JustAttributes()
	out := map[string]cty.Value{}
	for n, a := range as {
		if v, d := a.Expr.Value(nil); !d.HasErrors() {
			out[n] = v
		}
	}
	return out
}

// varFileEnvs are the environments of a root's variable files, each on
// top of terraform.tfvars and *.auto.tfvars (a -var-file is applied
// after them, so it wins). Files that set none of the root's variables
// (a backend's settings, another tool's file) are not environments.
func (l *tfLoader) varFileEnvs(m *tfModule) []tfEnv {
	var out []tfEnv
	for _, p := range varFiles(m.dir) {
		vals := l.readVarFile(p)
		used := false
		for n := range vals {
			_, used = m.variables[n]
			if used {
				break
			}
		}
		if !used {
			continue
		}
		vars := make(map[string]cty.Value, len(m.tfvars)+len(vals))
		for n, v := range m.tfvars {
			vars[n] = v
		}
		for n, v := range vals {
			vars[n] = v
		}
		rel, err := filepath.Rel(m.dir, p)
		if err != nil {
			rel = p
		}
		l.files = append(l.files, p)
		out = append(out, tfEnv{label: m.dir + " (-var-file=" + filepath.ToSlash(rel) + ")", name: "-var-file=" + filepath.ToSlash(rel), vars: vars})
	}
	return out
}

// findingKey identifies what a finding says about a declaration, whatever
// environment said it: environments that agree are reported once.
type findingKey struct {
	root, file, address, name, status, reason, edit string
	line                                            int
}

// dedupeEnvs drops findings another environment of the same root already
// made identically, keeping the first. A finding that not every
// environment of its root makes names the ones that do in its reason, so
// a table with one line per environment still says which is which.
func dedupeEnvs(fs []Finding, envCount map[string]int) []Finding {
	type decl struct {
		root, file string
		line       int
	}
	// A workspace the configuration does not name, where a declaration
	// indexes a map by the workspace, fails to plan: its unreadable
	// value says nothing the named workspaces do not. The root without
	// variable files only tells which findings the files change.
	known := map[[3]string]bool{}
	named := map[decl]bool{}
	bareSays := map[findingKey]bool{}
	for _, f := range fs {
		if f.rootDir == "" {
			continue
		}
		if f.bare {
			bareSays[findingKey{f.rootDir, f.File, f.Address, f.Name, string(f.Status), f.Reason, f.Edit, f.Line}] = true
			continue
		}
		named[decl{f.rootDir, f.File, f.Line}] = true
		if !f.implied && f.Status != audit.StatusError {
			known[[3]string{f.rootDir, f.File, f.Address}] = true
		}
	}
	seen := map[findingKey]int{}
	envs := map[int][]string{}
	out := fs[:0]
	for _, f := range fs {
		if f.implied && f.Status == audit.StatusError && known[[3]string{f.rootDir, f.File, f.Address}] {
			continue
		}
		if f.bare && named[decl{f.rootDir, f.File, f.Line}] {
			continue
		}
		if f.rootDir == "" {
			out = append(out, f)
			continue
		}
		k := findingKey{f.rootDir, f.File, f.Address, f.Name, string(f.Status), f.Reason, f.Edit, f.Line}
		if i, ok := seen[k]; ok {
			envs[i] = append(envs[i], f.env)
			if f.tg != nil && f.tgVars != nil {
				out[i].tgMore = append(out[i].tgMore, f.tg)
			}
			continue
		}
		seen[k] = len(out)
		envs[len(out)] = []string{f.env}
		out = append(out, f)
	}
	for i, names := range envs {
		f := &out[i]
		k := findingKey{f.rootDir, f.File, f.Address, f.Name, string(f.Status), f.Reason, f.Edit, f.Line}
		if f.env == "" || f.bare || bareSays[k] || envCount[f.rootDir] > 1 && len(dedupe(names)) >= envCount[f.rootDir] {
			// The same everywhere, or the same without any file: no
			// environment makes it so.
			continue
		}
		f.envs = dedupe(names)
		f.Reason += " (with " + strings.Join(f.envs, ", ") + ")"
	}
	return out
}
