package harbor

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

var _ providers.TagLister = (*Provider)(nil)

// Tags streams every tag of r from the artifact listing with with_tag=true:
// each artifact carries its digest (an OCI index's own digest for a
// multi-arch image) and its tags, each with its push_time. One call per page
// of 100 artifacts, following Link rel="next"; none per tag.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	// repository_name is encoded twice when it holds "/" (swagger: a/b -> a%252Fb).
	path := apiPrefix + "/projects/" + url.PathEscape(r.Scope) + "/repositories/" + url.PathEscape(url.PathEscape(r.Name)) + "/artifacts"
	err = c.Pages(ctx, httpapi.Request{Path: path, Query: url.Values{"page": {"1"}, "page_size": {pageSize}, "with_tag": {"true"}}},
		func(_ context.Context, page *httpapi.Response) (string, error) {
			var arts []struct {
				Digest string `json:"digest"`
				Tags   []struct {
					Name     string `json:"name"`
					PushTime string `json:"push_time"`
				} `json:"tags"`
			}
			if err := page.JSON(&arts); err != nil {
				return "", err
			}
			for _, a := range arts {
				for _, t := range a.Tags {
					tag := providers.Tag{Name: t.Name, Digest: a.Digest}
					if at, err := time.Parse(time.RFC3339Nano, t.PushTime); err == nil && at.Year() > 1 {
						tag.Pushed = at.UTC()
					}
					if err := yield(tag); err != nil {
						return "", err
					}
				}
			}
			return httpapi.NextLink(page.Header), nil
		})
	if err != nil {
		return fmt.Errorf("%s/%s: list artifacts: %w", r.Scope, r.Name, err)
	}
	return nil
}
