// Package ghcr emulates the parts of the GitHub Packages REST API (version
// 2022-11-28) that immutag reads for GitHub Container Registry: owner
// lookup, an organisation's or user's container packages, and a package's
// versions, where a version's name is its manifest digest and
// metadata.container.tags the tags on it.
//
// It follows GitHub's documented behaviour: page/per_page paging (default
// 30, at most 100) with a Link header (next, last); newest versions first;
// classic-token auth ("Bearer" or "token") with 401 "Requires
// authentication" / "Bad credentials"; the primary rate limit (5,000 an hour
// by default) with X-RateLimit-Limit/Remaining/Used/Reset/Resource headers
// and a 403 "API rate limit exceeded" once spent; secondary limits as 403
// with Retry-After (the throttle fault); 404 "Package not found.". Pushing
// a tag that already exists moves it from its version to a new one, as
// ghcr.io does: tags are mutable.
//
// Everything is in memory and safe for concurrent use.
package ghcr

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// Paging defaults of the GitHub REST API.
const (
	DefaultPerPage = 30
	MaxPerPage     = 100
)

// DefaultRateLimit is the primary limit of a personal access token.
const DefaultRateLimit = 5000

// Options configure a Server.
type Options struct {
	// Token is the only accepted token (a classic PAT). Required.
	Token string
	// RateLimit is requests per hour (0 = DefaultRateLimit).
	RateLimit int
	// Faults are the initial fault-injection settings. A throttled call is
	// answered as a secondary rate limit: 403 with Retry-After.
	Faults emulator.Faults
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Version is one package version as the API shows it.
type Version struct {
	ID        int64
	Digest    string
	Tags      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

type pkg struct {
	name       string
	visibility string
	created    time.Time
	versions   []*Version // oldest first
}

type owner struct {
	login string
	org   bool
	id    int64
	pkgs  map[string]*pkg
}

// Server is one emulated GitHub API.
type Server struct {
	// Faults injects latency, errors and secondary rate limits.
	faults *emulator.Injector
	// Calls counts calls by operation: getUser, listOrgPackages,
	// listUserPackages, listOrgVersions, listUserVersions; refused ones included.
	calls emulator.Counter

	o   Options
	now func() time.Time

	mu      sync.Mutex
	owners  map[string]*owner
	denied  map[string]bool
	nextID  int64
	used    int
	resetAt time.Time
}

// New returns an emulator; serve Handler() on a listener the caller owns.
func New(o Options) *Server {
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Server{faults: emulator.NewInjector(o.Faults), o: o, now: now,
		owners: map[string]*owner{}, denied: map[string]bool{}, nextID: 1000}
}

// AddOwner adds an organisation (org true) or a user.
func (s *Server) AddOwner(login string, org bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.owners[strings.ToLower(login)]; ok {
		return
	}
	s.nextID++
	s.owners[strings.ToLower(login)] = &owner{login: login, org: org, id: s.nextID, pkgs: map[string]*pkg{}}
}

// Deny makes the owner's package routes answer 403 (or lifts it).
func (s *Server) Deny(login string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[strings.ToLower(login)] = on
}

// Push records a new image version of owner/name with tags, creating the
// package as needed. A tag already on another version moves to the new one
// (that version keeps its other tags). It returns the new version's digest.
func (s *Server) Push(login, name string, tags ...string) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	return digest, s.PushDigest(login, name, digest, tags...)
}

// PushDigest is Push with a given digest; pushing a digest the package
// already has only adds the tags to that version.
func (s *Server) PushDigest(login, name, digest string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.owners[strings.ToLower(login)]
	if !ok {
		return fmt.Errorf("ghcr emulator: no owner %q", login)
	}
	now := s.now().UTC().Truncate(time.Second)
	p, ok := o.pkgs[name]
	if !ok {
		p = &pkg{name: name, visibility: "private", created: now}
		o.pkgs[name] = p
	}
	var target *Version
	for _, v := range p.versions {
		if v.Digest == digest {
			target = v
		}
	}
	for _, v := range p.versions {
		if v == target {
			continue
		}
		n := len(v.Tags)
		v.Tags = slices.DeleteFunc(v.Tags, func(t string) bool { return slices.Contains(tags, t) })
		if len(v.Tags) != n {
			v.UpdatedAt = now
		}
	}
	if target == nil {
		s.nextID++
		target = &Version{ID: s.nextID, Digest: digest, CreatedAt: now}
		p.versions = append(p.versions, target)
	}
	for _, t := range tags {
		if !slices.Contains(target.Tags, t) {
			target.Tags = append(target.Tags, t)
		}
	}
	target.UpdatedAt = now
	return nil
}

// Versions returns a copy of a package's versions, newest first.
func (s *Server) Versions(login, name string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.owners[strings.ToLower(login)]
	if !ok || o.pkgs[name] == nil {
		return nil
	}
	vs := o.pkgs[name].versions
	out := make([]Version, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		v := *vs[i]
		v.Tags = slices.Clone(v.Tags)
		out = append(out, v)
	}
	return out
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	seg := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	op := operation(seg)
	s.calls.Inc(op)
	if r.Method != http.MethodGet {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	if !s.authenticated(w, r) {
		return
	}
	if !s.rate(w) {
		return
	}
	if emulator.Inject(s.faults, w, r, func(w http.ResponseWriter, _ *http.Request) {
		ghError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	}, func(w http.ResponseWriter, _ *http.Request) {
		ghError(w, http.StatusBadGateway, "Server Error")
	}) {
		return
	}
	switch op {
	case "getUser":
		s.getUser(w, seg[1])
	case "listOrgPackages", "listUserPackages":
		s.listPackages(w, r, seg[1], op == "listOrgPackages")
	case "listOrgVersions", "listUserVersions":
		name, err := url.PathUnescape(seg[4])
		if err != nil {
			ghError(w, http.StatusBadRequest, "bad package name")
			return
		}
		if seg[3] != "container" {
			ghError(w, http.StatusNotFound, "Package not found.")
			return
		}
		s.listVersions(w, r, seg[1], name, op == "listOrgVersions")
	default:
		ghError(w, http.StatusNotFound, "Not Found")
	}
}

func operation(seg []string) string {
	switch {
	case len(seg) == 2 && seg[0] == "users":
		return "getUser"
	case len(seg) == 3 && seg[2] == "packages" && seg[0] == "orgs":
		return "listOrgPackages"
	case len(seg) == 3 && seg[2] == "packages" && seg[0] == "users":
		return "listUserPackages"
	case len(seg) == 6 && seg[2] == "packages" && seg[5] == "versions" && seg[0] == "orgs":
		return "listOrgVersions"
	case len(seg) == 6 && seg[2] == "packages" && seg[5] == "versions" && seg[0] == "users":
		return "listUserVersions"
	}
	return "other"
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "token ")
	}
	if !ok || tok == "" {
		ghError(w, http.StatusUnauthorized, "Requires authentication")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.Token)) != 1 {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return false
	}
	return true
}

