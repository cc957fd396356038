package artifactregistry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/immutag/immutag/internal/emulator"
)

// intercept counts every call by its short method name and applies the
// injected faults before the handler runs.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	s.cnt.Inc(method)

	s.mu.Lock()
	var forced *codes.Code
	if q := s.failNext[method]; len(q) > 0 {
		c := q[0]
		forced = &c
		s.failNext[method] = q[1:]
	}
	s.mu.Unlock()
	if forced != nil {
		return nil, status.Errorf(*forced, "injected %s failure for %s", *forced, method)
	}

	switch s.inj.Before(ctx) {
	case emulator.Throttle:
		return nil, s.throttled()
	case emulator.Fail:
		return nil, status.Error(codes.Unavailable, "The service is currently unavailable.")
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return handler(ctx, req)
}

func (s *Server) throttled() error {
	st := status.New(codes.ResourceExhausted,
		"Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per region' of service 'artifactregistry.googleapis.com'.")
	if ra := s.inj.Faults().RetryAfter; ra > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(ra)}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// check answers the injected error for the project or location, or
// PermissionDenied for a project the emulator does not know.
func (s *Server) check(project, loc, permission, resource string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inj, ok := s.errs[scopeKey(project, "")]
	if !ok && loc != "" {
		inj, ok = s.errs[scopeKey(project, loc)]
	}
	if !ok && s.locations[project] == nil {
		inj, ok = injected{code: codes.PermissionDenied}, true
	}
	if !ok {
		return nil
	}
	msg := inj.msg
	if msg == "" {
		switch inj.code {
		case codes.PermissionDenied:
			msg = fmt.Sprintf("Permission '%s' denied on resource '//artifactregistry.googleapis.com/%s' (or it may not exist).", permission, resource)
		case codes.NotFound:
			msg = "Requested entity was not found."
		default:
			msg = fmt.Sprintf("injected %s for %s", inj.code, resource)
		}
	}
	return status.Error(inj.code, msg)
}

// parsePath splits "projects/P/locations/L[/repositories/R]" checking the
// collection names; want is the number of key/value pairs expected.
func parsePath(name string, want int) ([]string, error) {
	parts := strings.Split(name, "/")
	colls := []string{"projects", "locations", "repositories", "packages", "tags"}
	if len(parts) != 2*want {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name %q", name)
	}
	ids := make([]string, 0, want)
	for i := 0; i < want; i++ {
		if parts[2*i] != colls[i] || parts[2*i+1] == "" {
			return nil, status.Errorf(codes.InvalidArgument, "invalid resource name %q", name)
		}
		ids = append(ids, parts[2*i+1])
	}
	// There is no all-locations wildcard in this API.
	if want >= 2 && (ids[1] == "*" || ids[1] == "-") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid project name: %q", name)
	}
	return ids, nil
}

func pageSize(req int32, capSize int) (int, error) {
	if req < 0 {
		return 0, status.Error(codes.InvalidArgument, "page_size must not be negative")
	}
	n := int(req)
	if n == 0 || n > maxPageSize {
		n = maxPageSize
	}
	if capSize > 0 && n > capSize {
		n = capSize
	}
	return n, nil
}

// Page tokens carry the parent and the last name returned, so a token is
// only valid for the listing that produced it.
func encodeToken(parent, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(parent + "\x00" + last))
}

func decodeToken(parent, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", status.Error(codes.InvalidArgument, "invalid page token")
	}
	p, last, ok := strings.Cut(string(b), "\x00")
	if !ok || p != parent {
		return "", status.Error(codes.InvalidArgument, "invalid page token")
	}
	return last, nil
}

type arService struct {
	artifactregistrypb.UnimplementedArtifactRegistryServer
	s *Server
}

