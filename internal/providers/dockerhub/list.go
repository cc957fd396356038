package dockerhub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// listPage is the part of list_repositories_response the adapter reads.
type listPage struct {
	Next    *string `json:"next"`
	Results []struct {
		Name      string `json:"name"`
		IsPrivate bool   `json:"is_private"`
	} `json:"results"`
}

// settings is immutable_tags_settings.
type settings struct {
	Enabled *bool    `json:"enabled"`
	Rules   []string `json:"rules"`
}

// repoInfo is the part of repository_info the adapter reads.
type repoInfo struct {
	Name        string    `json:"name"`
	IsPrivate   bool      `json:"is_private"`
	Settings    *settings `json:"immutable_tags_settings"`
	Permissions *struct {
		Admin bool `json:"admin"`
	} `json:"permissions"`
}

// Repositories lists one namespace page by page (100 per page, following
// Hub's absolute next links through the client's origin and loop guards)
// and reads each repository's settings with bounded concurrency.
//
// One goroutine pages the listing and hands names over an unbuffered
// channel to p.concurrent workers that read and emit, so the next page is
// fetched while the repositories of this one are read. Memory holds one
// page plus one repository per worker. A repository whose settings cannot
// be read is emitted as unknown; a listing failure is returned as the
// scope's error.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	ns := s.Name
	var private int
	check := &providers.EntryCheck{Provider: p.name, Kind: providers.KindDockerHub, Scope: ns}
	err := providers.FanOut(ctx, p.concurrent, func(ctx context.Context, send func(string) error) error {
		n, err := p.list(ctx, ns, providers.SendWanted(e, send))
		private = n
		return err
	}, func(ctx context.Context, name string) error {
		if bad, ok := check.Invalid(name); ok {
			return e.Repository(bad)
		}
		r := p.readRepository(ctx, ns, name)
		// A read cut short by cancellation says nothing about the
		// repository: stop rather than emit it as unknown.
		if err := ctx.Err(); err != nil {
			return err
		}
		return e.Repository(r)
	})
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	if private == 0 {
		// Hub answers 200 with only the public repositories when an
		// organisation access token lacks scope-repository-list (or a PAT
		// has only public read): nothing in the response says so.
		e.Warn(providers.Warning{
			Provider: p.name, Scope: ns, Code: WarnPrivateVisibility,
			Message: fmt.Sprintf("namespace %s listed no private repository; if it has private repositories, the token cannot see them "+
				"(an organisation access token needs scope-repository-list, a personal access token at least repo:read) and they were not audited", ns),
		})
	}
	return nil
}

// list pages the namespace's repositories and sends each name until the
// listing ends, fails or the run stops. It returns how many of the listed
// repositories were private.
func (p *Provider) list(ctx context.Context, ns string, send func(string) error) (private int, err error) {
	first := httpapi.Request{
		Path:  "/v2/namespaces/" + url.PathEscape(ns) + "/repositories",
		Query: url.Values{"page": {"1"}, "page_size": {strconv.Itoa(pageSize)}},
		// Hub's next is this listing's URL with another page number.
		SamePath: true,
	}
	err = p.client.Pages(ctx, first, func(ctx context.Context, page *httpapi.Response) (string, error) {
		var lp listPage
		if err := page.JSONRequired(&lp, "results"); err != nil {
			return "", err
		}
		for _, r := range lp.Results {
			if r.IsPrivate {
				private++
			}
			if err := send(r.Name); err != nil {
				return "", err
			}
		}
		if lp.Next == nil {
			return "", nil
		}
		return *lp.Next, nil
	})
	return private, err
}

// readRepository GETs one repository and converts its settings. Failures
// give an unknown repository carrying the API's message (fail closed).
func (p *Provider) readRepository(ctx context.Context, ns, name string) providers.Repository {
	r := p.repository(ns, name)
	info, err := p.getRepository(ctx, ns, name)
	if err != nil {
		r.Immutability = unknown(err)
		return r
	}
	r.Immutability = classify(info.Settings, p.opts.MutableTagsAllowed)
	if info.Permissions != nil && !info.Permissions.Admin && r.Mode != providers.ModeImmutable {
		r.Note = joinNote(r.Note, "the token has no admin permission on this repository, so a fix would be refused")
	}
	return r
}

