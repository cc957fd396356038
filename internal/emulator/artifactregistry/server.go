// Package artifactregistry is an in-process emulator of the Google Artifact
// Registry v1 gRPC API (google.devtools.artifactregistry.v1.ArtifactRegistry
// plus google.cloud.location.Locations), built on the generated server
// interfaces so the official Go client works against it unchanged.
//
// It keeps repositories in memory, pages listings, honours update masks
// exactly, refuses to move a tag in a repository with immutable tags, and
// takes fault injection (latency, throttling, server errors, page size,
// per-project or per-location denials). It serves plain gRPC on loopback:
// the adapter only drops TLS and credentials for loopback endpoints.
//
// Behaviour that is the emulator's own choice where the real service is not
// documented: an unknown project answers PermissionDenied (as GCP does for
// projects the caller cannot see), an empty update mask is rejected instead of
// being treated as "every populated field", and immutable_tags can only be
// turned on in STANDARD docker repositories (FailedPrecondition otherwise).
package artifactregistry

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/immutag/immutag/internal/emulator"
)

// Mode is a repository mode (fixed at creation, as in the real service).
type Mode string

// Repository modes.
const (
	ModeStandard Mode = "standard"
	ModeRemote   Mode = "remote"
	ModeVirtual  Mode = "virtual"
)

// maxPageSize is the API's documented maximum page size for list calls.
const maxPageSize = 1000

// RepoSpec describes a repository to seed.
type RepoSpec struct {
	Name string
	// Format is an artifactregistrypb format name ("DOCKER", "MAVEN", ...);
	// empty means DOCKER.
	Format string
	// Mode is empty or ModeStandard, ModeRemote, ModeVirtual.
	Mode Mode
	// ImmutableTags sets docker_config.immutable_tags (DOCKER only).
	ImmutableTags bool
	Description   string
	Labels        map[string]string
}

// Repo is a snapshot of one stored repository, for assertions.
type Repo struct {
	Project, Location, Name string
	Format                  string
	Mode                    Mode
	ImmutableTags           bool
	Description             string
	Labels                  map[string]string
	// Tags maps "package:tag" to the version digest it points at.
	Tags       map[string]string
	UpdateTime time.Time
	// Updates counts successful UpdateRepository calls on this repository.
	Updates int
}

type entry struct {
	project, location string
	repo              *artifactregistrypb.Repository
	tags              map[string]string // "package:tag" -> version digest
	updates           int
	// uploaded is when each "package@digest" image was first pushed, moved
	// when each "package:tag" was last set (DockerImage upload/update_time).
	uploaded, moved map[string]time.Time
}

type injected struct {
	code codes.Code
	msg  string
}

// Server is one emulator instance. Its methods are safe for concurrent use.
type Server struct {
	inj *emulator.Injector
	cnt emulator.Counter

	mu        sync.Mutex
	repos     map[string]*entry          // full resource name -> entry
	locations map[string]map[string]bool // project -> location ids
	errs      map[string]injected        // "project" or "project/location"
	failNext  map[string][]codes.Code    // method -> codes for the next calls
	lastMask  []string
	digests   int
	drop      bool

	gs *grpc.Server
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// New returns an emulator with no repositories, its gRPC services
// registered but serving nothing until the caller hands Serve a listener.
func New(o Options) *Server {
	s := &Server{
		inj:       emulator.NewInjector(o.Faults),
		repos:     map[string]*entry{},
		locations: map[string]map[string]bool{},
		errs:      map[string]injected{},
		failNext:  map[string][]codes.Code{},
	}
	s.gs = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	artifactregistrypb.RegisterArtifactRegistryServer(s.gs, &arService{s: s})
	location.RegisterLocationsServer(s.gs, &locService{s: s})
	return s
}

// Serve answers gRPC on lis until Stop; the caller owns the listener.
//
// Artifact Registry's API is gRPC, so this is the emulator's Handler():
// grpc-go serves its own HTTP/2 transport on a net.Listener, and its
// ServeHTTP bridge (an http.Handler) needs HTTP/2 end to end, which
// net/http gives only over TLS, while the adapter dials a loopback
// endpoint as plain gRPC.
func (s *Server) Serve(lis net.Listener) error { return s.gs.Serve(lis) }

// Stop closes the listeners Serve was given and drops open connections.
func (s *Server) Stop() { s.gs.Stop() }

// SetFaults replaces the fault injection settings.
func (s *Server) SetFaults(f emulator.Faults) { s.inj.Set(f) }

// Calls returns the number of calls per gRPC method name (e.g.
// "ListRepositories", "UpdateRepository", "ListLocations"), counting every
// attempt including the ones answered with an injected fault.
func (s *Server) Calls() *emulator.Counter { return &s.cnt }

// LastUpdateMask returns the paths of the last UpdateRepository request that
// reached the handler (accepted or not), or nil.
func (s *Server) LastUpdateMask() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lastMask...)
}

