package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Tags streams every tag of r with the digest it names: tag-list pages
// (following Link), then one manifest HEAD per tag with the Accept types of
// every manifest and index format, so a multi-arch tag gives its index
// digest. Where HEAD has no Docker-Content-Digest (the header is a SHOULD),
// the manifest is fetched and hashed. The distribution API has no push
// time, so Pushed stays zero.
//
// One page of tags is in memory at a time; HEADs of a page run with bounded
// concurrency and are yielded in the page's (lexical) order.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	ref, err := name.NewRepository(p.reg.Name()+"/"+r.Name, p.nameOpts()...)
	if err != nil {
		return fmt.Errorf("repository %q: %w", r.Name, err)
	}
	pl, err := p.puller(ctx)
	if err != nil {
		return err
	}
	lister, err := pl.Lister(ctx, ref)
	if err != nil {
		return fmt.Errorf("list tags of %s: %w", r.Name, apiError(err))
	}
	var guard httpapi.LoopGuard
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			return fmt.Errorf("list tags of %s: %w", r.Name, apiError(err))
		}
		digests, err := p.resolve(ctx, pl, ref, page.Tags)
		if err != nil {
			return err
		}
		for i, t := range page.Tags {
			if digests[i] == "" {
				continue // deleted between the listing and the HEAD
			}
			if err := yield(providers.Tag{Name: t, Digest: digests[i]}); err != nil {
				return err
			}
		}
		if page.Next != "" {
			if err := guard.Check(page.Next); err != nil {
				return fmt.Errorf("list tags of %s: %w", r.Name, err)
			}
		}
	}
	return nil
}

// resolve returns the digest of each tag ("" for a tag that is gone).
func (p *Provider) resolve(ctx context.Context, pl *remote.Puller, repo name.Repository, tags []string) ([]string, error) {
	out := make([]string, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.maxConcurrent())
	for i, t := range tags {
		g.Go(func() error {
			d, err := p.digest(gctx, pl, repo.Tag(t))
			if err != nil {
				return fmt.Errorf("tag %s:%s: %w", repo.RepositoryStr(), t, err)
			}
			out[i] = d
			return nil
		})
	}
	return out, g.Wait()
}

// digest HEADs the tag and falls back to GET + sha256 when the answer has
// no usable digest header or the registry does not allow HEAD.
func (p *Provider) digest(ctx context.Context, pl *remote.Puller, ref name.Tag) (string, error) {
	desc, err := pl.Head(ctx, ref)
	if err == nil {
		return desc.Digest.String(), nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return "", nil
		case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		default:
			return "", fmt.Errorf("HEAD manifest: %w", apiError(err))
		}
	}
	// Not an HTTP error: the answer lacked Docker-Content-Digest (or
	// Content-Length), which go-containerregistry refuses to guess.
	d, gerr := pl.Get(ctx, ref)
	if gerr != nil {
		if errors.As(gerr, &te) && te.StatusCode == http.StatusNotFound {
			return "", nil
		}
		return "", fmt.Errorf("GET manifest: %w", apiError(gerr))
	}
	return d.Digest.String(), nil
}