// ListDockerImages lists a repository's images, one per package and
// digest, each with its tags, upload_time and update_time (the last time a
// tag was set on it), in name order, paged like ListRepositories.
func (a *arService) ListDockerImages(ctx context.Context, req *artifactregistrypb.ListDockerImagesRequest) (*artifactregistrypb.ListDockerImagesResponse, error) {
	ids, err := parsePath(req.GetParent(), 3)
	if err != nil {
		return nil, err
	}
	if err := a.s.check(ids[0], ids[1], "artifactregistry.dockerimages.list", req.GetParent()); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), a.s.inj.Faults().PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(req.GetParent(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	e, ok := a.s.repos[req.GetParent()]
	if !ok {
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	}
	type image struct {
		name, pkg, digest string
		tags              []string
		updated           time.Time
	}
	byName := map[string]*image{}
	for key, digest := range e.tags {
		pkg, tag, _ := strings.Cut(key, ":")
		name := req.GetParent() + "/dockerImages/" + url.PathEscape(pkg) + "@" + digest
		im := byName[name]
		if im == nil {
			im = &image{name: name, pkg: pkg, digest: digest}
			byName[name] = im
		}
		im.tags = append(im.tags, tag)
		if at := e.moved[key]; at.After(im.updated) {
			im.updated = at
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		if n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	resp := &artifactregistrypb.ListDockerImagesResponse{}
	host := ids[1] + "-docker.pkg.dev/" + ids[0] + "/" + ids[2] + "/"
	for i, n := range names {
		if i == size {
			resp.NextPageToken = encodeToken(req.GetParent(), names[i-1])
			break
		}
		im := byName[n]
		sort.Strings(im.tags)
		resp.DockerImages = append(resp.DockerImages, &artifactregistrypb.DockerImage{
			Name: n, Uri: host + im.pkg + "@" + im.digest, Tags: im.tags, ImageSizeBytes: 1024,
			MediaType:  "application/vnd.oci.image.index.v1+json",
			UploadTime: timestamppb.New(e.uploaded[im.pkg+"@"+im.digest]), UpdateTime: timestamppb.New(im.updated),
		})
	}
	return resp, nil
}

func (a *arService) ListRepositories(ctx context.Context, req *artifactregistrypb.ListRepositoriesRequest) (*artifactregistrypb.ListRepositoriesResponse, error) {
	ids, err := parsePath(req.GetParent(), 2)
	if err != nil {
		return nil, err
	}
	if err := a.s.check(ids[0], ids[1], "artifactregistry.repositories.list", req.GetParent()); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), a.s.inj.Faults().PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(req.GetParent(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	page, more := a.s.pageRepos(req.GetParent(), after, size)
	a.s.mu.Unlock()
	resp := &artifactregistrypb.ListRepositoriesResponse{Repositories: page}
	if more {
		resp.NextPageToken = encodeToken(req.GetParent(), page[len(page)-1].GetName())
	}
	return resp, nil
}

func (a *arService) GetRepository(ctx context.Context, req *artifactregistrypb.GetRepositoryRequest) (*artifactregistrypb.Repository, error) {
	ids, err := parsePath(req.GetName(), 3)
	if err != nil {
		return nil, err
	}
	if err := a.s.check(ids[0], ids[1], "artifactregistry.repositories.get", req.GetName()); err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	e, ok := a.s.repos[req.GetName()]
	if !ok {
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	}
	return proto.CloneOf(e.repo), nil
}

func (a *arService) CreateRepository(ctx context.Context, req *artifactregistrypb.CreateRepositoryRequest) (*longrunningpb.Operation, error) {
	ids, err := parsePath(req.GetParent(), 2)
	if err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	a.s.addLocationLocked(ids[0], ids[1]) // creating is how a project gains a location here
	a.s.mu.Unlock()
	if err := a.s.check(ids[0], ids[1], "artifactregistry.repositories.create", req.GetParent()); err != nil {
		return nil, err
	}
	in := req.GetRepository()
	mode := ModeStandard
	switch in.GetMode() {
	case artifactregistrypb.Repository_REMOTE_REPOSITORY:
		mode = ModeRemote
	case artifactregistrypb.Repository_VIRTUAL_REPOSITORY:
		mode = ModeVirtual
	}
	format := in.GetFormat().String()
	if in.GetFormat() == artifactregistrypb.Repository_FORMAT_UNSPECIFIED {
		format = ""
	}
	r, err := newRepository(ids[0], ids[1], req.GetRepositoryId(), format, mode, in.GetDockerConfig().GetImmutableTags())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	r.Description, r.Labels, r.CleanupPolicyDryRun = in.GetDescription(), in.GetLabels(), in.GetCleanupPolicyDryRun()
	if err := a.s.insert(ids[0], ids[1], r); err != nil {
		if errors.Is(err, errAlreadyExists) {
			return nil, status.Errorf(codes.AlreadyExists, "Repository %q already exists.", r.GetName())
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp, err := anypb.New(proto.CloneOf(r))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &longrunningpb.Operation{
		Name:   req.GetParent() + "/operations/create-" + req.GetRepositoryId(),
		Done:   true,
		Result: &longrunningpb.Operation_Response{Response: resp},
	}, nil
}

// updatable are the Repository field paths UpdateRepository accepts.
var updatable = map[string]bool{
	"description":                   true,
	"labels":                        true,
	"docker_config":                 true,
	"docker_config.immutable_tags":  true,
	"cleanup_policies":              true,
	"cleanup_policy_dry_run":        true,
	"vulnerability_scanning_config": true,
}

func (a *arService) UpdateRepository(ctx context.Context, req *artifactregistrypb.UpdateRepositoryRequest) (*artifactregistrypb.Repository, error) {
	in := req.GetRepository()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "repository is required")
	}
	ids, err := parsePath(in.GetName(), 3)
	if err != nil {
		return nil, err
	}
	if err := a.s.check(ids[0], ids[1], "artifactregistry.repositories.update", in.GetName()); err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()

	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.lastMask = append([]string{}, paths...)
	e, ok := a.s.repos[in.GetName()]
	if !ok {
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	}
	if len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask is required")
	}
	// Validate every path before changing anything: an update is all or nothing.
	for _, p := range paths {
		if !updatable[p] {
			if _, err := fieldmaskpb.New(&artifactregistrypb.Repository{}, p); err == nil {
				return nil, status.Errorf(codes.InvalidArgument, "field %q cannot be updated", p)
			}
			return nil, status.Errorf(codes.InvalidArgument, "invalid update_mask path %q", p)
		}
		if strings.HasPrefix(p, "docker_config") {
			if e.repo.GetFormat() != artifactregistrypb.Repository_DOCKER {
				return nil, status.Errorf(codes.InvalidArgument, "%s applies to DOCKER repositories only, %s is %s", p, in.GetName(), e.repo.GetFormat())
			}
			if in.GetDockerConfig().GetImmutableTags() && e.repo.GetMode() != artifactregistrypb.Repository_STANDARD_REPOSITORY {
				return nil, status.Errorf(codes.FailedPrecondition, "immutable tags are only supported in standard repositories, %s is %s", in.GetName(), e.repo.GetMode())
			}
		}
	}
	r := proto.CloneOf(e.repo)
	for _, p := range paths {
		switch p {
		case "description":
			r.Description = in.GetDescription()
		case "labels":
			r.Labels = in.GetLabels()
		case "docker_config", "docker_config.immutable_tags":
			r.FormatConfig = &artifactregistrypb.Repository_DockerConfig{
				DockerConfig: &artifactregistrypb.Repository_DockerRepositoryConfig{ImmutableTags: in.GetDockerConfig().GetImmutableTags()},
			}
		case "cleanup_policies":
			r.CleanupPolicies = in.GetCleanupPolicies()
		case "cleanup_policy_dry_run":
			r.CleanupPolicyDryRun = in.GetCleanupPolicyDryRun()
		case "vulnerability_scanning_config":
			r.VulnerabilityScanningConfig = in.GetVulnerabilityScanningConfig()
		}
	}
	r.UpdateTime = timestamppb.Now()
	if !a.s.drop {
		e.repo = r
		e.updates++
	}
	return proto.CloneOf(r), nil
}

// splitTagName parses ".../repositories/R/packages/PKG/tags/TAG".
func splitTagName(name string) (repo, pkg, tag string, err error) {
	ids, err := parsePath(name, 5)
	if err != nil {
		return "", "", "", err
	}
	return repoName(ids[0], ids[1], ids[2]), ids[3], ids[4], nil
}

func versionDigest(v string) string {
	if i := strings.LastIndex(v, "/versions/"); i >= 0 {
		return v[i+len("/versions/"):]
	}
	return v
}

func (a *arService) CreateTag(ctx context.Context, req *artifactregistrypb.CreateTagRequest) (*artifactregistrypb.Tag, error) {
	name := req.GetParent() + "/tags/" + req.GetTagId()
	repo, pkg, tag, err := splitTagName(name)
	if err != nil {
		return nil, err
	}
	ids, _ := parsePath(repo, 3)
	if err := a.s.check(ids[0], ids[1], "artifactregistry.tags.create", repo); err != nil {
		return nil, err
	}
	if req.GetTag().GetVersion() == "" {
		return nil, status.Error(codes.InvalidArgument, "tag.version is required")
	}
	return a.putTag(repo, pkg, tag, name, req.GetTag().GetVersion(), tagCreate)
}

func (a *arService) UpdateTag(ctx context.Context, req *artifactregistrypb.UpdateTagRequest) (*artifactregistrypb.Tag, error) {
	name := req.GetTag().GetName()
	repo, pkg, tag, err := splitTagName(name)
	if err != nil {
		return nil, err
	}
	ids, _ := parsePath(repo, 3)
	if err := a.s.check(ids[0], ids[1], "artifactregistry.tags.update", repo); err != nil {
		return nil, err
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if p != "version" {
			return nil, status.Errorf(codes.InvalidArgument, "invalid update_mask path %q", p)
		}
	}
	return a.putTag(repo, pkg, tag, name, req.GetTag().GetVersion(), tagUpdate)
}

func (a *arService) putTag(repo, pkg, tag, name, version string, how tagOp) (*artifactregistrypb.Tag, error) {
	digest, err := a.s.pushTag(repo, pkg, tag, versionDigest(version), how)
	switch {
	case errors.Is(err, errAlreadyExists):
		return nil, status.Errorf(codes.AlreadyExists, "tag %q already exists", name)
	case errors.Is(err, errTagMissing):
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	case errors.Is(err, emulator.ErrTagImmutable):
		return nil, status.Errorf(codes.FailedPrecondition, "tag %q is immutable: the repository has immutable tags enabled", name)
	case errors.Is(err, errNotFound):
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	case err != nil:
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &artifactregistrypb.Tag{Name: name, Version: repo + "/packages/" + pkg + "/versions/" + digest}, nil
}

type locService struct {
	location.UnimplementedLocationsServer
	s *Server
}

func (l *locService) ListLocations(ctx context.Context, req *location.ListLocationsRequest) (*location.ListLocationsResponse, error) {
	ids, err := parsePath(req.GetName(), 1)
	if err != nil {
		return nil, err
	}
	if err := l.s.check(ids[0], "", "artifactregistry.locations.list", req.GetName()); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), l.s.inj.Faults().PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(req.GetName(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	locs := make([]string, 0, len(l.s.locations[ids[0]]))
	for loc := range l.s.locations[ids[0]] {
		if loc > after {
			locs = append(locs, loc)
		}
	}
	l.s.mu.Unlock()
	sort.Strings(locs)
	resp := &location.ListLocationsResponse{}
	if len(locs) > size {
		locs = locs[:size]
		resp.NextPageToken = encodeToken(req.GetName(), locs[len(locs)-1])
	}
	for _, loc := range locs {
		resp.Locations = append(resp.Locations, &location.Location{
			Name:        req.GetName() + "/locations/" + loc,
			LocationId:  loc,
			DisplayName: loc,
		})
	}
	return resp, nil
}
