package iac

import (
	"fmt"
	"regexp"
	"strings"

	version "github.com/hashicorp/go-version"
	"github.com/zclconf/go-cty/cty"
)

// knownModule is a public module that creates a container repository,
// read from its inputs when terraform init has not downloaded it: most
// configurations create their ECR repositories through one of these, and
// without them the scan would see no repository at all. Each is described
// from its published source: the inputs that map to the resource's
// arguments and the defaults the module gives them.
type knownModule struct {
	// id is the registry address (namespace/name/provider).
	id string
	// git is the repository path git and GitHub sources name.
	git string
	// resource is the type and address inside the module.
	typ, address string
	// inputs maps the resource's arguments to the module's inputs.
	name, mutability, filters string
	// filterDefaultType is filter_type when an exclusion omits it.
	filterDefaultType string
	// mutabilityDefault gives the module's default for a version ("" when
	// the version is not known).
	mutabilityDefault func(v *version.Version) string
	// versions are the published versions, oldest first (for a version
	// constraint: terraform init installs the newest that matches).
	versions []string
	// perName is an input listing one repository per element (cloudposse's
	// image_names), keyed by the element at the resource address.
	perName string
	// skip reports inputs with which the call creates no such repository
	// (create = false, a public repository).
	skip func(in map[string]cty.Value) bool
	// arBuild gives an Artifact Registry module's repository arguments
	// from the call's inputs; arFix the input that makes tags immutable.
	arBuild func(k *knownModule, arg func(string) any, inputs map[string]cty.Value) attrs
	arFix   func(value any) op
}

func always(native string) func(*version.Version) string {
	return func(*version.Version) string { return native }
}

func isFalse(v cty.Value) bool {
	return v.IsKnown() && !v.IsNull() && v.Type() == cty.Bool && v.False()
}

