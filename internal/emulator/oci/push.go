package oci

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// Pusher writes images to a running registry the way a client does
// (go-containerregistry's remote.Write with the token flow), for seeding
// and for tests and the demo's overwrite step.
type Pusher struct {
	// Base is the registry root, http://127.0.0.1:PORT.
	Base string
	// Auth is the client's credentials (authn.Anonymous when nil).
	Auth authn.Authenticator
	// Transport is the HTTP transport (nil = http.DefaultTransport).
	Transport http.RoundTripper
}

func (p Pusher) ref(repo, tag string) (name.Tag, error) {
	host := strings.TrimPrefix(strings.TrimPrefix(p.Base, "http://"), "https://")
	opts := []name.Option{name.StrictValidation}
	if strings.HasPrefix(p.Base, "http://") {
		opts = append(opts, name.Insecure)
	}
	return name.NewTag(host+"/"+repo+":"+tag, opts...)
}

func (p Pusher) opts(ctx context.Context) []remote.Option {
	a := p.Auth
	if a == nil {
		a = authn.Anonymous
	}
	rt := p.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(a), remote.WithTransport(rt)}
}

// Image pushes a new random single-platform image (one small layer) as
// repo:tag and returns its manifest digest.
func (p Pusher) Image(ctx context.Context, repo, tag string) (v1.Hash, error) {
	ref, err := p.ref(repo, tag)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := random.Image(64, 1)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(ref, img, p.opts(ctx)...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return img.Digest()
}

// Index pushes a new random two-platform image index (linux/amd64 and
// linux/arm64) as repo:tag and returns the index digest.
func (p Pusher) Index(ctx context.Context, repo, tag string) (v1.Hash, error) {
	ref, err := p.ref(repo, tag)
	if err != nil {
		return v1.Hash{}, err
	}
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			return v1.Hash{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(ref, idx, p.opts(ctx)...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return idx.Digest()
}