// DropUpdates makes UpdateRepository validate and answer as usual without
// storing anything, like a write that is lost or reverted, so a caller's
// read-back can be tested.
func (s *Server) DropUpdates(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = drop
}

// AddLocation makes location visible in the project's ListLocations even
// when it holds no repository.
func (s *Server) AddLocation(project, loc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocationLocked(project, loc)
}

func (s *Server) addLocationLocked(project, loc string) {
	if s.locations[project] == nil {
		s.locations[project] = map[string]bool{}
	}
	s.locations[project][loc] = true
}

// Deny makes calls for project (location "") or project/location answer
// PermissionDenied.
func (s *Server) Deny(project, loc string) {
	s.InjectError(project, loc, codes.PermissionDenied, "")
}

// Missing makes calls for project (location "") or project/location answer NotFound.
func (s *Server) Missing(project, loc string) {
	s.InjectError(project, loc, codes.NotFound, "")
}

// InjectError makes calls for project (location "") or project/location
// answer code with msg (a realistic message when msg is empty).
func (s *Server) InjectError(project, loc string, code codes.Code, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[scopeKey(project, loc)] = injected{code: code, msg: msg}
}

// ClearErrors removes every injected project or location error.
func (s *Server) ClearErrors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = map[string]injected{}
	s.failNext = map[string][]codes.Code{}
}

// FailNext answers the next n calls of method with code, before any other
// processing (deterministic transient failures for retry tests).
func (s *Server) FailNext(method string, code codes.Code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext[method] = append(s.failNext[method], code)
	}
}

var (
	idRE  = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	locRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
)

// CreateRepository seeds a docker repository.
func (s *Server) CreateRepository(project, loc, name string, mode Mode, immutable bool) error {
	return s.Seed(project, loc, RepoSpec{Name: name, Mode: mode, ImmutableTags: immutable})
}

// Seed creates a repository from spec.
func (s *Server) Seed(project, loc string, spec RepoSpec) error {
	r, err := newRepository(project, loc, spec.Name, spec.Format, spec.Mode, spec.ImmutableTags)
	if err != nil {
		return err
	}
	r.Description = spec.Description
	if len(spec.Labels) > 0 {
		r.Labels = make(map[string]string, len(spec.Labels))
		for k, v := range spec.Labels {
			r.Labels[k] = v
		}
	}
	return s.insert(project, loc, r)
}