// rate counts the call against the hourly limit and sets the headers.
func (s *Server) rate(w http.ResponseWriter) bool {
	s.mu.Lock()
	now := s.now()
	if s.resetAt.IsZero() || !now.Before(s.resetAt) {
		s.resetAt = now.Add(time.Hour).Truncate(time.Second)
		s.used = 0
	}
	over := s.used >= s.o.RateLimit
	if !over {
		s.used++
	}
	used, reset := s.used, s.resetAt
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.o.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.o.RateLimit-used))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if over {
		ghError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.")
		return false
	}
	return true
}

// SetUsed sets how many calls of the current hour are spent (tests).
func (s *Server) SetUsed(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resetAt.IsZero() {
		s.resetAt = s.now().Add(time.Hour).Truncate(time.Second)
	}
	s.used = n
}

func (s *Server) lookup(w http.ResponseWriter, login string, org bool) (*owner, bool) {
	o, ok := s.owners[strings.ToLower(login)]
	if !ok || o.org != org {
		ghError(w, http.StatusNotFound, "Not Found")
		return nil, false
	}
	if s.denied[strings.ToLower(login)] {
		ghError(w, http.StatusForbidden, "Resource not accessible by personal access token")
		return nil, false
	}
	return o, true
}

func (s *Server) getUser(w http.ResponseWriter, login string) {
	s.mu.Lock()
	o, ok := s.owners[strings.ToLower(login)]
	s.mu.Unlock()
	if !ok {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	typ := "User"
	if o.org {
		typ = "Organization"
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSONUTF8, map[string]any{"login": o.login, "id": o.id, "type": typ})
}

// paging reads page and per_page as GitHub does.
func (s *Server) paging(r *http.Request) (page, per int, err error) {
	page, per = 1, DefaultPerPage
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return 0, 0, fmt.Errorf("page %q", v)
		}
	}
	if v := q.Get("per_page"); v != "" {
		if per, err = strconv.Atoi(v); err != nil || per < 1 {
			return 0, 0, fmt.Errorf("per_page %q", v)
		}
	}
	per = min(per, MaxPerPage)
	if ps := s.faults.Faults().PageSize; ps > 0 {
		per = min(per, ps)
	}
	return page, per, nil
}

