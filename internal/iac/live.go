package iac

import (
	"fmt"
	"sort"
	"strings"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// Reverted is the finding for a repository the code would make mutable again.
const Reverted = "will be reverted by the next apply"

// Index maps live repositories to the resources that declare them, by
// registry kind and resolved name. Code is small next to an estate, so
// it is held in memory; live findings stream past it.
type Index struct {
	byKey map[string][]Finding
}

// NewIndex indexes the findings of a scan whose repository name is known.
// Repository creation templates declare no repository and are left out.
func NewIndex(res *Result) *Index {
	x := &Index{byKey: map[string][]Finding{}}
	for _, f := range res.Findings {
		if !f.NameKnown || f.Type == tfECRTemplate || f.Type == cfnECRTemplate || f.Type == pulumiECRTemplate || f.Type == tfECRPTC || f.Type == cfnECRPTC {
			continue
		}
		k := codeKey(f)
		x.byKey[k] = append(x.byKey[k], f)
	}
	return x
}

// Len is the number of declarations indexed.
func (x *Index) Len() int {
	n := 0
	for _, fs := range x.byKey {
		n += len(fs)
	}
	return n
}

func codeKey(f Finding) string {
	switch f.Kind {
	case providers.KindDockerHub:
		return string(f.Kind) + "|" + f.Scope + "/" + f.Name
	}
	return string(f.Kind) + "|" + f.Name
}

// liveKey is the key a live repository is declared under: Harbor and
// GitLab settings belong to the project (the live scope), the others to
// the repository.
func liveKey(kind providers.Kind, scope, name string) string {
	switch kind {
	case providers.KindHarbor, providers.KindGitLab:
		return string(kind) + "|" + scope
	case providers.KindDockerHub:
		return string(kind) + "|" + scope + "/" + name
	}
	return string(kind) + "|" + name
}

// Lookup returns the declarations of a live repository.
func (x *Index) Lookup(kind providers.Kind, scope, name string) []Finding {
	var out []Finding
	for _, f := range x.byKey[liveKey(kind, scope, name)] {
		// An Artifact Registry resource that names its project and
		// location must name the live ones.
		if kind == providers.KindArtifactRegistry && f.Scope != "" && !strings.HasPrefix(f.Scope, "/") && !strings.HasSuffix(f.Scope, "/") && f.Scope != scope {
			continue
		}
		out = append(out, f)
	}
	return out
}

func ok(s audit.Status) bool { return s == audit.StatusCompliant || s == audit.StatusExempt }

// pick chooses the declaration that decides: Harbor and GitLab rules add
// up (the most immutable one decides); several resources for one
// repository conflict, and the least immutable one is what an apply may
// leave.
func pick(kind providers.Kind, fs []Finding) Finding {
	rank := func(f Finding) int {
		switch {
		case ok(f.Status):
			return 2
		case f.Status == audit.StatusError:
			return 1
		}
		return 0
	}
	sort.SliceStable(fs, func(i, j int) bool {
		return fs[i].File < fs[j].File || fs[i].File == fs[j].File && fs[i].Line < fs[j].Line
	})
	best := fs[0]
	for _, f := range fs[1:] {
		if kind == providers.KindHarbor || kind == providers.KindGitLab {
			if rank(f) > rank(best) {
				best = f
			}
		} else if rank(f) < rank(best) {
			best = f
		}
	}
	return best
}

// Compare says whether the code agrees with a live finding.
func (x *Index) Compare(f *audit.Finding) *audit.CodeRef {
	fs := x.Lookup(f.Kind, f.Scope, f.Repository)
	if len(fs) == 0 {
		return &audit.CodeRef{Managed: false, Finding: "no resource in the scanned code declares this repository"}
	}
	c := pick(f.Kind, fs)
	ref := &audit.CodeRef{Managed: true, Status: c.Status, Native: c.Immutability.Native, File: c.File, Line: c.Line, Address: c.Address}
	live, code := ok(f.Status), ok(c.Status)
	switch {
	case c.Status == audit.StatusError:
		ref.Finding = "the code's setting is only known after apply: " + c.Reason
	case live && !code && ignoresSetting(c.Resource):
		ref.Finding = fmt.Sprintf("the code declares %s (%s:%d), but lifecycle.ignore_changes keeps the live setting: an apply does not revert it, a re-creation would", c.Immutability.Native, c.File, c.Line)
	case live && !code:
		ref.Finding = fmt.Sprintf("%s: the code declares %s (%s:%d)", Reverted, c.Immutability.Native, c.File, c.Line)
	case !live && code && f.Status == audit.StatusDrift:
		ref.Finding = fmt.Sprintf("the next apply makes it compliant: the code declares %s", c.Immutability.Native)
		ref.Agrees = false
		return ref
	}
	ref.Agrees = c.Status != audit.StatusError && live == code && f.Status != audit.StatusError
	return ref
}

// settingArg is the argument that carries each type's setting.
var settingArg = map[string]string{
	tfECR: "image_tag_mutability", tfECRTemplate: "image_tag_mutability", tfAR: "docker_config",
	tfHub: "immutable_tags_settings", tfHubImmutable: "enabled", tfHarborRule: "disabled", tfGitLab: "immutable",
	pulumiECR: "imageTagMutability", pulumiECRTemplate: "imageTagMutability", pulumiAR: "dockerConfig",
}

// ignoresSetting reports whether lifecycle.ignore_changes covers the
// resource's setting, so an apply leaves the live value alone.
func ignoresSetting(r Resource) bool {
	for _, a := range r.ignored {
		if a == "all" || a == settingArg[r.Type] {
			return true
		}
	}
	return false
}

// Annotate sets the Code field of a live finding (audit --iac).
func (x *Index) Annotate(f *audit.Finding) { f.Code = x.Compare(f) }

// ChangeTarget is a live change the code should follow.
type ChangeTarget struct {
	Kind              providers.Kind
	Scope, Repository string
}

// Patch collects the code changes that follow live changes. Only the
// declarations found are kept (bounded by the code, not the estate);
// repositories no resource declares go to the unmanaged callback as they
// come.
type Patch struct {
	x         *Index
	fs        []Finding
	seen      map[string]bool
	unmanaged func(ChangeTarget)
	// Unmanaged counts the targets no resource declares.
	Unmanaged int
}

// NewPatch starts a patch; unmanaged may be nil.
func (x *Index) NewPatch(unmanaged func(ChangeTarget)) *Patch {
	return &Patch{x: x, seen: map[string]bool{}, unmanaged: unmanaged}
}

// Add records one live change.
func (p *Patch) Add(t ChangeTarget) {
	decl := p.x.Lookup(t.Kind, t.Scope, t.Repository)
	if len(decl) == 0 {
		p.Unmanaged++
		if p.unmanaged != nil {
			p.unmanaged(t)
		}
		return
	}
	for _, f := range decl {
		k := f.File + "\x00" + f.Address
		if !p.seen[k] {
			p.seen[k] = true
			p.fs = append(p.fs, f)
		}
	}
}

// Changes computes the file changes that make the declarations compliant.
func (p *Patch) Changes(pol Policy) ([]FileChange, []FileError) {
	return PlanFixes(p.fs, pol)
}
