package artifactregistry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	arapi "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/testutil"
)

// start runs an emulator and returns it with an official SDK client.
func start(t *testing.T, o Options) (*Server, *arapi.Client) {
	t.Helper()
	s := New(o)
	c, err := arapi.NewClient(t.Context(),
		option.WithEndpoint(serve(t, s)),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

func wantCode(t *testing.T, err error, c codes.Code) {
	t.Helper()
	if got := status.Code(err); got != c {
		t.Fatalf("error = %v (code %s), want code %s", err, got, c)
	}
}

func listAll(ctx context.Context, c *arapi.Client, parent string) ([]string, error) {
	var names []string
	for r, err := range c.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: parent}).All() {
		if err != nil {
			return names, err
		}
		names = append(names, lastName(r.GetName()))
	}
	return names, nil
}

func lastName(n string) string {
	for i := len(n) - 1; i >= 0; i-- {
		if n[i] == '/' {
			return n[i+1:]
		}
	}
	return n
}

func TestListRepositoriesPages(t *testing.T) {
	s, c := start(t, Options{Faults: emulator.Faults{PageSize: 2}})
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("repo-%d", i)
		want = append(want, name)
		testutil.Must(t, s.CreateRepository("p1", "us-east1", name, ModeStandard, false))
	}
	testutil.Must(t, s.CreateRepository("p1", "europe-west4", "elsewhere", ModeStandard, false))

	got, err := listAll(t.Context(), c, "projects/p1/locations/us-east1")
	testutil.Must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if n := s.Calls().Get("ListRepositories"); n != 3 {
		t.Fatalf("ListRepositories calls = %d, want 3 pages of at most 2", n)
	}

	// A token from one parent is not valid for another.
	it := c.ListRepositories(t.Context(), &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/p1/locations/europe-west4", PageToken: encodeToken("projects/p1/locations/us-east1", "x")})
	_, err = it.Next()
	wantCode(t, err, codes.InvalidArgument)
}

func TestNoLocationWildcard(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "a", ModeStandard, false))
	_, err := listAll(t.Context(), c, "projects/p1/locations/-")
	wantCode(t, err, codes.InvalidArgument)
	_, err = listAll(t.Context(), c, "projects/p1/locations/*")
	wantCode(t, err, codes.InvalidArgument)
}

func TestListLocations(t *testing.T) {
	s, c := start(t, Options{Faults: emulator.Faults{PageSize: 1}})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "a", ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "asia-east1", "b", ModeStandard, false))
	s.AddLocation("p1", "europe-west1")
	var got []string
	for l, err := range c.ListLocations(t.Context(), &location.ListLocationsRequest{Name: "projects/p1"}).All() {
		testutil.Must(t, err)
		if l.GetName() != "projects/p1/locations/"+l.GetLocationId() {
			t.Fatalf("location name %q does not match id %q", l.GetName(), l.GetLocationId())
		}
		got = append(got, l.GetLocationId())
	}
	if want := []string{"asia-east1", "europe-west1", "us-east1"}; !slices.Equal(got, want) {
		t.Fatalf("locations %v, want %v", got, want)
	}
	if n := s.Calls().Get("ListLocations"); n != 3 {
		t.Fatalf("ListLocations calls = %d, want 3 (page size 1)", n)
	}
	_, err := c.ListLocations(t.Context(), &location.ListLocationsRequest{Name: "projects/unknown"}).Next()
	wantCode(t, err, codes.PermissionDenied)
}

func TestDenyAndMissing(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "a", ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "europe-west1", "b", ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p2", "us-east1", "c", ModeStandard, false))

	s.Deny("p1", "europe-west1")
	_, err := listAll(t.Context(), c, "projects/p1/locations/europe-west1")
	wantCode(t, err, codes.PermissionDenied)
	if _, err := listAll(t.Context(), c, "projects/p1/locations/us-east1"); err != nil {
		t.Fatalf("other location should stay readable: %v", err)
	}
	_, err = c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: repoName("p1", "europe-west1", "b")})
	wantCode(t, err, codes.PermissionDenied)

	s.Missing("p2", "")
	_, err = c.ListLocations(t.Context(), &location.ListLocationsRequest{Name: "projects/p2"}).Next()
	wantCode(t, err, codes.NotFound)
	_, err = listAll(t.Context(), c, "projects/p2/locations/us-east1")
	wantCode(t, err, codes.NotFound)

	s.ClearErrors()
	_, err = listAll(t.Context(), c, "projects/p1/locations/europe-west1")
	testutil.Must(t, err)
	_, err = c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: repoName("p1", "us-east1", "nope")})
	wantCode(t, err, codes.NotFound)
}

