// Package iac finds the resources of Terraform configurations,
// CloudFormation templates and Terraform plan files that set container
// tag immutability, maps each to the same providers.Immutability the
// registry adapters read from a live registry, and grades it with the
// audit policy engine, so code and live registries agree on what is
// compliant. It also writes the edits that make the code immutable.
package iac

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Syntax is the kind of file a resource was declared in.
type Syntax string

// Syntaxes.
const (
	SyntaxHCL     Syntax = "terraform"
	SyntaxTFJSON  Syntax = "terraform-json"
	SyntaxCFNYAML Syntax = "cloudformation-yaml"
	SyntaxCFNJSON Syntax = "cloudformation-json"
	SyntaxPlan    Syntax = "terraform-plan"
)

// Resource is one resource instance that sets (or should set) tag
// immutability, with what the code makes of it.
type Resource struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// Address is the Terraform address (module.x.aws_ecr_repository.this[0])
	// or the CloudFormation logical id (Resources.Repo).
	Address string `json:"address"`
	Type    string `json:"type"`
	// Root is the root module directory whose call reached this
	// resource, for resources inside a called module.
	Root   string         `json:"root,omitempty"`
	Syntax Syntax         `json:"syntax"`
	Kind   providers.Kind `json:"kind"`
	Scope  string         `json:"scope,omitempty"`
	Name   string         `json:"repository,omitempty"`
	// NameKnown is false when the repository name is computed.
	NameKnown    bool                   `json:"-"`
	Immutability providers.Immutability `json:"immutability"`
	// DefaultExemption is why the resource is mutable by nature (remote
	// repository, proxy cache), as the live adapters say it.
	DefaultExemption string `json:"-"`

	// block identifies the declaration an edit changes.
	block blockRef
	// fixer returns the changes that make the declaration compliant
	// under the given allowed mutable patterns.
	fixer func(allowed []string) []op
	// meta is "count" or "for_each" when the declaration has one.
	meta string
	// ignored are the arguments lifecycle.ignore_changes names.
	ignored []string
	// refs are resource addresses (type.name, same module) an attribute refers to.
	refs map[string][]string
	// module is the module instance path ("" for the root).
	module string
	// rootDir is the Terraform root module directory that planned the
	// resource (environments of one root share it).
	rootDir string
	// via is the known public module whose call creates the resource:
	// edits go to the call's inputs.
	via *knownModule
	// byHand says where to make the edit when no file here can take it.
	byHand string
	// tg is the Terragrunt unit whose inputs give a known module's
	// arguments: the edit goes to the inputs that set them.
	tg *tgConfig
	// tgVars are the declaration's arguments that are a root variable
	// as written (image_tag_mutability = var.mutability), by argument:
	// the Terragrunt input setting the variable is what to edit.
	tgVars map[string]string
	// tgMore are the other Terragrunt units whose same finding was
	// merged into this one: their inputs are edited too.
	tgMore []*tgConfig
	// env names the environment of rootDir the resource was planned in
	// (-var-file=prod.tfvars), "" for the root's defaults.
	env string
	// forPTC marks a creation template applied to PULL_THROUGH_CACHE.
	forPTC bool
	// envs are the environments a finding holds in when not in every
	// one the root is applied with (set when findings are merged).
	envs []string
	// implied marks a resource planned in a deployment the
	// configuration does not name (see tfInstance.implied).
	implied bool
	// bare marks a resource of a root graded without its variable files
	// (see tfInstance.bare).
	bare bool
	// endLine is the last line of the declaration (for suppressions).
	endLine int
	// overrides are Terraform override files merged into the declaration.
	overrides []string
}

// blockRef names a declaration in a file.
type blockRef struct {
	file   string
	syntax Syntax
	// Terraform: resource type and name. CloudFormation: logical id.
	typ, name string
}

// Finding is a graded resource.
type Finding struct {
	Resource
	Status      audit.Status        `json:"status"`
	Rule        string              `json:"rule"`
	Reason      string              `json:"reason"`
	Remediation string              `json:"remediation,omitempty"`
	Offending   []string            `json:"offending_patterns,omitempty"`
	Exemption   *audit.ExemptionRef `json:"exemption,omitempty"`
	// Edit describes the exact change that makes the code compliant;
	// empty when no automatic change exists.
	Edit           string `json:"edit,omitempty"`
	Suppressed     bool   `json:"suppressed,omitempty"`
	SuppressReason string `json:"suppress_reason,omitempty"`
}

