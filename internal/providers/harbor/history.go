package harbor

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

var _ providers.TagHistorian = (*Provider)(nil)

// AuditLogSource names Harbor's audit log in the ledger.
const AuditLogSource = "harbor-auditlog"

// pushedDigest finds the digest in a push record's operation_description,
// "push artifact: <project>/<repo>@sha256:...".
var pushedDigest = regexp.MustCompile(`@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\b`)

// TagHistory imports r's past tag lifetimes from the project's audit log
// (GET /projects/{project_name}/auditlog-exts, Harbor 2.13+), newest first
// (sort=-op_time), 100 records a page following Link rel="next". A push
// record names the tag in resource (<project>/<repo>:<tag>) and the digest
// in operation_description; tag and artifact deletions and tags created
// without a digest end a lifetime. The log needs the project-admin role (or
// a robot account allowed to list it): a 401/403 comes back as ErrDenied
// and nothing is imported. With since, reading stops as soon as
// providers.Lifetimes.Done allows.
func (p *Provider) TagHistory(ctx context.Context, r providers.Repository, since time.Time, yield func(providers.Tag) error) (time.Time, error) {
	c, err := p.client()
	if err != nil {
		return time.Time{}, err
	}
	full := r.Scope + "/" + r.Name
	life := providers.NewLifetimes(AuditLogSource, since, yield)
	path := apiPrefix + "/projects/" + url.PathEscape(r.Scope) + "/auditlog-exts"
	// The fuzzy match also finds repositories whose name contains this one;
	// the exact repository is checked below.
	q := url.Values{"q": {"resource=~" + full}, "sort": {"-op_time"}, "page": {"1"}, "page_size": {pageSize}}
	err = c.Pages(ctx, httpapi.Request{Path: path, Query: q, SamePath: true}, func(_ context.Context, page *httpapi.Response) (string, error) {
		var recs []struct {
			Resource    string `json:"resource"`
			Type        string `json:"resource_type"`
			Operation   string `json:"operation"`
			Description string `json:"operation_description"`
			Result      *bool  `json:"operation_result"`
			OpTime      string `json:"op_time"`
		}
		if err := page.JSON(&recs); err != nil {
			return "", err
		}
		for _, rec := range recs {
			if rec.Result != nil && !*rec.Result {
				continue // a failed operation changed nothing
			}
			if err := replay(life, full, rec.Resource, rec.Type, rec.Operation, rec.Description, rec.OpTime); err != nil {
				return "", err
			}
		}
		if life.Done() {
			return "", nil
		}
		return httpapi.NextLink(page.Header), nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("%s/%s: audit log: %w", r.Scope, r.Name, err)
	}
	return life.Newest(), nil
}

// replay applies one audit record of repository full to life.
func replay(life *providers.Lifetimes, full, resource, typ, op, desc, opTime string) error {
	if op != "create" && op != "delete" {
		return nil // pulls and anything else move no tag
	}
	rest, ok := strings.CutPrefix(resource, full)
	if !ok {
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, opTime)
	if err != nil {
		return fmt.Errorf("audit record %q: op_time %q: %w", resource, opTime, err)
	}
	// The reference after the repository: ":<tag>", or the digest as
	// "@sha256:..." (2.13+) or ":sha256:..." (earlier releases).
	var ref string
	switch {
	case rest == "":
		if typ == "repository" && op == "delete" {
			return life.RepositoryDeleted(at)
		}
		return nil
	case rest[0] == ':' || rest[0] == '@':
		ref = rest[1:]
	default:
		return nil // another repository whose name starts with this one
	}
	isDigest := strings.HasPrefix(ref, "sha256:") || strings.HasPrefix(ref, "sha512:")
	switch {
	case typ == "artifact" && op == "create" && !isDigest:
		digest := ""
		if m := pushedDigest.FindStringSubmatch(desc); m != nil {
			digest = m[1]
		}
		// Without a digest the push still ends the tag's earlier lifetime.
		return life.Push(ref, digest, at)
	case typ == "artifact" && op == "delete" && isDigest:
		return life.DigestDeleted(ref, at)
	case typ == "tag" && !isDigest:
		// A tag created on an existing artifact (no digest in the record)
		// or deleted: its earlier lifetime ends here.
		return life.TagChanged(ref, at)
	}
	return nil
}
