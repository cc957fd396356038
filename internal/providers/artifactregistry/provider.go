// Package artifactregistry is the Google Artifact Registry adapter. It lists
// DOCKER repositories per project x location through the official gRPC client
// (cloud.google.com/go/artifactregistry/apiv1) and fixes them by setting
// docker_config.immutable_tags with a field mask naming only that field.
//
// Scopes are "PROJECT/LOCATION". With no locations configured they come from
// ListLocations per project; the API has no all-locations wildcard.
package artifactregistry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	arapi "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// pageSize is the API's maximum page size for ListRepositories.
const pageSize = 1000

// remoteReason is the default exemption for remote and virtual repositories.
const remoteReason = "remote/virtual repository: a read-only mirror or aggregate; its tags follow the upstream"

// arClient is the part of the SDK client the adapter uses.
type arClient interface {
	ListLocations(ctx context.Context, req *locationpb.ListLocationsRequest, opts ...gax.CallOption) *arapi.LocationIterator
	ListRepositories(ctx context.Context, req *artifactregistrypb.ListRepositoriesRequest, opts ...gax.CallOption) *arapi.RepositoryIterator
	GetRepository(ctx context.Context, req *artifactregistrypb.GetRepositoryRequest, opts ...gax.CallOption) (*artifactregistrypb.Repository, error)
	UpdateRepository(ctx context.Context, req *artifactregistrypb.UpdateRepositoryRequest, opts ...gax.CallOption) (*artifactregistrypb.Repository, error)
	ListDockerImages(ctx context.Context, req *artifactregistrypb.ListDockerImagesRequest, opts ...gax.CallOption) *arapi.DockerImageIterator
	Close() error
}

// Provider is one configured Artifact Registry instance. It is safe for
// concurrent use; the SDK client is created on first use.
type Provider struct {
	name      string
	projects  []string
	locations []string
	dial      dialPlan
	rate      config.Rate
	log       *slog.Logger

	// Retry policy and per-call timeout, also applied per attempt (tests
	// shorten them, directly or through providers.Options.Retry).
	backoff  gax.Backoff
	attempts int
	timeout  time.Duration

	mu     sync.Mutex
	client arClient
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Enforcer = (*Provider)(nil)
)

// New builds the adapter from its config entry without calling any API.
func New(ctx context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	if len(s.Projects) == 0 {
		return nil, errors.New("projects: at least one GCP project id is required")
	}
	projects, err := cleanIDs("projects", s.Projects)
	if err != nil {
		return nil, err
	}
	locations, err := cleanIDs("locations", s.Locations)
	if err != nil {
		return nil, err
	}
	d, err := planDial(p)
	if err != nil {
		return nil, err
	}
	if o.Hermetic && !d.plaintext {
		// Application Default Credentials read the process environment
		// and instance metadata, which a hermetic run keeps out of reach.
		return nil, errors.New("hermetic run: only a plain-gRPC loopback endpoint, which takes no credentials, can be reached")
	}
	pr := &Provider{
		name:      p.Name,
		projects:  projects,
		locations: locations,
		dial:      d,
		rate:      p.Rate,
		log:       o.Log().With("provider", p.Name, "kind", providers.KindArtifactRegistry),
		backoff:   gax.Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2},
		attempts:  5,
		timeout:   60 * time.Second,
	}
	if mb := o.Retry.MaxBackoff; mb > 0 {
		pr.backoff.Initial = min(pr.backoff.Initial, mb)
		pr.backoff.Max = mb
	}
	if to := o.Retry.AttemptTimeout; to > 0 {
		pr.timeout = to
	}
	return pr, nil
}

// cleanIDs rejects empty ids and ids that would break a resource name, and
// drops duplicates keeping the order.
func cleanIDs(key string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || strings.ContainsAny(id, "/*") {
			return nil, fmt.Errorf("%s[%d]: %q is not a valid id", key, i, ids[i])
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is providers.KindArtifactRegistry.
func (p *Provider) Kind() providers.Kind { return providers.KindArtifactRegistry }

// Close releases the SDK client, if one was created.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil
	}
	err := p.client.Close()
	p.client = nil
	return err
}

func (p *Provider) sdk(ctx context.Context) (arClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		return p.client, nil
	}
	// The client outlives this call (token refresh, pooled connections), so
	// it must not inherit the caller's cancellation.
	opts := append(p.dial.clientOptions(p.rate),
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(deadlineInterceptor(p.timeout))))
	c, err := arapi.NewClient(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, fmt.Errorf("artifact registry client: %w", err)
	}
	p.client = c
	return c, nil
}

// scopeHandle is the adapter-private part of a Scope. err is set for a
// project whose locations could not be listed.
type scopeHandle struct {
	project, location string
	err               error
}

// Scopes returns one scope per project x location. With no locations
// configured it calls ListLocations per project; a project whose listing
// fails becomes scope "PROJECT/*" that reports the failure.
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	var out []providers.Scope
	add := func(h scopeHandle) {
		out = append(out, providers.Scope{
			Provider: p.name, Kind: providers.KindArtifactRegistry,
			Name: h.project + "/" + h.location, Handle: h,
		})
	}
	if len(p.locations) > 0 {
		for _, proj := range p.projects {
			for _, loc := range p.locations {
				add(scopeHandle{project: proj, location: loc})
			}
		}
		return out, nil
	}
	c, err := p.sdk(ctx)
	if err != nil {
		return nil, err
	}
	for _, proj := range p.projects {
		locs, err := p.listLocations(ctx, c, proj)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			p.log.Warn("cannot list locations", "project", proj, "error", err)
			add(scopeHandle{project: proj, location: "*", err: fmt.Errorf("list locations of project %s: %w", proj, err)})
			continue
		}
		if len(locs) == 0 {
			p.log.Info("project lists no locations", "project", proj)
		}
		for _, loc := range locs {
			add(scopeHandle{project: proj, location: loc})
		}
	}
	return out, nil
}