func dockerUpdate(name string, immutable bool, paths ...string) *artifactregistrypb.UpdateRepositoryRequest {
	return &artifactregistrypb.UpdateRepositoryRequest{
		Repository: &artifactregistrypb.Repository{
			Name:        name,
			Description: "changed",
			Labels:      map[string]string{"changed": "yes"},
			FormatConfig: &artifactregistrypb.Repository_DockerConfig{
				DockerConfig: &artifactregistrypb.Repository_DockerRepositoryConfig{ImmutableTags: immutable},
			},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	}
}

func TestUpdateRepositoryMask(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.Seed("p1", "us-east1", RepoSpec{Name: "app", Description: "orig", Labels: map[string]string{"team": "a"}}))
	name := repoName("p1", "us-east1", "app")

	got, err := c.UpdateRepository(t.Context(), dockerUpdate(name, true, "docker_config.immutable_tags"))
	testutil.Must(t, err)
	if !got.GetDockerConfig().GetImmutableTags() || got.GetDescription() != "orig" || got.GetLabels()["team"] != "a" || got.GetLabels()["changed"] != "" {
		t.Fatalf("only immutable_tags may change, got %v", got)
	}
	if m := s.LastUpdateMask(); !slices.Equal(m, []string{"docker_config.immutable_tags"}) {
		t.Fatalf("recorded mask %v", m)
	}
	r, _ := s.Repository("p1", "us-east1", "app")
	if !r.ImmutableTags || r.Description != "orig" || r.Labels["team"] != "a" || len(r.Labels) != 1 || r.Updates != 1 {
		t.Fatalf("stored repository %+v", r)
	}

	// Fields in the mask change, the rest does not.
	got, err = c.UpdateRepository(t.Context(), dockerUpdate(name, false, "description"))
	testutil.Must(t, err)
	if got.GetDescription() != "changed" || !got.GetDockerConfig().GetImmutableTags() {
		t.Fatalf("description update changed more or less than asked: %v", got)
	}

	for _, tc := range []struct {
		paths []string
		code  codes.Code
	}{
		{[]string{"docker_config.immutable_tags", "no_such_field"}, codes.InvalidArgument},
		{[]string{"dockerConfig.immutableTags"}, codes.InvalidArgument}, // gRPC takes proto names
		{[]string{"format"}, codes.InvalidArgument},
		{[]string{"name"}, codes.InvalidArgument},
		{nil, codes.InvalidArgument},
	} {
		before, _ := s.Repository("p1", "us-east1", "app")
		_, err := c.UpdateRepository(t.Context(), dockerUpdate(name, false, tc.paths...))
		wantCode(t, err, tc.code)
		after, _ := s.Repository("p1", "us-east1", "app")
		if after.ImmutableTags != before.ImmutableTags || after.Labels["changed"] != "" || after.Updates != before.Updates {
			t.Fatalf("rejected mask %v still changed the repository: %+v", tc.paths, after)
		}
		if m := s.LastUpdateMask(); !slices.Equal(m, tc.paths) && len(tc.paths) > 0 {
			t.Fatalf("recorded mask %v, want %v", m, tc.paths)
		}
	}

	testutil.Must(t, s.CreateRepository("p1", "us-east1", "mirror", ModeRemote, false))
	_, err = c.UpdateRepository(t.Context(), dockerUpdate(repoName("p1", "us-east1", "mirror"), true, "docker_config.immutable_tags"))
	wantCode(t, err, codes.FailedPrecondition)
	testutil.Must(t, s.Seed("p1", "us-east1", RepoSpec{Name: "libs", Format: "MAVEN"}))
	_, err = c.UpdateRepository(t.Context(), dockerUpdate(repoName("p1", "us-east1", "libs"), true, "docker_config.immutable_tags"))
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.UpdateRepository(t.Context(), dockerUpdate(repoName("p1", "us-east1", "gone"), true, "docker_config.immutable_tags"))
	wantCode(t, err, codes.NotFound)
}