var knownModules = []*knownModule{
	{
		// IMMUTABLE by default in every release (v1.0.0 on).
		id: "terraform-aws-modules/ecr/aws", git: "github.com/terraform-aws-modules/terraform-aws-ecr",
		typ: tfECR, address: "aws_ecr_repository.this[0]",
		name: "repository_name", mutability: "repository_image_tag_mutability", filters: "repository_image_tag_mutability_exclusion_filter",
		mutabilityDefault: always("IMMUTABLE"),
		skip: func(in map[string]cty.Value) bool {
			t := in["repository_type"]
			public := t.IsKnown() && !t.IsNull() && t.Type() == cty.String && t.AsString() == "public"
			return public || isFalse(in["create"]) || isFalse(in["create_repository"])
		},
	},
	{
		// MUTABLE until 0.31.0, IMMUTABLE since.
		id: "cloudposse/ecr/aws", git: "github.com/cloudposse/terraform-aws-ecr",
		typ: tfECR, address: "aws_ecr_repository.name",
		mutability: "image_tag_mutability", filters: "image_tag_mutability_exclusion_filter", filterDefaultType: "WILDCARD",
		perName: "image_names",
		mutabilityDefault: func(v *version.Version) string {
			if v.LessThan(version.Must(version.NewVersion("0.31.0"))) {
				return "MUTABLE"
			}
			return "IMMUTABLE"
		},
		versions: strings.Fields("0.1.0 0.2.0 0.2.1 0.2.2 0.2.3 0.2.4 0.2.5 0.2.6 0.2.7 0.2.8 0.2.9 0.2.10 0.2.11 0.2.12 0.2.13 0.3.0 " +
			"0.4.0 0.5.0 0.6.0 0.6.1 0.7.0 0.8.0 0.9.0 0.10.0 0.11.0 0.12.0 0.13.0 0.14.0 0.15.0 0.16.0 0.17.0 " +
			"0.18.0 0.19.0 0.20.0 0.21.0 0.22.0 0.23.0 0.24.0 0.25.0 0.26.0 0.27.0 0.28.0 0.28.1 0.29.0 0.29.1 " +
			"0.29.2 0.30.0 0.31.0 0.31.1 0.32.0 0.32.1 0.32.2 0.32.3 0.33.0 0.34.0 0.35.0 0.36.0 0.37.0 0.38.0 " +
			"0.39.0 0.40.0 0.40.1 0.41.0 0.41.1 0.42.0 0.42.1 0.42.2 0.43.0 0.44.0 1.0.0"),

		skip: func(in map[string]cty.Value) bool { return isFalse(in["enabled"]) },
	},
	{
		// Artifact Registry: docker_config (object({immutable_tags =
		// optional(bool)})) is null by default, so no docker_config
		// block and tags are mutable; format has no default; mode is
		// STANDARD_REPOSITORY by default.
		id: "googlecloudplatform/artifact-registry/google", git: "github.com/googlecloudplatform/terraform-google-artifact-registry",
		typ: tfAR, address: "google_artifact_registry_repository.repo",
		name: "repository_id", mutability: "docker_config",
		arBuild: (*knownModule).arAttrs,
		arFix: func(v any) op {
			return op{kind: opSet, path: []string{"docker_config"}, value: map[string]any{"immutable_tags": v}}
		},
	},
	{
		// Cloud Foundation Fabric: format is an object keyed by the
		// format and then the mode (format = { docker = { standard = {
		// immutable_tags = true } } }); docker_config is set only when
		// immutable_tags is, so it is false otherwise.
		id: "googlecloudplatform/cloud-foundation-fabric/artifact-registry", git: "github.com/googlecloudplatform/cloud-foundation-fabric//modules/artifact-registry",
		typ: tfAR, address: "google_artifact_registry_repository.registry",
		name: "name", mutability: "format",
		arBuild: fabricARAttrs,
		arFix: func(v any) op {
			return op{kind: opSet, path: []string{"format"}, value: map[string]any{"docker": map[string]any{"standard": map[string]any{"immutable_tags": v}}}}
		},
	},
	{
		// MUTABLE by default in every release.
		id: "lgallard/ecr/aws", git: "github.com/lgallard/terraform-aws-ecr",
		typ: tfECR, address: "aws_ecr_repository.repo[0]",
		name: "name", mutability: "image_tag_mutability", filters: "image_tag_mutability_exclusion_filters", filterDefaultType: "WILDCARD",
		mutabilityDefault: always("MUTABLE"),
	},
}

var gitRef = regexp.MustCompile(`[?].*$`)

// lookupKnownModule returns the module a registry or git source names, or
// nil. A sub-directory of the module (//modules/x) is another module.
func lookupKnownModule(source string) *knownModule {
	s := strings.ToLower(strings.TrimSpace(source))
	// Terragrunt names registry modules tfr:///ns/name/provider?version=x.
	s = strings.TrimPrefix(s, "tfr:///")
	s = strings.TrimPrefix(s, "tfr://")
	s = gitRef.ReplaceAllString(s, "")
	s = strings.TrimPrefix(s, "registry.terraform.io/")
	s = strings.TrimPrefix(s, "app.terraform.io/")
	for _, k := range knownModules {
		if s == k.id {
			return k
		}
	}
	for _, p := range []string{"git::", "https://", "http://", "ssh://", "git@"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.Replace(s, "github.com:", "github.com/", 1)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	for _, k := range knownModules {
		if s == k.git {
			return k
		}
	}
	return nil
}

// defaultMutability is the module's default for the version a call's
// constraint installs (the newest published one that matches), or why
// it cannot be told.
func (k *knownModule) defaultMutability(constraint, gitSource string) (string, string) {
	if k.versions == nil {
		return k.mutabilityDefault(nil), ""
	}
	if gitSource != "" {
		ref := ""
		if i := strings.Index(gitSource, "ref="); i >= 0 {
			ref = strings.SplitN(gitSource[i+4:], "&", 2)[0]
			ref = strings.TrimPrefix(strings.TrimPrefix(ref, "tags/"), "v")
		}
		v, err := version.NewVersion(ref)
		if ref == "" || err != nil {
			return "", fmt.Sprintf("the default of %s depends on its version and source %q names none", k.id, gitSource)
		}
		return k.mutabilityDefault(v), ""
	}
	latest := version.Must(version.NewVersion(k.versions[len(k.versions)-1]))
	if strings.TrimSpace(constraint) == "" {
		return k.mutabilityDefault(latest), ""
	}
	cs, err := version.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Sprintf("version constraint %q of %s cannot be read", constraint, k.id)
	}
	var best *version.Version
	for _, s := range k.versions {
		if v := version.Must(version.NewVersion(s)); cs.Check(v) {
			best = v
		}
	}
	if best == nil {
		return "", fmt.Sprintf("no release of %s the scan knows matches version %q", k.id, constraint)
	}
	return k.mutabilityDefault(best), ""
}

