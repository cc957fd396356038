package quay

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

// HistorySource names Quay's own tag history in the ledger.
const HistorySource = "quay tag history"

// tagPage is the tag listing's largest page (Quay caps limit at 100).
const tagPage = 100

// Tags streams every tag of r, present and past, from the tag listing with
// onlyActiveTags=false: Quay keeps each tag lifetime with start_ts and,
// once ended, end_ts, so the ledger starts with the registry's full history
// rather than from its first scan. manifest_digest is the manifest list's
// digest for a multi-arch image. One call per page of 100.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	now := time.Now()
	if p.opts.Now != nil {
		now = p.opts.Now()
	}
	path := "/api/v1/repository/" + url.PathEscape(r.Scope) + "/" + url.PathEscape(r.Name) + "/tag/"
	return httpapi.Cursor(ctx, func(ctx context.Context, cursor string) (string, error) {
		page := 1
		if cursor != "" {
			page, _ = strconv.Atoi(cursor)
		}
		q := url.Values{"onlyActiveTags": {"false"}, "limit": {strconv.Itoa(tagPage)}, "page": {strconv.Itoa(page)}}
		resp, err := c.Do(ctx, httpapi.Request{Path: path, Query: q})
		if err != nil {
			return "", fmt.Errorf("%s/%s: list tags: %w", r.Scope, r.Name, err)
		}
		var body struct {
			Tags []struct {
				Name           string `json:"name"`
				ManifestDigest string `json:"manifest_digest"`
				StartTS        *int64 `json:"start_ts"`
				EndTS          *int64 `json:"end_ts"`
			} `json:"tags"`
			HasAdditional bool `json:"has_additional"`
		}
		if err := resp.JSON(&body); err != nil {
			return "", fmt.Errorf("%s/%s: list tags: %w", r.Scope, r.Name, err)
		}
		for _, t := range body.Tags {
			tag := providers.Tag{Name: t.Name, Digest: t.ManifestDigest}
			if t.StartTS != nil {
				tag.Pushed = time.Unix(*t.StartTS, 0).UTC()
				tag.Source = HistorySource
			}
			// end_ts in the future is a tag set to expire: still current.
			if t.EndTS != nil && !time.Unix(*t.EndTS, 0).After(now) {
				tag.Ended = time.Unix(*t.EndTS, 0).UTC()
			}
			if err := yield(tag); err != nil {
				return "", err
			}
		}
		if !body.HasAdditional || len(body.Tags) == 0 {
			return "", nil
		}
		return strconv.Itoa(page + 1), nil
	})
}