func TestDropUpdates(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "app", ModeStandard, false))
	s.DropUpdates(true)
	_, err := c.UpdateRepository(t.Context(), dockerUpdate(repoName("p1", "us-east1", "app"), true, "docker_config.immutable_tags"))
	testutil.Must(t, err)
	if r, _ := s.Repository("p1", "us-east1", "app"); r.ImmutableTags {
		t.Fatal("dropped update was stored")
	}
}

func TestPushTagImmutable(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "app", ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "mirror", ModeRemote, false))
	testutil.Must(t, s.PushTag("p1", "us-east1", "app", "latest"))
	first, _ := s.Repository("p1", "us-east1", "app")
	testutil.Must(t, s.PushTag("p1", "us-east1", "app", "latest"))
	moved, _ := s.Repository("p1", "us-east1", "app")
	if first.Tags["app:latest"] == moved.Tags["app:latest"] {
		t.Fatal("a push to a mutable repository should move the tag")
	}
	if err := s.PushTag("p1", "us-east1", "mirror", "x"); err == nil {
		t.Fatal("pushing to a remote repository should fail")
	}

	_, err := c.UpdateRepository(t.Context(), dockerUpdate(repoName("p1", "us-east1", "app"), true, "docker_config.immutable_tags"))
	testutil.Must(t, err)
	err = s.PushTag("p1", "us-east1", "app", "latest")
	if !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v, want ErrTagImmutable", err)
	}
	if r, _ := s.Repository("p1", "us-east1", "app"); r.Tags["app:latest"] != moved.Tags["app:latest"] {
		t.Fatal("refused push still moved the tag")
	}
	testutil.Must(t, s.PushTag("p1", "us-east1", "app", "v2")) // new tags are still allowed

	// The same rule through the tags API.
	pkg := repoName("p1", "us-east1", "app") + "/packages/app"
	_, err = c.UpdateTag(t.Context(), &artifactregistrypb.UpdateTagRequest{
		Tag:        &artifactregistrypb.Tag{Name: pkg + "/tags/latest", Version: pkg + "/versions/sha256:0123"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"version"}},
	})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = c.CreateTag(t.Context(), &artifactregistrypb.CreateTagRequest{Parent: pkg, TagId: "latest", Tag: &artifactregistrypb.Tag{Version: pkg + "/versions/sha256:0123"}})
	wantCode(t, err, codes.AlreadyExists)
	tag, err := c.CreateTag(t.Context(), &artifactregistrypb.CreateTagRequest{Parent: pkg, TagId: "v3", Tag: &artifactregistrypb.Tag{Version: pkg + "/versions/sha256:0123"}})
	testutil.Must(t, err)
	if tag.GetVersion() != pkg+"/versions/sha256:0123" {
		t.Fatalf("created tag %v", tag)
	}
}

func TestCreateRepositoryRPC(t *testing.T) {
	s, c := start(t, Options{})
	op, err := c.CreateRepository(t.Context(), &artifactregistrypb.CreateRepositoryRequest{
		Parent:       "projects/p9/locations/us-west1",
		RepositoryId: "new",
		Repository: &artifactregistrypb.Repository{
			Format:      artifactregistrypb.Repository_DOCKER,
			Description: "created over gRPC",
			FormatConfig: &artifactregistrypb.Repository_DockerConfig{
				DockerConfig: &artifactregistrypb.Repository_DockerRepositoryConfig{ImmutableTags: true},
			},
		},
	})
	testutil.Must(t, err)
	r, err := op.Wait(t.Context())
	testutil.Must(t, err)
	if r.GetName() != repoName("p9", "us-west1", "new") || !r.GetDockerConfig().GetImmutableTags() {
		t.Fatalf("created %v", r)
	}
	if got, ok := s.Repository("p9", "us-west1", "new"); !ok || got.Description != "created over gRPC" {
		t.Fatalf("stored %+v %v", got, ok)
	}
	_, err = c.CreateRepository(t.Context(), &artifactregistrypb.CreateRepositoryRequest{
		Parent: "projects/p9/locations/us-west1", RepositoryId: "new",
		Repository: &artifactregistrypb.Repository{Format: artifactregistrypb.Repository_DOCKER},
	})
	wantCode(t, err, codes.AlreadyExists)
}