// knownModuleResources turns a call of a known module into the resources
// it creates, with the arguments its inputs give them.
func (in *tfInstance) knownModuleResources(c *tfCall, k *knownModule, key instanceKey, inputs map[string]cty.Value, whys map[string]string, emit func(Resource, attrs)) {
	if k.skip != nil && k.skip(inputs) {
		return
	}
	gitSource := ""
	if strings.Contains(c.source, "github.com") {
		gitSource = c.source
	}
	arg := func(input string) any {
		v, ok := inputs[input]
		if !ok {
			return nil
		}
		if !v.IsWhollyKnown() {
			return unknown{why: whys[input]}
		}
		return fromCty(v, "")
	}
	a := attrs{}
	if k.typ == tfAR {
		a = k.arBuild(k, arg, inputs)
	} else if v, ok := inputs[k.mutability]; ok && !v.IsNull() {
		a["image_tag_mutability"] = arg(k.mutability)
	} else if def, why := k.defaultMutability(c.version, gitSource); why != "" {
		a["image_tag_mutability"] = unknown{why: why}
	} else {
		a["image_tag_mutability"] = def
	}
	if k.filters != "" && k.typ == tfECR {
		switch fs := arg(k.filters).(type) {
		case []any:
			var list []any
			for _, f := range fs {
				if m, ok := f.(map[string]any); ok && k.filterDefaultType != "" && m["filter_type"] == nil {
					m["filter_type"] = k.filterDefaultType
				}
				list = append(list, f)
			}
			a["image_tag_mutability_exclusion_filter"] = list
		case unknown:
			a["image_tag_mutability_exclusion_filter"] = fs
		}
	}
	prefix := in.address + "module." + c.name + key.suffix + "."
	byHand := ""
	if c.name == "" {
		// Terragrunt applies the module as the root module, and its
		// inputs are not Terraform the fix rewrites.
		prefix, byHand = "", "Terragrunt passes it: set it in the inputs of "+c.file.path
	}
	base := Resource{File: c.file.path, Line: c.rng.Start.Line, Column: c.rng.Start.Column, Type: k.typ, Syntax: SyntaxHCL,
		block:  blockRef{file: c.file.path, syntax: SyntaxHCL, typ: "module", name: c.name},
		module: in.address, rootDir: in.root, env: in.env, endLine: c.endLine, meta: "module", via: k, byHand: byHand,
		implied: in.implied, bare: in.bare}
	if c.file.json {
		base.Syntax, base.block.syntax = SyntaxTFJSON, SyntaxTFJSON
	}
	if in.label != "" {
		base.Root = in.label
	} else if in.address != "" {
		base.Root = in.root
	}
	if k.perName != "" {
		if names, ok := arg(k.perName).([]any); ok && len(names) > 0 {
			for _, n := range names {
				r, ra := base, copyAttrs(a)
				ra["name"] = n
				s, _ := n.(string)
				r.Address = prefix + k.address + fmt.Sprintf("[%q]", s)
				emit(r, ra)
			}
			return
		}
		r := base
		r.Address = prefix + k.address
		a["name"] = unknown{why: fmt.Sprintf("%s names the repository from its labels when %s is empty", k.id, k.perName)}
		emit(r, a)
		return
	}
	r := base
	r.Address = prefix + k.address
	a["name"] = arg(k.name)
	emit(r, a)
}