func newRepository(project, loc, name, format string, mode Mode, immutable bool) (*artifactregistrypb.Repository, error) {
	if !idRE.MatchString(project) {
		return nil, fmt.Errorf("invalid project id %q", project)
	}
	if !locRE.MatchString(loc) {
		return nil, fmt.Errorf("invalid location %q", loc)
	}
	if !idRE.MatchString(name) {
		return nil, fmt.Errorf("invalid repository id %q", name)
	}
	if format == "" {
		format = "DOCKER"
	}
	fv, ok := artifactregistrypb.Repository_Format_value[strings.ToUpper(format)]
	if !ok || fv == 0 {
		return nil, fmt.Errorf("repository %s: unknown format %q", name, format)
	}
	r := &artifactregistrypb.Repository{
		Name:   repoName(project, loc, name),
		Format: artifactregistrypb.Repository_Format(fv),
	}
	switch mode {
	case "", ModeStandard:
		r.Mode = artifactregistrypb.Repository_STANDARD_REPOSITORY
	case ModeRemote:
		r.Mode = artifactregistrypb.Repository_REMOTE_REPOSITORY
		r.ModeConfig = &artifactregistrypb.Repository_RemoteRepositoryConfig{
			RemoteRepositoryConfig: &artifactregistrypb.RemoteRepositoryConfig{Description: "upstream mirror"},
		}
	case ModeVirtual:
		r.Mode = artifactregistrypb.Repository_VIRTUAL_REPOSITORY
		r.ModeConfig = &artifactregistrypb.Repository_VirtualRepositoryConfig{
			VirtualRepositoryConfig: &artifactregistrypb.VirtualRepositoryConfig{},
		}
	default:
		return nil, fmt.Errorf("repository %s: unknown mode %q", name, mode)
	}
	switch r.Format {
	case artifactregistrypb.Repository_DOCKER:
		if immutable && r.Mode != artifactregistrypb.Repository_STANDARD_REPOSITORY {
			return nil, fmt.Errorf("repository %s: immutable tags need a standard repository", name)
		}
		r.FormatConfig = &artifactregistrypb.Repository_DockerConfig{
			DockerConfig: &artifactregistrypb.Repository_DockerRepositoryConfig{ImmutableTags: immutable},
		}
		r.RegistryUri = fmt.Sprintf("%s-docker.pkg.dev/%s/%s", loc, project, name)
	case artifactregistrypb.Repository_MAVEN:
		if immutable {
			return nil, fmt.Errorf("repository %s: immutable tags are a docker setting", name)
		}
		r.FormatConfig = &artifactregistrypb.Repository_MavenConfig{
			MavenConfig: &artifactregistrypb.Repository_MavenRepositoryConfig{},
		}
		r.RegistryUri = fmt.Sprintf("%s-maven.pkg.dev/%s/%s", loc, project, name)
	default:
		if immutable {
			return nil, fmt.Errorf("repository %s: immutable tags are a docker setting", name)
		}
	}
	return r, nil
}

func (s *Server) insert(project, loc string, r *artifactregistrypb.Repository) error {
	now := timestamppb.Now()
	r.CreateTime, r.UpdateTime = now, now
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[r.Name]; ok {
		return fmt.Errorf("repository %s: %w", r.Name, errAlreadyExists)
	}
	s.repos[r.Name] = &entry{project: project, location: loc, repo: r, tags: map[string]string{}}
	s.addLocationLocked(project, loc)
	return nil
}

var errAlreadyExists = errors.New("already exists")

// Repository returns a snapshot of one repository.
func (s *Server) Repository(project, loc, name string) (Repo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.repos[repoName(project, loc, name)]
	if !ok {
		return Repo{}, false
	}
	out := Repo{
		Project:       project,
		Location:      loc,
		Name:          name,
		Format:        e.repo.GetFormat().String(),
		Mode:          modeOf(e.repo),
		ImmutableTags: e.repo.GetDockerConfig().GetImmutableTags(),
		Description:   e.repo.GetDescription(),
		Tags:          make(map[string]string, len(e.tags)),
		UpdateTime:    e.repo.GetUpdateTime().AsTime(),
		Updates:       e.updates,
	}
	if len(e.repo.GetLabels()) > 0 {
		out.Labels = make(map[string]string, len(e.repo.GetLabels()))
		for k, v := range e.repo.GetLabels() {
			out.Labels[k] = v
		}
	}
	for k, v := range e.tags {
		out.Tags[k] = v
	}
	return out, true
}

