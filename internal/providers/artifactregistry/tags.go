package artifactregistry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/api/iterator"

	"github.com/immutag/immutag/internal/providers"
)

var _ providers.TagLister = (*Provider)(nil)

// Tags streams every tag of r from ListDockerImages pages alone: each
// DockerImage is one image (package) at one digest (for a multi-arch image
// the index's), with its tags and update_time. A repository holds several
// images, so each tag names its image (providers.Tag.Image). One call per
// page of 1000 images, none per tag.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	h, ok := r.Handle.(repoHandle)
	resource := h.resource
	if !ok || resource == "" {
		proj, loc, ok := strings.Cut(r.Scope, "/")
		if !ok {
			return fmt.Errorf("repository %s: scope %q is not PROJECT/LOCATION", r.Name, r.Scope)
		}
		resource = "projects/" + proj + "/locations/" + loc + "/repositories/" + r.Name
	}
	c, err := p.sdk(ctx)
	if err != nil {
		return err
	}
	it := c.ListDockerImages(ctx, &artifactregistrypb.ListDockerImagesRequest{Parent: resource, PageSize: pageSize}, p.callOptions()...)
	var pg pageGuard
	for {
		im, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list docker images of %s: %w", resource, mapErr(ctx, err))
		}
		if err := pg.check(it.Response, it.PageInfo().Token); err != nil {
			return fmt.Errorf("list docker images of %s: %w", resource, err)
		}
		image, digest, ok := imageAndDigest(im.GetName())
		if !ok {
			return fmt.Errorf("list docker images of %s: unexpected image name %q", resource, im.GetName())
		}
		t := providers.Tag{Digest: digest, Image: image}
		switch {
		case im.GetUpdateTime().IsValid():
			t.Pushed = im.GetUpdateTime().AsTime()
		case im.GetUploadTime().IsValid():
			t.Pushed = im.GetUploadTime().AsTime()
		}
		for _, name := range im.GetTags() {
			t.Name = name
			if err := yield(t); err != nil {
				return err
			}
		}
	}
}

// imageAndDigest splits ".../dockerImages/IMAGE@sha256:..." (IMAGE is
// URL-encoded, so an image path's "/" arrives as %2F).
func imageAndDigest(name string) (image, digest string, ok bool) {
	_, rest, found := strings.Cut(name, "/dockerImages/")
	if !found {
		return "", "", false
	}
	enc, digest, found := strings.Cut(rest, "@")
	if !found || digest == "" {
		return "", "", false
	}
	image, err := url.PathUnescape(enc)
	if err != nil || image == "" {
		return "", "", false
	}
	return image, digest, true
}
