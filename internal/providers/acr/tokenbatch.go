package acr

import (
	"context"
	"errors"
	"strings"
)

// errBatchFailed tells callers that waited on a batched fetch that failed
// to fetch their scope alone.
var errBatchFailed = errors.New("batched token request failed")

// maxBatchScopes bounds how many repository scopes one token request asks
// for: a registry page of names (defaultPageSize) fits, and the scope list
// stays far below URL and header size limits.
const maxBatchScopes = 100

// prefetch asks for one access token covering every scope that is neither
// cached nor being fetched, and caches it under each of them. Reading a
// registry of N repositories then costs about N/100 token exchanges instead
// of N (the docker token protocol and ACR's /oauth2/token accept several
// scopes in one request). If the registry grants less than was asked, the
// first call for a missing scope is answered 401 with a challenge, and
// tokenPolicy falls back to a token for that scope alone; if the batched
// request itself fails, each scope is fetched alone on first use. So a
// batch only ever saves calls, never costs a failure.
func (c *tokenCache) prefetch(ctx context.Context, scopes []string) {
	if len(scopes) < 2 {
		return // one scope: get() fetches it on first use
	}
	if len(scopes) > maxBatchScopes {
		scopes = scopes[:maxBatchScopes]
	}
	c.mu.Lock()
	if len(c.m)+len(scopes) > maxCachedScopes {
		c.prune(len(scopes))
	}
	var mine []*tokenEntry
	var want []string
	for _, s := range scopes {
		if c.m[s] != nil || len(c.m) >= maxCachedScopes {
			continue
		}
		c.seq++
		e := &tokenEntry{done: make(chan struct{}), born: c.seq}
		c.m[s] = e
		mine = append(mine, e)
		want = append(want, s)
	}
	c.mu.Unlock()
	if len(want) == 0 {
		return
	}
	tok, exp, err := c.src.fetch(ctx, c.service, strings.Join(want, " "))
	if err != nil {
		// Fail open to the per-scope path: forget the entries so each
		// scope is fetched, and any error reported, on its own call.
		c.mu.Lock()
		for i, s := range want {
			if c.m[s] == mine[i] {
				delete(c.m, s)
			}
		}
		c.mu.Unlock()
		err = errBatchFailed // callers waiting on these entries fetch alone
	}
	for _, e := range mine {
		e.tok, e.exp, e.err = tok, exp, err
		close(e.done)
	}
}

// readScopes are the metadata_read scopes of names (catalog order).
func readScopes(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, "repository:"+n+":metadata_read")
	}
	return out
}
