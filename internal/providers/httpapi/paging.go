package httpapi

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
)

// ErrPageLoop is wrapped when a pagination cursor or next link repeats: the
// listing would never end, so it stops with an error instead of looping or
// silently truncating.
var ErrPageLoop = errors.New("pagination loop: cursor repeated")

// LoopGuard remembers the cursors or URLs seen during one listing. It keeps
// 8-byte hashes, so memory grows with pages, not with items. The zero value
// is ready to use; it is not safe for concurrent use.
type LoopGuard struct {
	seen map[uint64]struct{}
}

// Check records key and returns an error wrapping ErrPageLoop when it was
// seen before.
func (g *LoopGuard) Check(key string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	k := h.Sum64()
	if g.seen == nil {
		g.seen = map[uint64]struct{}{}
	}
	if _, dup := g.seen[k]; dup {
		return fmt.Errorf("%w after %d pages", ErrPageLoop, len(g.seen))
	}
	g.seen[k] = struct{}{}
	return nil
}

// PageFunc handles one page and returns the next link: "" when done, an
// absolute URL, or a reference relative to the page's URL (Harbor's Link
// header gives "/api/v2.0/projects?page=2").
type PageFunc func(ctx context.Context, page *Response) (next string, err error)

// Pages GETs first (a Request; Method defaults to GET), hands each page to
// fn and follows the next link fn returns. A next link on another scheme or
// host fails with ErrForeignURL (credentials would leave the API); a link
// seen before fails with ErrPageLoop. Only one page is held at a time.
func (c *Client) Pages(ctx context.Context, first Request, fn PageFunc) error {
	var g LoopGuard
	req := first
	for {
		resp, err := c.Do(ctx, req)
		if err != nil {
			return err
		}
		if err := g.Check(resp.URL.String()); err != nil {
			return fmt.Errorf("list %s: %w", RedactURL(resp.URL), err)
		}
		next, err := fn(ctx, resp)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		nu, err := c.ResolveNext(resp.URL, next)
		if err != nil {
			return err
		}
		if first.SamePath && nu.EscapedPath() != resp.URL.EscapedPath() {
			// A relative link such as "x/y?page=2" resolves to a longer path
			// from every page: never the same URL twice, so the loop guard
			// would not stop it.
			return fmt.Errorf("list %s: %w: the next link %s is not a page of this listing", RedactURL(resp.URL), ErrPageLoop, RedactURL(nu))
		}
		req = Request{Method: first.Method, Header: first.Header, NoAuth: first.NoAuth, Path: nu.String(), SamePath: first.SamePath}
	}
}

// ResolveNext resolves a next link against the page it came from and
// checks that it stays on the API's scheme and host.
func (c *Client) ResolveNext(page *url.URL, next string) (*url.URL, error) {
	ref, err := url.Parse(strings.TrimSpace(next))
	if err != nil {
		return nil, fmt.Errorf("next link: %w", err)
	}
	u := ref
	if page != nil {
		u = page.ResolveReference(ref)
	}
	if err := c.SameOrigin(u); err != nil {
		return nil, fmt.Errorf("refusing next link: %w", err)
	}
	return u, nil
}

// CursorFunc fetches the page for cursor ("" for the first page) and returns
// the next cursor ("" when done).
type CursorFunc func(ctx context.Context, cursor string) (next string, err error)

// Cursor drives a cursor-paginated listing (Quay's next_page): fn is called
// with "" first, then with each returned cursor, until it returns "". A
// repeated cursor fails with ErrPageLoop.
func Cursor(ctx context.Context, fn CursorFunc) error {
	var g LoopGuard
	cur := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := fn(ctx, cur)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if next == cur {
			return fmt.Errorf("%w: the server returned the cursor it was given", ErrPageLoop)
		}
		if err := g.Check(next); err != nil {
			return err
		}
		cur = next
	}
}

// NextLink returns the target of the rel="next" entry of an RFC 8288 Link
// header (Harbor), or "".
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitLinks(v) {
			part = strings.TrimSpace(part)
			if !strings.HasPrefix(part, "<") {
				continue
			}
			end := strings.Index(part, ">")
			if end < 0 {
				continue
			}
			target, params := part[1:end], part[end+1:]
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header on the commas between entries, not on
// commas inside <...>.
func splitLinks(v string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// ErrNoLast is NextLast's answer to a next link without a last parameter:
// an n/last listing cannot go on without it.
var ErrNoLast = errors.New("next link has no last parameter")

// NextLast is the last parameter of resp's next link, for a Docker API
// listing paged with n and last; "" when there is no next page. Only n
// and last are taken from the link, but a link to another origin is still
// refused: it says the answer did not come from the registry it should
// have.
func (c *Client) NextLast(resp *Response) (string, error) {
	next := NextLink(resp.Header)
	if next == "" {
		return "", nil
	}
	nu, err := c.ResolveNext(resp.URL, next)
	if err != nil {
		return "", err
	}
	last := nu.Query().Get("last")
	if last == "" {
		return "", ErrNoLast
	}
	return last, nil
}