func modeOf(r *artifactregistrypb.Repository) Mode {
	switch r.GetMode() {
	case artifactregistrypb.Repository_REMOTE_REPOSITORY:
		return ModeRemote
	case artifactregistrypb.Repository_VIRTUAL_REPOSITORY:
		return ModeVirtual
	}
	return ModeStandard
}

// PushTag points tag (in the package named like the repository) at a new
// image. Moving an existing tag in a repository with immutable tags fails
// with an error wrapping emulator.ErrTagImmutable; creating a new tag is
// always allowed, as in the real service.
func (s *Server) PushTag(project, loc, repo, tag string) error {
	_, err := s.pushTag(repoName(project, loc, repo), repo, tag, "", tagPush)
	return err
}

// tagOp says whether a tag write may create, move, or both.
type tagOp int

const (
	tagPush   tagOp = iota // create or move (docker push)
	tagCreate              // create only (CreateTag)
	tagUpdate              // move only (UpdateTag)
)

var errTagMissing = errors.New("tag not found")

// pushTag points pkg:tag at version (a fresh digest when empty) and returns
// the digest.
func (s *Server) pushTag(name, pkg, tag, version string, how tagOp) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.repos[name]
	if !ok {
		return "", fmt.Errorf("push %s:%s: repository %s: %w", pkg, tag, name, errNotFound)
	}
	if e.repo.GetFormat() != artifactregistrypb.Repository_DOCKER {
		return "", fmt.Errorf("push %s:%s: repository %s is not a docker repository", pkg, tag, name)
	}
	if e.repo.GetMode() != artifactregistrypb.Repository_STANDARD_REPOSITORY {
		return "", fmt.Errorf("push %s:%s: repository %s is read-only (%s)", pkg, tag, name, e.repo.GetMode())
	}
	if version == "" {
		s.digests++
		version = fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Appendf(nil, "%s/%s:%s#%d", name, pkg, tag, s.digests)))
	}
	key := pkg + ":" + tag
	old, exists := e.tags[key]
	switch {
	case how == tagCreate && exists:
		return "", fmt.Errorf("tag %s:%s in %s: %w", pkg, tag, name, errAlreadyExists)
	case how == tagUpdate && !exists:
		return "", fmt.Errorf("tag %s:%s in %s: %w", pkg, tag, name, errTagMissing)
	}
	if exists && old != version && e.repo.GetDockerConfig().GetImmutableTags() {
		return "", fmt.Errorf("push %s:%s to %s: %w", pkg, tag, name, emulator.ErrTagImmutable)
	}
	if old != version || !exists {
		now := time.Now().UTC()
		if e.uploaded == nil {
			e.uploaded, e.moved = map[string]time.Time{}, map[string]time.Time{}
		}
		if _, seen := e.uploaded[pkg+"@"+version]; !seen {
			e.uploaded[pkg+"@"+version] = now
		}
		e.moved[key] = now
	}
	e.tags[key] = version
	return version, nil
}

var errNotFound = errors.New("not found")

func repoName(project, loc, name string) string {
	return "projects/" + project + "/locations/" + loc + "/repositories/" + name
}

func scopeKey(project, loc string) string {
	if loc == "" {
		return project
	}
	return project + "/" + loc
}

// pageRepos returns up to size repositories under parent in name order,
// starting after the cursor, and whether more follow. Callers hold s.mu.
func (s *Server) pageRepos(parent, after string, size int) (page []*artifactregistrypb.Repository, more bool) {
	prefix := parent + "/repositories/"
	names := make([]string, 0, 16)
	for n := range s.repos {
		if strings.HasPrefix(n, prefix) && n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > size {
		names, more = names[:size], true
	}
	page = make([]*artifactregistrypb.Repository, 0, len(names))
	for _, n := range names {
		page = append(page, proto.CloneOf(s.repos[n].repo))
	}
	return page, more
}