func (p *Provider) repository(ns, name string) providers.Repository {
	return providers.Repository{
		Provider: p.name, Kind: providers.KindDockerHub, Scope: ns, Name: name,
		URI: p.uri(ns, name),
	}
}

func (p *Provider) getRepository(ctx context.Context, ns, name string) (*repoInfo, error) {
	var info repoInfo
	if err := p.client.DoJSON(ctx, http.MethodGet, repoPath(ns, name), nil, &info); err != nil {
		return nil, fmt.Errorf("repository %s/%s: %w", ns, name, err)
	}
	return &info, nil
}

func unknown(err error) providers.Immutability {
	msg := err.Error()
	var ae *providers.APIError
	if errors.As(err, &ae) {
		msg = ae.Error()
	}
	return providers.Immutability{Mode: providers.ModeUnknown, Error: msg}
}

// native renders the setting verbatim for the report.
func native(s settings) string {
	en := s.Enabled != nil && *s.Enabled
	return fmt.Sprintf("enabled=%t rules=[%s]", en, strings.Join(s.Rules, " "))
}

// noteRegexRules explains why a partial Hub repository reports "*" as
// mutable: its rules are regular expressions, and the tags matching none
// of them (the ones left mutable) have no finite pattern.
const noteRegexRules = "only tags matching the immutable rules (regular expressions) are immutable; every other tag stays mutable, reported as \"*\""

// classify maps immutable_tags_settings to a mode. enabled is
// authoritative: Hub has been seen returning rules [".*"] on a disabled
// repository, which protects nothing.
// allowed is policy.mutable_tags_allowed: a rule immutag wrote to keep
// those tags mutable (complementRule) is recognised, so the repository
// reads as immutable except them.
func classify(s *settings, allowed []string) providers.Immutability {
	if s == nil || s.Enabled == nil {
		return providers.Immutability{Mode: providers.ModeUnknown, Error: "repository has no immutable_tags_settings in the API response"}
	}
	im := providers.Immutability{Native: native(*s)}
	switch {
	case !*s.Enabled:
		im.Mode = providers.ModeMutable
		if len(s.Rules) > 0 {
			im.Note = "immutable tags are disabled; the stored rules have no effect"
		}
	case hasUniversal(s.Rules):
		im.Mode = providers.ModeImmutable
		im.ImmutablePatterns = append([]string(nil), s.Rules...)
	case hasComplement(s.Rules, allowed):
		ok, _ := splitAllowed(allowed)
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = append([]string(nil), s.Rules...)
		im.MutablePatterns = ok
		im.Note = "every tag is immutable except those policy.mutable_tags_allowed allows (one complement rule)"
	default:
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = append([]string(nil), s.Rules...)
		im.MutablePatterns = []string{"*"}
		im.Note = noteRegexRules
		if len(s.Rules) == 0 {
			im.Note = "immutable tags are enabled without rules; Docker Hub does not document what that protects, so every tag is treated as mutable"
		}
	}
	return im
}

// hasUniversal reports whether a rule matches every tag whether or not Hub
// anchors rules (undocumented): .* and .+ with or without ^...$ and a group.
func hasUniversal(rules []string) bool {
	for _, r := range rules {
		r = strings.TrimSpace(r)
		r = strings.TrimPrefix(r, "^")
		r = strings.TrimSuffix(r, "$")
		if strings.HasPrefix(r, "(") && strings.HasSuffix(r, ")") {
			r = strings.TrimPrefix(r[1:len(r)-1], "?:")
		}
		if r == ".*" || r == ".+" {
			return true
		}
	}
	return false
}

// hasComplement reports whether rules hold the complement rule of the
// allowed patterns a rule can express.
func hasComplement(rules, allowed []string) bool {
	ok, _ := splitAllowed(allowed)
	if len(ok) == 0 {
		return false
	}
	want := complementRule(ok)
	for _, r := range rules {
		if strings.TrimSpace(r) == want {
			return true
		}
	}
	return false
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