func copyAttrs(a attrs) attrs {
	out := make(attrs, len(a))
	for k, v := range a {
		out[k] = v
	}
	return out
}

// arAttrs are the Artifact Registry repository's arguments a call of
// the module gives: its inputs, with the module's defaults.
func (k *knownModule) arAttrs(arg func(string) any, inputs map[string]cty.Value) attrs {
	a := attrs{"format": arg("format"), "project": arg("project_id"), "location": arg("location"), "repository_id": arg(k.name)}
	if _, ok := inputs["format"]; !ok {
		a["format"] = unknown{why: "format is a required input of " + k.id + " and the call does not give it"}
	}
	a["mode"] = "STANDARD_REPOSITORY"
	if v, ok := inputs["mode"]; ok && !(v.IsKnown() && v.IsNull()) {
		a["mode"] = arg("mode")
	}
	switch dc := arg("docker_config").(type) {
	case map[string]any:
		a["docker_config"] = []any{dc}
	case unknown:
		a["docker_config"] = dc
	}
	return a
}

// fabricARAttrs reads the Cloud Foundation Fabric module's format
// object: the format is its one non-null key, the mode that key's one
// set key. A format given as a string is an older release whose inputs
// the scan does not know: unknown, not guessed.
func fabricARAttrs(k *knownModule, arg func(string) any, _ map[string]cty.Value) attrs {
	a := attrs{"repository_id": arg(k.name), "project": arg("project_id"), "location": arg("location")}
	unk := func(why string) attrs {
		a["format"] = unknown{why: why}
		return a
	}
	f, ok := arg("format").(map[string]any)
	if !ok {
		if u, isU := arg("format").(unknown); isU {
			return unk(u.why)
		}
		return unk("format of " + k.id + " is not the object this scan knows (an older release?): run terraform init and scan again")
	}
	var name string
	var obj map[string]any
	for key, v := range f {
		if v == nil {
			continue
		}
		if name != "" {
			return unk("format of " + k.id + " names more than one format")
		}
		name = key
		if m, isMap := v.(map[string]any); isMap {
			obj = m
		} else if u, isU := v.(unknown); isU {
			return unk(u.why)
		}
	}
	if name == "" {
		return unk("format of " + k.id + " names no format")
	}
	a["format"] = strings.ToUpper(name)
	mode := ""
	for key, v := range obj {
		if v != nil && v != false {
			mode = key
		}
	}
	if mode == "" {
		return unk("format." + name + " of " + k.id + " names no mode")
	}
	a["mode"] = strings.ToUpper(mode) + "_REPOSITORY"
	if st, isMap := obj["standard"].(map[string]any); isMap && mode == "standard" {
		switch it := st["immutable_tags"].(type) {
		case nil:
		case unknown:
			a["docker_config"] = it
		default:
			a["docker_config"] = []any{map[string]any{"immutable_tags": it}}
		}
	}
	return a
}

// moduleFix turns the resource's edits into edits of the call's inputs.
func (k *knownModule) moduleFix(ops []op) []op {
	var out []op
	for _, o := range ops {
		switch {
		case o.kind == opSet && k.typ == tfAR && len(o.path) == 2 && o.path[0] == "docker_config" && o.path[1] == "immutable_tags":
			out = append(out, k.arFix(o.value))
		case o.kind == opSet && len(o.path) == 1 && o.path[0] == "image_tag_mutability":
			out = append(out, op{kind: opSet, path: []string{k.mutability}, value: o.value})
		case o.kind == opRemove && len(o.path) == 1 && o.path[0] == "image_tag_mutability_exclusion_filter" && k.filters != "":
			out = append(out, op{kind: opRemove, path: []string{k.filters}})
			if len(o.keep) > 0 {
				var list []any
				for _, p := range o.keep {
					list = append(list, map[string]any{"filter": p, "filter_type": "WILDCARD"})
				}
				out = append(out, op{kind: opSet, path: []string{k.filters}, value: list})
			}
		}
	}
	return out
}
