package artifactregistry

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/immutag/immutag/internal/providers"
)

// immutableTagsPath is the only field a fix ever writes.
const immutableTagsPath = "docker_config.immutable_tags"

var wantAfter = providers.Immutability{Mode: providers.ModeImmutable, Native: "dockerConfig.immutableTags=true"}

// Ref is the target of an Artifact Registry change (providers.Change.Ref):
// the repository's resource name. The only field a fix writes is
// docker_config.immutable_tags.
type Ref struct {
	// Resource is projects/PROJECT/locations/LOCATION/repositories/REPOSITORY.
	Resource string `json:"resource"`
}

// valid reports whether the resource name has the shape of a repository's.
func (r Ref) valid() bool {
	p := strings.Split(r.Resource, "/")
	return len(p) == 6 && p[0] == "projects" && p[2] == "locations" && p[4] == "repositories" && p[1] != "" && p[3] != "" && p[5] != ""
}

// repoOf returns the handle of r, rebuilding it from scope and name when the
// repository did not come from this adapter's listing (e.g. a saved report).
func repoOf(h any, scope, name string) (repoHandle, error) {
	if rh, ok := h.(repoHandle); ok && rh.resource != "" {
		return rh, nil
	}
	proj, loc, ok := strings.Cut(scope, "/")
	if !ok || proj == "" || loc == "" || strings.ContainsAny(loc, "/*") || name == "" || strings.Contains(name, "/") {
		return repoHandle{}, fmt.Errorf("repository %q in scope %q: want scope PROJECT/LOCATION and a repository id", name, scope)
	}
	return repoHandle{resource: "projects/" + proj + "/locations/" + loc + "/repositories/" + name}, nil
}

// Plan says whether docker_config.immutable_tags must be turned on. It
// trusts the listing unless that could not read the setting, in which case
// it reads the repository again. AR has one flag and no per-tag
// exclusions, so when the policy allows some tags to stay mutable the fix
// would make them immutable too and break the pipelines that re-push them:
// the change is held back with that reason unless the user accepted it
// (--accept-immutable-allowed-tags).
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	h, err := repoOf(r.Handle, r.Scope, r.Name)
	if err != nil {
		return providers.Change{}, err
	}
	from := r.Immutability
	if from.Mode == providers.ModeUnknown || from.Mode == "" {
		got, err := p.read(ctx, h)
		if err != nil {
			return providers.Change{}, fmt.Errorf("plan %s: %w", h.resource, err)
		}
		if got.GetFormat() != artifactregistrypb.Repository_DOCKER {
			return providers.Change{}, fmt.Errorf("plan %s: format %s has no tag immutability", h.resource, got.GetFormat())
		}
		from, h.mode = immutabilityOf(got), got.GetMode()
	}
	c := providers.Change{
		Provider:   p.name,
		Kind:       providers.KindArtifactRegistry,
		Scope:      r.Scope,
		Repository: r.Name,
		URI:        r.URI,
		From:       from,
	}
	if err := providers.SetRef(&c, Ref{Resource: h.resource}); err != nil {
		return c, err
	}
	if from.Mode == providers.ModeImmutable {
		c.To, c.Noop, c.Action = from, true, "none: "+immutableTagsPath+" is already true"
		return c, nil
	}
	if readOnlyMode(h.mode) || from.Mode == providers.ModeUnsupported {
		return c, fmt.Errorf("plan %s: %w", h.resource, &providers.APIError{
			Class:   providers.ErrUnsupported,
			Message: "remote and virtual repositories cannot have immutable tags; fix the upstream instead",
		})
	}
	c.To = wantAfter
	c.Writes = 1
	c.Action = fmt.Sprintf("UpdateRepository %s set %s=true (update_mask: %s)", h.resource, immutableTagsPath, immutableTagsPath)
	if allowed := allowedPatterns(pol.MutableTagsAllowed); len(allowed) > 0 {
		if pol.AcceptImmutableAllowed {
			c.Action += "; tags matching " + strings.Join(allowed, ", ") + " become immutable too (accepted with --accept-immutable-allowed-tags)"
		} else {
			c.HeldBack = fmt.Sprintf("Artifact Registry cannot keep %s mutable (immutable tags is one flag for the whole repository): the fix would make them immutable too; pass --accept-immutable-allowed-tags to accept that",
				strings.Join(allowed, ", "))
		}
	}
	return c, nil
}

// allowedPatterns are the policy's allowed patterns that leave some tag
// mutable (a pattern of only "*" is never honoured).
func allowedPatterns(ps []string) []string {
	var out []string
	for _, a := range ps {
		if a = strings.TrimSpace(a); a != "" && strings.Trim(a, "*") != "" {
			out = append(out, a)
		}
	}
	return out
}

// Apply sets docker_config.immutable_tags=true with a field mask naming only
// that field, so no other setting of the repository can change, then reads
// the repository back. A Noop change makes no write and is only verified.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	ref, err := providers.RefOf[Ref](c, providers.KindArtifactRegistry)
	if err != nil {
		return res, err
	}
	if !ref.valid() {
		return res, fmt.Errorf("%w: artifactregistry change of %s/%s: resource %q is not projects/P/locations/L/repositories/R", providers.ErrBadRef, c.Scope, c.Repository, ref.Resource)
	}
	h := repoHandle{resource: ref.Resource}
	if !c.Noop {
		cl, err := p.sdk(ctx)
		if err != nil {
			return res, err
		}
		req := &artifactregistrypb.UpdateRepositoryRequest{
			Repository: &artifactregistrypb.Repository{
				Name: h.resource,
				FormatConfig: &artifactregistrypb.Repository_DockerConfig{
					DockerConfig: &artifactregistrypb.Repository_DockerRepositoryConfig{ImmutableTags: true},
				},
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{immutableTagsPath}},
		}
		_, err = cl.UpdateRepository(ctx, req, p.callOptions()...)
		err = mapErr(ctx, err)
		rec := providers.WriteRecord{
			Call:   "UpdateRepository",
			Target: immutableTagsPath,
			Before: c.From.Native,
			After:  wantAfter.Native,
		}
		if err != nil {
			rec.Err = err.Error()
		}
		if o != nil {
			o.Write(c, rec)
		}
		if err != nil {
			return res, fmt.Errorf("update repository %s: %w", h.resource, err)
		}
		res.Writes = 1
		if o != nil {
			o.Progress(c, 1, 1)
		}
		p.log.Info("immutable tags enabled", "repository", h.resource)
	}
	got, err := p.read(ctx, h)
	if err != nil {
		res.After = providers.Immutability{Mode: providers.ModeUnknown, Error: err.Error()}
		return res, fmt.Errorf("verify %s: %w: %w", h.resource, providers.ErrReadBack, err)
	}
	res.After = immutabilityOf(got)
	res.Verified = res.After.Mode == providers.ModeImmutable && got.GetDockerConfig().GetImmutableTags()
	if !res.Verified {
		p.log.Warn("read-back does not show immutable tags", "repository", h.resource, "native", res.After.Native)
	}
	return res, nil
}

func (p *Provider) read(ctx context.Context, h repoHandle) (*artifactregistrypb.Repository, error) {
	cl, err := p.sdk(ctx)
	if err != nil {
		return nil, err
	}
	got, err := cl.GetRepository(ctx, &artifactregistrypb.GetRepositoryRequest{Name: h.resource}, p.callOptions()...)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	return got, nil
}