func (p *Provider) listLocations(ctx context.Context, c arClient, project string) ([]string, error) {
	it := c.ListLocations(ctx, &locationpb.ListLocationsRequest{Name: "projects/" + project, PageSize: pageSize}, p.callOptions()...)
	var locs []string
	seen := map[string]bool{}
	var pg pageGuard
	for {
		l, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return locs, nil
		}
		if err != nil {
			return nil, mapErr(ctx, err)
		}
		if err := pg.check(it.Response, it.PageInfo().Token); err != nil {
			return nil, err
		}
		id := l.GetLocationId()
		if id == "" {
			id = lastSegment(l.GetName())
		}
		if id != "" && !seen[id] {
			seen[id] = true
			locs = append(locs, id)
		}
	}
}

func (p *Provider) handleOf(s providers.Scope) (scopeHandle, error) {
	if h, ok := s.Handle.(scopeHandle); ok {
		return h, nil
	}
	proj, loc, ok := strings.Cut(s.Name, "/")
	if !ok || proj == "" || loc == "" || loc == "*" || strings.Contains(loc, "/") {
		return scopeHandle{}, fmt.Errorf("scope %q is not PROJECT/LOCATION", s.Name)
	}
	return scopeHandle{project: proj, location: loc}, nil
}

// Repositories streams the DOCKER repositories of one project x location.
// Other formats have no tag immutability and are skipped.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	h, err := p.handleOf(s)
	if err != nil {
		return err
	}
	if h.err != nil {
		return h.err
	}
	c, err := p.sdk(ctx)
	if err != nil {
		return err
	}
	parent := "projects/" + h.project + "/locations/" + h.location
	it := c.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: parent, PageSize: pageSize}, p.callOptions()...)
	var pg pageGuard
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list repositories in %s/%s: %w", h.project, h.location, mapErr(ctx, err))
		}
		if err := pg.check(it.Response, it.PageInfo().Token); err != nil {
			return fmt.Errorf("list repositories in %s/%s: %w", h.project, h.location, err)
		}
		repo, ok := p.convert(r, h)
		if !ok {
			p.log.Debug("skipping non-docker repository", "repository", r.GetName(), "format", r.GetFormat().String())
			continue
		}
		if err := e.Repository(repo); err != nil {
			return err
		}
	}
}

// pageGuard stops a listing whose next page token was already given: the
// SDK iterator would follow it and replay earlier pages for ever, reporting
// their repositories again. It is checked once per fetched page (the
// iterator's Response changes) and keeps one entry per page.
type pageGuard struct {
	last any
	seen map[string]bool
}

func (g *pageGuard) check(page any, next string) error {
	if page == g.last {
		return nil
	}
	g.last = page
	if next == "" {
		return nil
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	if g.seen[next] {
		return fmt.Errorf("pagination loop: the API repeated a page token after %d pages", len(g.seen))
	}
	g.seen[next] = true
	return nil
}

// repoHandle identifies a repository for Plan and Apply.
type repoHandle struct {
	resource string // projects/P/locations/L/repositories/R
	mode     artifactregistrypb.Repository_Mode
}

// convert maps an SDK repository to the domain; ok is false for non-docker formats.
func (p *Provider) convert(r *artifactregistrypb.Repository, h scopeHandle) (providers.Repository, bool) {
	if r.GetFormat() != artifactregistrypb.Repository_DOCKER {
		return providers.Repository{}, false
	}
	name := lastSegment(r.GetName())
	uri := r.GetRegistryUri()
	if uri == "" {
		uri = h.location + "-docker.pkg.dev/" + h.project + "/" + name
	}
	out := providers.Repository{
		Provider:     p.name,
		Kind:         providers.KindArtifactRegistry,
		Scope:        h.project + "/" + h.location,
		Name:         name,
		URI:          uri,
		Immutability: immutabilityOf(r),
		Handle:       repoHandle{resource: r.GetName(), mode: r.GetMode()},
	}
	if readOnlyMode(r.GetMode()) {
		out.DefaultExemption = remoteReason
	}
	return out, true
}

func readOnlyMode(m artifactregistrypb.Repository_Mode) bool {
	return m == artifactregistrypb.Repository_REMOTE_REPOSITORY || m == artifactregistrypb.Repository_VIRTUAL_REPOSITORY
}

// immutabilityOf reads docker_config.immutable_tags: all tags or none, no
// exclusions. Remote and virtual repositories cannot take the flag, so
// without it they are unsupported rather than mutable.
func immutabilityOf(r *artifactregistrypb.Repository) providers.Immutability {
	on := r.GetDockerConfig().GetImmutableTags()
	im := providers.Immutability{Native: fmt.Sprintf("dockerConfig.immutableTags=%t", on)}
	switch {
	case on:
		im.Mode = providers.ModeImmutable
	case readOnlyMode(r.GetMode()):
		im.Mode = providers.ModeUnsupported
	default:
		im.Mode = providers.ModeMutable
	}
	if readOnlyMode(r.GetMode()) {
		im.Native = "mode=" + r.GetMode().String() + ", " + im.Native
		im.Note = "clients cannot push to a " + strings.ToLower(strings.TrimSuffix(r.GetMode().String(), "_REPOSITORY")) + " repository; its tags follow the upstream"
	}
	return im
}

func lastSegment(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}
