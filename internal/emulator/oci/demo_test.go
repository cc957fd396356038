package oci

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestDemoIsSeededAndAcceptsOverwrites(t *testing.T) {
	d, err := startDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Repositories(); !slices.Equal(got, DemoRepositories) {
		t.Fatalf("repositories %v, want %v", got, DemoRepositories)
	}
	auth := remote.WithAuth(&authn.Basic{Username: d.Env()[DemoUserEnv], Password: d.Env()[DemoPasswordEnv]})
	ref, _ := name.NewTag(d.Host()+"/team/web:v2.0.0", name.Insecure)
	desc, err := remote.Head(ref, auth, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Errorf("team/web:v2.0.0 is %s, want an image index", desc.MediaType)
	}
	scope, repo, tag := d.OverwriteTarget()
	ref, _ = name.NewTag(scope+"/"+repo+":"+tag, name.Insecure)
	before, err := remote.Head(ref, auth)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PushTag(context.Background(), scope, repo, tag); err != nil {
		t.Fatalf("overwrite refused: %v", err)
	}
	after, err := remote.Head(ref, auth)
	if err != nil {
		t.Fatal(err)
	}
	if before.Digest == after.Digest {
		t.Error("the overwrite did not move the tag")
	}
	// Without credentials the registry challenges for a token.
	resp, err := http.Get(d.URL() + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous catalog: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestSeedWritesDistinctManifestsWithoutNetwork(t *testing.T) {
	s := New(Options{Username: "u", Password: "p"})
	a, err := s.Seed("gen/a", "v1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seed("gen/b", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if a == "" || a == b {
		t.Errorf("digests %q %q: want two distinct manifests", a, b)
	}
	if got := s.Repositories(); !slices.Equal(got, []string{"gen/a", "gen/b"}) {
		t.Errorf("repositories %v", got)
	}
}