// link sets Link with next and last relations.
func link(w http.ResponseWriter, r *http.Request, page, per, total int) {
	last := max(1, (total+per-1)/per)
	var parts []string
	mk := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.EscapedPath(), q.Encode(), rel)
	}
	if page < last {
		parts = append(parts, mk(page+1, "next"), mk(last, "last"))
	}
	if page > 1 {
		parts = append(parts, mk(1, "first"), mk(page-1, "prev"))
	}
	if len(parts) > 0 {
		w.Header().Set("Link", strings.Join(parts, ", "))
	}
}

func window(total, page, per int) (int, int) {
	from := min((page-1)*per, total)
	return from, min(from+per, total)
}

func (s *Server) listPackages(w http.ResponseWriter, r *http.Request, login string, org bool) {
	if r.URL.Query().Get("package_type") == "" {
		ghError(w, http.StatusBadRequest, "package_type is required")
		return
	}
	page, per, err := s.paging(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	o, ok := s.lookup(w, login, org)
	if !ok {
		s.mu.Unlock()
		return
	}
	var out []map[string]any
	if r.URL.Query().Get("package_type") == "container" {
		names := make([]string, 0, len(o.pkgs))
		for n := range o.pkgs {
			names = append(names, n)
		}
		slices.Sort(names)
		from, to := window(len(names), page, per)
		link(w, r, page, per, len(names))
		for _, n := range names[from:to] {
			p := o.pkgs[n]
			out = append(out, map[string]any{
				"id": len(out) + 1, "name": p.name, "package_type": "container", "visibility": p.visibility,
				"version_count": len(p.versions), "owner": map[string]any{"login": o.login},
				"url":        fmt.Sprintf("http://%s/%s/%s/packages/container/%s", r.Host, ownerRoute(o), o.login, url.PathEscape(p.name)),
				"created_at": p.created.Format(time.RFC3339), "updated_at": p.created.Format(time.RFC3339),
			})
		}
	}
	s.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSONUTF8, out)
}

func ownerRoute(o *owner) string {
	if o.org {
		return "orgs"
	}
	return "users"
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, login, name string, org bool) {
	page, per, err := s.paging(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	o, ok := s.lookup(w, login, org)
	if !ok {
		s.mu.Unlock()
		return
	}
	p, ok := o.pkgs[name]
	if !ok {
		s.mu.Unlock()
		ghError(w, http.StatusNotFound, "Package not found.")
		return
	}
	n := len(p.versions)
	from, to := window(n, page, per)
	link(w, r, page, per, n)
	out := make([]map[string]any, 0, to-from)
	for i := from; i < to; i++ {
		v := p.versions[n-1-i] // newest first
		out = append(out, map[string]any{
			"id": v.ID, "name": v.Digest,
			"url":        fmt.Sprintf("http://%s/%s/%s/packages/container/%s/versions/%d", r.Host, ownerRoute(o), o.login, url.PathEscape(p.name), v.ID),
			"created_at": v.CreatedAt.Format(time.RFC3339), "updated_at": v.UpdatedAt.Format(time.RFC3339),
			"metadata": map[string]any{"package_type": "container", "container": map[string]any{"tags": append([]string{}, v.Tags...)}},
		})
	}
	s.mu.Unlock()
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSONUTF8, out)
}

// ghError writes GitHub's error body.
func ghError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusForbidden && strings.Contains(msg, "secondary rate limit") && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	emulator.WriteJSON(w, status, emulator.ContentJSONUTF8, map[string]string{
		"message": msg, "documentation_url": "https://docs.github.com/rest/packages/packages",
	})
}

// SetFaults replaces the injected faults (tests change them mid-run).
func (s *Server) SetFaults(f emulator.Faults) { s.faults.Set(f) }

// Calls counts the API calls served, by operation.
func (s *Server) Calls() *emulator.Counter { return &s.calls }
