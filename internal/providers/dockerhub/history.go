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

var _ providers.TagHistorian = (*Provider)(nil)

// AuditLogSource names Docker Hub's audit log in the ledger.
const AuditLogSource = "dockerhub-auditlog"

// auditPageSize is the page_size asked of the audit-log route (its default
// is 25; the spec gives no maximum).
const auditPageSize = 100

// TagHistory imports r's past tag lifetimes from the namespace's audit log
// (GET /v2/auditlogs/{account}?name={namespace}/{repository}), page by
// page, newest first: repo.tag.push events carry data.tag and data.digest;
// repo.tag.delete and repo.delete end lifetimes. Audit logs are for
// organisation owners on Docker Team and Business plans: a 401/403 comes
// back as ErrDenied and nothing is imported. With since, reading stops as
// soon as providers.Lifetimes.Done allows.
func (p *Provider) TagHistory(ctx context.Context, r providers.Repository, since time.Time, yield func(providers.Tag) error) (time.Time, error) {
	full := r.Scope + "/" + r.Name
	life := providers.NewLifetimes(AuditLogSource, since, yield)
	path := "/v2/auditlogs/" + url.PathEscape(r.Scope)
	// The response has no next link or count: the log ends at an empty
	// page, or at a page shorter than the longest one seen (a server that
	// caps page_size below what was asked must not end it early).
	longest := 0
	err := httpapi.Cursor(ctx, func(ctx context.Context, cursor string) (string, error) {
		page := 1
		if cursor != "" {
			page, _ = strconv.Atoi(cursor)
		}
		q := url.Values{"name": {full}, "page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(auditPageSize)}}
		resp, err := p.client.Do(ctx, httpapi.Request{Path: path, Query: q})
		if err != nil {
			return "", err
		}
		var body struct {
			Logs []struct {
				Action    string            `json:"action"`
				Name      string            `json:"name"`
				Data      map[string]string `json:"data"`
				Timestamp string            `json:"timestamp"`
			} `json:"logs"`
		}
		if err := resp.JSON(&body); err != nil {
			return "", err
		}
		for _, e := range body.Logs {
			if e.Name != full {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
			if err != nil {
				return "", fmt.Errorf("audit event %s: timestamp %q: %w", e.Action, e.Timestamp, err)
			}
			switch e.Action {
			case "repo.tag.push":
				if e.Data["tag"] != "" {
					err = life.Push(e.Data["tag"], e.Data["digest"], at)
				}
			case "repo.tag.delete":
				if e.Data["tag"] != "" {
					err = life.TagChanged(e.Data["tag"], at)
				}
			case "repo.delete":
				err = life.RepositoryDeleted(at)
			}
			if err != nil {
				return "", err
			}
		}
		n := len(body.Logs)
		if n == 0 || n < longest || life.Done() {
			return "", nil
		}
		longest = max(longest, n)
		return strconv.Itoa(page + 1), nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: audit log: %w", full, err)
	}
	return life.Newest(), nil
}
