package dockerhub

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

var _ providers.TagLister = (*Provider)(nil)

// tagPageSize is the tag listing's largest page_size.
const tagPageSize = 100

type tagPage struct {
	Next    *string `json:"next"`
	Results []struct {
		Name string `json:"name"`
		// Digest is the tag's manifest digest: the index digest for a
		// multi-arch image (images[] hold the per-platform ones).
		Digest        string `json:"digest"`
		TagLastPushed string `json:"tag_last_pushed"`
		LastUpdated   string `json:"last_updated"`
		Images        []struct {
			Digest string `json:"digest"`
		} `json:"images"`
	} `json:"results"`
}

// Tags streams every tag of r from the tag listing
// (GET /v2/namespaces/{ns}/repositories/{name}/tags), 100 a page, following
// next: one call per page, none per tag. tag_last_pushed is the push time.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	first := httpapi.Request{
		Path:     "/v2/namespaces/" + url.PathEscape(r.Scope) + "/repositories/" + url.PathEscape(r.Name) + "/tags",
		Query:    url.Values{"page": {"1"}, "page_size": {strconv.Itoa(tagPageSize)}},
		SamePath: true,
	}
	err := p.client.Pages(ctx, first, func(ctx context.Context, page *httpapi.Response) (string, error) {
		var tp tagPage
		if err := page.JSON(&tp); err != nil {
			return "", err
		}
		for _, t := range tp.Results {
			tag := providers.Tag{Name: t.Name, Digest: t.Digest}
			// Without the top-level digest only a single-platform tag's
			// manifest digest is known; a multi-arch one's index digest is
			// not, and one platform's digest must never stand in for it.
			if tag.Digest == "" && len(t.Images) == 1 {
				tag.Digest = t.Images[0].Digest
			}
			for _, ts := range []string{t.TagLastPushed, t.LastUpdated} {
				if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
					tag.Pushed = at.UTC()
					break
				}
			}
			if err := yield(tag); err != nil {
				return "", err
			}
		}
		if tp.Next == nil {
			return "", nil
		}
		return *tp.Next, nil
	})
	if err != nil {
		return fmt.Errorf("%s/%s: list tags: %w", r.Scope, r.Name, err)
	}
	return nil
}