// Active reports whether the finding needs attention (drift or an
// unreadable setting) and is not suppressed.
func (f Finding) Active() bool {
	return !f.Suppressed && (f.Status == audit.StatusDrift || f.Status == audit.StatusError)
}

// FileError is a file that could not be read or parsed.
type FileError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e FileError) Error() string {
	if e.Line > 0 {
		return e.File + ":" + itoa(e.Line) + ": " + e.Message
	}
	return e.File + ": " + e.Message
}

// Result is a scan of some paths.
type Result struct {
	Findings []Finding   `json:"findings"`
	Notes    []string    `json:"notes,omitempty"`
	Errors   []FileError `json:"errors,omitempty"`
	Files    []string    `json:"files"`
	// Invalid are suppression comments that silence nothing.
	Invalid []FileError `json:"invalid_suppressions,omitempty"`

	sources map[string][]byte
}

// Active counts findings that need attention.
func (r *Result) Active() int {
	n := 0
	for _, f := range r.Findings {
		if f.Active() {
			n++
		}
	}
	return n + len(r.Invalid)
}

// Counts returns the number of findings per status.
func (r *Result) Counts() map[audit.Status]int {
	m := map[audit.Status]int{}
	for _, f := range r.Findings {
		m[f.Status]++
	}
	return m
}

// Policy is what grading needs from the config.
type Policy struct {
	MutableTagsAllowed []string
	Exemptions         []config.Exemption
	Now                time.Time
}

// PolicyFrom converts the config policy.
func PolicyFrom(p config.Policy, now time.Time) Policy {
	return Policy{MutableTagsAllowed: p.MutableTagsAllowed, Exemptions: p.Exemptions, Now: now}
}

// auditPolicy is the audit policy for code: code names no configured
// provider instance or live scope, so exemptions match by repository name
// alone (an exemption scoped to one provider still names the repository).
func (p Policy) auditPolicy() audit.Policy {
	ex := make([]config.Exemption, len(p.Exemptions))
	for i, e := range p.Exemptions {
		e.Provider, e.Scope = "", ""
		ex[i] = e
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	return audit.Policy{MutableTagsAllowed: slices.Clone(p.MutableTagsAllowed), Exemptions: ex, Now: now}
}

func grade(r Resource, ap audit.Policy) Finding {
	name := r.Name
	if !r.NameKnown {
		// A computed name matches no exemption: an exemption cannot be
		// shown to apply to a repository whose name is not known.
		name = "\x00unknown"
	}
	ev := audit.Evaluate(providers.Repository{
		Kind: r.Kind, Scope: r.Scope, Name: name,
		Immutability: r.Immutability, DefaultExemption: r.DefaultExemption,
	}, ap)
	f := Finding{Resource: r, Status: ev.Status, Rule: ev.Rule, Reason: ev.Reason,
		Offending: ev.Offending, Exemption: ev.Exemption}
	if ev.Status == audit.StatusDrift {
		f.Remediation = remediation(r)
		if r.fixer != nil {
			ops := r.fixer(ap.MutableTagsAllowed)
			f.Edit = describe(ops)
			switch {
			case r.tg != nil && r.tgVars == nil:
				if file, why := r.tg.inputsTarget(ops); why != "" {
					f.Edit += " (by hand: Terragrunt passes it: set it in the inputs of " + r.tg.path + ": " + why + ")"
				} else {
					f.Edit += " in the inputs of " + file
				}
			case r.tg != nil && r.tgInputOps(ops) != nil:
				// Not named: units that agree are one finding, each
				// unit's inputs edited.
				f.Edit = describe(r.tgInputOps(ops)) + " in the Terragrunt inputs that set it"
			case r.byHand != "":
				f.Edit += " (by hand: " + r.byHand + ")"
			case downloaded(r.File):
				f.Edit += " (by hand in the module's source or through its inputs: this copy was downloaded by terraform init)"
			case r.Syntax == SyntaxTFJSON:
				f.Edit += " (by hand: JSON configuration is not rewritten)"
			case len(r.overrides) > 0:
				f.Edit += " (by hand: override file " + strings.Join(r.overrides, ", ") + " also sets this declaration)"
			case r.Syntax == SyntaxPlan:
				f.Edit += " (in the configuration the plan was made from)"
			}
		}
	}
	if ev.Status == audit.StatusError {
		f.Remediation = "give the value a literal (or a variable default) that the scan can read, or scan the plan: terraform show -json plan.out > plan.json"
	}
	return f
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Address < b.Address
	})
}