func TestFaults(t *testing.T) {
	s, c := start(t, Options{})
	testutil.Must(t, s.CreateRepository("p1", "us-east1", "app", ModeStandard, false))
	name := repoName("p1", "us-east1", "app")

	s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: 2 * time.Second})
	_, err := c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: name})
	wantCode(t, err, codes.ResourceExhausted)
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != 2*time.Second {
		t.Fatalf("RetryInfo delay = %v, want 2s", delay)
	}

	s.SetFaults(emulator.Faults{ErrorRate: 1})
	_, err = c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: name})
	wantCode(t, err, codes.Unavailable)

	s.SetFaults(emulator.Faults{Latency: 30 * time.Millisecond})
	t0 := time.Now()
	_, err = c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: name})
	testutil.Must(t, err)
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("latency not injected: call took %v", d)
	}

	s.SetFaults(emulator.Faults{})
	s.Calls().Reset()
	s.FailNext("GetRepository", codes.Unavailable, 2)
	for i, want := range []codes.Code{codes.Unavailable, codes.Unavailable, codes.OK} {
		_, err = c.GetRepository(t.Context(), &artifactregistrypb.GetRepositoryRequest{Name: name})
		if status.Code(err) != want {
			t.Fatalf("call %d: %v, want %s", i, err, want)
		}
	}
	if n := s.Calls().Get("GetRepository"); n != 3 {
		t.Fatalf("GetRepository calls = %d, want 3 (faulted attempts count)", n)
	}
}

func TestStartDemo(t *testing.T) {
	d, err := StartDemo(t.Context())
	testutil.Must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	p := d.Provider()
	if p.Kind != "artifactregistry" || p.Endpoint == "" || len(p.Settings.(config.Keys)["projects"].([]string)) != 1 || p.Settings.(config.Keys)["locations"] != nil {
		t.Fatalf("provider entry %+v", p)
	}
	srv := d.(*Demo).Server()
	modes := map[Mode]bool{}
	formats := map[string]bool{}
	for _, r := range demoRepos {
		got, ok := srv.Repository(DemoProject, r.location, r.spec.Name)
		if !ok {
			t.Fatalf("demo repository %s missing", r.spec.Name)
		}
		modes[got.Mode], formats[got.Format] = true, true
	}
	if len(modes) != 3 || !formats["DOCKER"] || !formats["MAVEN"] {
		t.Fatalf("demo lacks a mode or format: %v %v", modes, formats)
	}

	scope, repo, tag := d.OverwriteTarget()
	testutil.Must(t, d.PushTag(t.Context(), scope, repo, tag)) // mutable before the fix
	if err := d.PushTag(t.Context(), "bad-scope", repo, tag); err == nil {
		t.Fatal("a scope without a location should be refused")
	}
	// Lock it the way the adapter would and the overwrite is refused.
	c, err := arapi.NewClient(t.Context(), option.WithEndpoint(p.Endpoint), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	testutil.Must(t, err)
	defer c.Close()
	_, err = c.UpdateRepository(t.Context(), dockerUpdate(repoName(DemoProject, "us-central1", repo), true, "docker_config.immutable_tags"))
	testutil.Must(t, err)
	if err := d.PushTag(t.Context(), scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v", err)
	}
}

func TestListEmptyPage(t *testing.T) {
	s, c := start(t, Options{})
	s.AddLocation("p1", "us-east1")
	_, err := c.ListRepositories(t.Context(), &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/p1/locations/us-east1"}).Next()
	if !errors.Is(err, iterator.Done) {
		t.Fatalf("empty location: %v, want iterator.Done", err)
	}
}

// serve answers gRPC for s on a free loopback port until the test ends and
// returns its host:port.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}
