// Package dockerhub is an in-memory, wire-level emulator of the Docker Hub
// API routes immutag uses: POST /v2/auth/token, the /v2/namespaces/{ns}/
// repositories listing and repository GET/HEAD, PATCH .../immutabletags and
// POST .../immutabletags/verify, with the JSON shapes of the official
// OpenAPI spec. A registry-style PUT /v2/{ns}/{repo}/manifests/{tag}
// simulates a push so an overwrite of an immutable tag is refused.
//
// It checks bearer tokens (missing, unknown or expired -> 401), lets tests
// deny namespaces or repositories, injects latency, errors and 429s
// (Retry-After and X-Retry-After) through emulator.Injector, and counts
// calls per operation through emulator.Counter.
package dockerhub

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// Operation names used with the call Counter.
const (
	OpAuthToken           = "auth.token"
	OpListRepositories    = "repositories.list"
	OpGetRepository       = "repository.get"
	OpUpdateImmutableTags = "immutabletags.update"
	OpListTags            = "tags.list"
	OpVerifyImmutableTags = "immutabletags.verify"
	OpPushManifest        = "manifest.put"
	OpThrottled           = "throttled"
	OpFailed              = "failed"
)

// DefaultTokenTTL is Docker Hub's documented access token lifetime.
const DefaultTokenTTL = 10 * time.Minute

// Account is an identity that can mint tokens: a user with a PAT or an
// organisation with an OAT.
type Account struct {
	Identifier string
	Secret     string
	// Namespaces the account may read; empty means all.
	Namespaces []string
	// Admin allows PATCH immutabletags and verify (repository admin).
	Admin bool
	// PublicOnly simulates an OAT without scope-repository-list (or a PAT
	// with repo:public_read): listings silently omit private repositories
	// and a private repository reads as not found.
	PublicOnly bool
}

// Repository is one seeded repository.
type Repository struct {
	Namespace   string
	Name        string
	Private     bool
	Description string
	// Immutable tags settings, stored verbatim (rules may be non-empty while
	// disabled, as observed on the real service).
	ImmutableEnabled bool
	ImmutableRules   []string
	// Tags maps tag -> manifest digest.
	Tags map[string]string
}

type repo struct {
	Repository
	registered time.Time
	updated    time.Time
	pulls      int64
	// pushed is when each tag was last pushed (seeded tags: registration).
	pushed map[string]time.Time
}

type token struct {
	account *Account
	expires time.Time
}

// Server is a running (or not yet started) emulator.
type Server struct {
	mu       sync.Mutex
	accounts map[string]*Account // by identifier
	tokens   map[string]token
	repos    map[string]*repo // "ns/name"
	denyNS   map[string]int
	denyRepo map[string]int
	audit    hubAudit

	ttl   time.Duration
	now   func() time.Time
	inj   *emulator.Injector
	calls emulator.Counter
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
	// TokenTTL is how long minted tokens stay valid (0: DefaultTokenTTL,
	// ten minutes).
	TokenTTL time.Duration
	// Now is the clock for token expiry and timestamps (nil: time.Now).
	Now func() time.Time
}

// New returns an emulator with no accounts and no repositories.
func New(o Options) *Server {
	s := &Server{
		accounts: map[string]*Account{},
		tokens:   map[string]token{},
		repos:    map[string]*repo{},
		denyNS:   map[string]int{},
		denyRepo: map[string]int{},
		ttl:      cmp.Or(o.TokenTTL, DefaultTokenTTL),
		now:      o.Now,
		inj:      emulator.NewInjector(o.Faults),
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Handler serves the emulated API. The caller owns the listener (an
// httptest.Server, emulator.ServeLoopback), as with go-containerregistry's
// registry.New.
func (s *Server) Handler() http.Handler { return s }

// SetFaults replaces the fault injection settings.
func (s *Server) SetFaults(f emulator.Faults) { s.inj.Set(f) }

// Calls returns the per-operation call counter.
func (s *Server) Calls() *emulator.Counter { return &s.calls }

// AddAccount registers an identity that can mint tokens.
func (s *Server) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := a
	s.accounts[a.Identifier] = &cp
}

// RevokeTokens invalidates every token minted so far (the next call with
// one answers 401), as a password or token rotation would.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]token{}
}

// AddRepository creates or replaces a repository.
func (s *Server) AddRepository(r Repository) error {
	for _, rule := range r.ImmutableRules {
		if _, err := regexp.Compile(rule); err != nil {
			return fmt.Errorf("repository %s/%s: rule %q: %w", r.Namespace, r.Name, rule, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	cp := r
	cp.ImmutableRules = append([]string{}, r.ImmutableRules...)
	cp.Tags = map[string]string{}
	for k, v := range r.Tags {
		cp.Tags[k] = v
	}
	s.repos[r.Namespace+"/"+r.Name] = &repo{Repository: cp, registered: now.Add(-24 * time.Hour), updated: now}
	return nil
}

// Settings returns a repository's immutable tags settings.
func (s *Server) Settings(namespace, name string) (enabled bool, rules []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[namespace+"/"+name]
	if !ok {
		return false, nil, false
	}
	return r.ImmutableEnabled, append([]string{}, r.ImmutableRules...), true
}

// DenyNamespace makes every call on namespace answer status (403 by
// default when status is 0); 0 after a deny lifts it with Allow.
func (s *Server) DenyNamespace(namespace string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyNS[namespace] = orForbidden(status)
}

// DenyRepository makes calls on one repository (GET, PATCH, verify)
// answer status (403 when 0). The namespace listing still shows it.
func (s *Server) DenyRepository(namespace, name string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyRepo[namespace+"/"+name] = orForbidden(status)
}

// Allow lifts every deny injection.
func (s *Server) Allow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyNS = map[string]int{}
	s.denyRepo = map[string]int{}
}

func orForbidden(status int) int {
	if status == 0 {
		return http.StatusForbidden
	}
	return status
}

// ErrImmutable is wrapped by Push when an immutable tag would be overwritten.
var ErrImmutable = emulator.ErrTagImmutable

// Push re-points tag in namespace/name to digest in memory, enforcing the
// repository's immutable tags settings like the HTTP push route.
func (s *Server) Push(namespace, name, tag, digest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[namespace+"/"+name]
	if !ok {
		return fmt.Errorf("push %s/%s:%s: repository not found", namespace, name, tag)
	}
	return s.pushLocked(r, tag, digest)
}

func (s *Server) pushLocked(r *repo, tag, digest string) error {
	old, exists := r.Tags[tag]
	if exists && old != digest && tagImmutable(r.ImmutableEnabled, r.ImmutableRules, tag) {
		return fmt.Errorf("push %s/%s:%s: %w", r.Namespace, r.Name, tag, ErrImmutable)
	}
	r.Tags[tag] = digest
	r.updated = s.now().UTC()
	if r.pushed == nil {
		r.pushed = map[string]time.Time{}
	}
	r.pushed[tag] = r.updated
	if old != digest {
		s.logPushLocked(r, tag, digest, r.updated)
	}
	return nil
}

// tagImmutable applies Hub's rules. Hub does not document whether rules
// are anchored; the emulator matches them in full (^(?:rule)$), the
// reading under which `v.*` means "tags starting with v".
func tagImmutable(enabled bool, rules []string, tag string) bool {
	if !enabled {
		return false
	}
	for _, rule := range rules {
		re, err := regexp.Compile("^(?:" + rule + ")$")
		if err == nil && re.MatchString(tag) {
			return true
		}
	}
	return false
}

// ServeHTTP routes one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.rateHeaders(w)
	path := r.URL.Path
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/v2/auth/token":
		if s.fault(w, r) {
			return
		}
		s.calls.Inc(OpAuthToken)
		s.authToken(w, r)
	case len(parts) >= 4 && parts[0] == "v2" && parts[1] == "namespaces" && parts[3] == "repositories":
		if s.fault(w, r) {
			return
		}
		s.namespaceRoute(w, r, parts[2], parts[4:])
	case len(parts) == 3 && parts[0] == "v2" && parts[1] == "auditlogs" && r.Method == http.MethodGet:
		if s.fault(w, r) {
			return
		}
		s.listAuditLogs(w, r, parts[2])
	case len(parts) == 5 && parts[0] == "v2" && parts[3] == "manifests" && r.Method == http.MethodPut:
		if s.fault(w, r) {
			return
		}
		s.calls.Inc(OpPushManifest)
		s.pushManifest(w, r, parts[1], parts[2], parts[4])
	default:
		writeError(w, http.StatusNotFound, "not_found", "page not found")
	}
}

func (s *Server) namespaceRoute(w http.ResponseWriter, r *http.Request, ns string, rest []string) {
	acct, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.calls.Inc(OpListRepositories)
		s.listRepositories(w, r, acct, ns)
	case len(rest) == 1 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.calls.Inc(OpGetRepository)
		s.getRepository(w, r, acct, ns, rest[0])
	case len(rest) == 2 && rest[1] == "tags" && r.Method == http.MethodGet:
		s.calls.Inc(OpListTags)
		s.listTags(w, r, acct, ns, rest[0])
	case len(rest) == 2 && rest[1] == "immutabletags" && r.Method == http.MethodPatch:
		s.calls.Inc(OpUpdateImmutableTags)
		s.updateImmutableTags(w, r, acct, ns, rest[0])
	case len(rest) == 3 && rest[1] == "immutabletags" && rest[2] == "verify" && r.Method == http.MethodPost:
		s.calls.Inc(OpVerifyImmutableTags)
		s.verifyImmutableTags(w, r, acct, ns, rest[0])
	case len(rest) <= 3:
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed")
	default:
		writeError(w, http.StatusNotFound, "not_found", "page not found")
	}
}

// fault applies injected latency, errors and throttling; true means the
// call was answered.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	return emulator.Inject(s.inj, w, r, s.throttled, s.failed)
}

func (s *Server) throttled(w http.ResponseWriter, _ *http.Request) {
	s.calls.Inc(OpThrottled)
	ra := s.inj.Faults().RetryAfter
	// Unlike Inject, set Retry-After on every 429, 0 included.
	w.Header().Set("Retry-After", emulator.RetryAfter(ra))
	// The older spec documented X-Retry-After as a unix timestamp.
	w.Header().Set("X-Retry-After", strconv.FormatInt(s.now().Add(ra).Unix(), 10))
	w.Header().Set("X-RateLimit-Remaining", "0")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "Rate limit exceeded", "error": false})
}

func (s *Server) failed(w http.ResponseWriter, _ *http.Request) {
	s.calls.Inc(OpFailed)
	writeError(w, http.StatusInternalServerError, "internal_error", "internal server error")
}

func (s *Server) rateHeaders(w http.ResponseWriter) {
	reset := s.now().Truncate(time.Minute).Add(time.Minute).Unix()
	w.Header().Set("X-RateLimit-Limit", "600")
	w.Header().Set("X-RateLimit-Remaining", "599")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
}

// --- auth ---

func (s *Server) authToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Identifier *string `json:"identifier"`
		Secret     *string `json:"secret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Identifier == nil || req.Secret == nil {
		writeError(w, http.StatusBadRequest, "bad_request", "identifier and secret are required")
		return
	}
	s.mu.Lock()
	a, ok := s.accounts[*req.Identifier]
	if !ok || a.Secret != *req.Secret {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "unauthorized", "incorrect username or password")
		return
	}
	now := s.now()
	tok := mintJWT(a.Identifier, now, now.Add(s.ttl))
	s.tokens[tok] = token{account: a, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

// mintJWT returns an unsigned-looking JWT whose claims carry iat/exp, like
// Hub's tokens, so clients can read the lifetime.
func mintJWT(sub string, iat, exp time.Time) string {
	enc := base64.RawURLEncoding
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": iat.Unix(), "exp": exp.Unix(), "jti": hex.EncodeToString(jti[:]), "iss": "hub-emulator"})
	sig := sha256.Sum256(append([]byte(head), claims...))
	return head + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig[:])
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*Account, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		writeError(w, http.StatusUnauthorized, "unauthorized", "authentication required")
		return nil, false
	}
	s.mu.Lock()
	t, ok := s.tokens[tok]
	expired := ok && !s.now().Before(t.expires)
	if expired {
		delete(s.tokens, tok)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusUnauthorized, "unauthorized", "invalid token")
		return nil, false
	case expired:
		writeError(w, http.StatusUnauthorized, "unauthorized", "token expired")
		return nil, false
	}
	return t.account, true
}

// access checks deny injection and namespace membership; false means the
// call was answered.
func (s *Server) access(w http.ResponseWriter, a *Account, ns, name string) bool {
	s.mu.Lock()
	st, denied := s.denyNS[ns]
	if !denied && name != "" {
		st, denied = s.denyRepo[ns+"/"+name]
	}
	s.mu.Unlock()
	if denied {
		writeError(w, st, http.StatusText(st), fmt.Sprintf("access to %s denied", strings.TrimSuffix(ns+"/"+name, "/")))
		return false
	}
	if len(a.Namespaces) > 0 && !contains(a.Namespaces, ns) {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("%s has no access to namespace %s", a.Identifier, ns))
		return false
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// --- repositories ---

var orderings = map[string]bool{"name": true, "-name": true, "last_updated": true, "-last_updated": true, "pull_count": true, "-pull_count": true}

func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request, a *Account, ns string) {
	if !s.access(w, a, ns, "") {
		return
	}
	q := r.URL.Query()
	page, size := 1, 10
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeValueError(w, "page", "A valid integer >= 1 is required.")
			return
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeValueError(w, "page_size", "Ensure this value is between 1 and 100.")
			return
		}
		size = n
	}
	if ps := s.inj.Faults().PageSize; ps > 0 && ps < size {
		size = ps
	}
	ordering := q.Get("ordering")
	if ordering != "" && !orderings[ordering] {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"fields": map[string][]string{"ordering": {"Invalid ordering value. Must be one of: name, -name, last_updated, -last_updated, pull_count, -pull_count"}},
			"text":   "Invalid ordering value",
		})
		return
	}
	filter := q.Get("name")

	s.mu.Lock()
	var all []*repo
	for _, rp := range s.repos {
		if rp.Namespace != ns || (a.PublicOnly && rp.Private) || (filter != "" && !strings.Contains(rp.Name, filter)) {
			continue
		}
		all = append(all, rp)
	}
	sortRepos(all, ordering)
	count := len(all)
	start := (page - 1) * size
	if start >= count && page > 1 {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "Invalid page.")
		return
	}
	end := min(start+size, count)
	results := make([]map[string]any, 0, max(end-start, 0))
	for _, rp := range all[min(start, count):end] {
		results = append(results, listEntry(rp))
	}
	s.mu.Unlock()

	link := func(p int) any {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if r.TLS != nil {
			u.Scheme = "https"
		}
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("page_size", strconv.Itoa(size))
		u.RawQuery = v.Encode()
		return u.String()
	}
	var next, prev any
	if end < count {
		next = link(page + 1)
	}
	if page > 1 {
		prev = link(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": count, "next": next, "previous": prev, "results": results})
}

func sortRepos(rs []*repo, ordering string) {
	desc := strings.HasPrefix(ordering, "-")
	key := strings.TrimPrefix(ordering, "-")
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if desc {
			a, b = b, a
		}
		switch key {
		case "last_updated":
			if !a.updated.Equal(b.updated) {
				return a.updated.Before(b.updated)
			}
		case "pull_count":
			if a.pulls != b.pulls {
				return a.pulls < b.pulls
			}
		}
		return a.Name < b.Name
	})
}

const timeFormat = "2006-01-02T15:04:05.000000Z"

func listEntry(r *repo) map[string]any {
	return map[string]any{
		"name":               r.Name,
		"namespace":          r.Namespace,
		"repository_type":    "image",
		"status":             1,
		"status_description": "active",
		"description":        r.Description,
		"is_private":         r.Private,
		"star_count":         0,
		"pull_count":         r.pulls,
		"last_updated":       r.updated.Format(timeFormat),
		"last_modified":      r.updated.Format(timeFormat),
		"date_registered":    r.registered.Format(timeFormat),
		"affiliation":        "",
		"media_types":        []string{"application/vnd.oci.image.index.v1+json"},
		"content_types":      []string{"image"},
		"categories":         []any{},
		"storage_size":       int64(len(r.Tags)) * 12_345_678,
	}
}

func repositoryInfo(r *repo, a *Account) map[string]any {
	return map[string]any{
		"user":               r.Namespace,
		"name":               r.Name,
		"namespace":          r.Namespace,
		"repository_type":    "image",
		"status":             1,
		"status_description": "active",
		"description":        r.Description,
		"is_private":         r.Private,
		"is_automated":       false,
		"star_count":         0,
		"pull_count":         r.pulls,
		"last_updated":       r.updated.Format(timeFormat),
		"last_modified":      r.updated.Format(timeFormat),
		"date_registered":    r.registered.Format(timeFormat),
		"collaborator_count": 0,
		"affiliation":        nil,
		"hub_user":           r.Namespace,
		"has_starred":        false,
		"full_description":   nil,
		"permissions":        map[string]bool{"read": true, "write": a.Admin, "admin": a.Admin},
		"media_types":        []string{"application/vnd.oci.image.index.v1+json"},
		"content_types":      []string{"image"},
		"categories":         []any{},
		"immutable_tags_settings": map[string]any{
			"enabled": r.ImmutableEnabled,
			"rules":   append([]string{}, r.ImmutableRules...),
		},
		"storage_size": int64(len(r.Tags)) * 12_345_678,
		"source":       nil,
	}
}

// lookup finds a repository visible to a; false means answered.
func (s *Server) lookup(w http.ResponseWriter, a *Account, ns, name string) (*repo, bool) {
	if !s.access(w, a, ns, name) {
		return nil, false
	}
	s.mu.Lock()
	rp, ok := s.repos[ns+"/"+name]
	s.mu.Unlock()
	if !ok || (a.PublicOnly && rp.Private) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("repository %s/%s not found", ns, name))
		return nil, false
	}
	return rp, true
}

func (s *Server) getRepository(w http.ResponseWriter, r *http.Request, a *Account, ns, name string) {
	rp, ok := s.lookup(w, a, ns, name)
	if !ok {
		return
	}
	s.mu.Lock()
	info := repositoryInfo(rp, a)
	s.mu.Unlock()
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) updateImmutableTags(w http.ResponseWriter, r *http.Request, a *Account, ns, name string) {
	rp, ok := s.lookup(w, a, ns, name)
	if !ok {
		return
	}
	if !a.Admin {
		writeError(w, http.StatusForbidden, "forbidden", "only repository admins can update immutable tags settings")
		return
	}
	var req struct {
		Enabled *bool     `json:"immutable_tags"`
		Rules   *[]string `json:"immutable_tags_rules"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON body")
		return
	}
	if req.Enabled == nil || req.Rules == nil {
		writeError(w, http.StatusBadRequest, "bad_request", "immutable_tags and immutable_tags_rules are required")
		return
	}
	for _, rule := range *req.Rules {
		if _, err := regexp.Compile(rule); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("invalid immutable tags rule %q: %v", rule, err))
			return
		}
	}
	s.mu.Lock()
	// The whole list is replaced, as the real route does.
	rp.ImmutableEnabled = *req.Enabled
	rp.ImmutableRules = append([]string{}, (*req.Rules)...)
	rp.updated = s.now().UTC()
	info := repositoryInfo(rp, a)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) verifyImmutableTags(w http.ResponseWriter, r *http.Request, a *Account, ns, name string) {
	rp, ok := s.lookup(w, a, ns, name)
	if !ok {
		return
	}
	if !a.Admin {
		writeError(w, http.StatusForbidden, "forbidden", "only repository admins can verify immutable tags rules")
		return
	}
	var req struct {
		Regex string `json:"regex"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Regex == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "regex is required")
		return
	}
	if _, err := regexp.Compile(req.Regex); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("invalid regex %q: %v", req.Regex, err))
		return
	}
	s.mu.Lock()
	tags := []string{}
	for t := range rp.Tags {
		if tagImmutable(true, []string{req.Regex}, t) {
			tags = append(tags, t)
		}
	}
	s.mu.Unlock()
	sort.Strings(tags)
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

// pushManifest simulates the registry side of a push (registry-1.docker.io
// on the real service): the manifest digest is the sha256 of the body.
func (s *Server) pushManifest(w http.ResponseWriter, r *http.Request, ns, name, tag string) {
	a, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	rp, ok := s.lookup(w, a, ns, name)
	if !ok {
		return
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		h.Write(buf[:n])
		if err != nil {
			break
		}
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	err := s.pushLocked(rp, tag, digest)
	s.mu.Unlock()
	if errors.Is(err, ErrImmutable) {
		// Hub's exact status for this refusal is not documented; the
		// registry answers a 4xx with an OCI-style error body.
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]string{{
			"code":    "TAG_IMMUTABLE",
			"message": fmt.Sprintf("tag=%s cannot be overwritten because %s/%s has immutable tags", tag, ns, name),
		}}})
		return
	}
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Location", fmt.Sprintf("/v2/%s/%s/manifests/%s", ns, name, digest))
	w.WriteHeader(http.StatusCreated)
}

// --- responses ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, v)
}

// writeError answers with the spec's `error` schema.
func writeError(w http.ResponseWriter, status int, message, detail string) {
	writeJSON(w, status, map[string]any{"errinfo": map[string]any{}, "detail": detail, "message": strings.ToLower(strings.ReplaceAll(message, " ", "_"))})
}

func writeValueError(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"fields": map[string][]string{field: {msg}}, "text": msg})
}

// listTags is GET /v2/namespaces/{ns}/repositories/{name}/tags: each tag
// with its manifest digest (for a multi-arch image, the index digest; the
// per-platform digests are in images[]), media_type and tag_last_pushed,
// paged like the repository listing (page, page_size <= 100, next URL).
func (s *Server) listTags(w http.ResponseWriter, r *http.Request, a *Account, ns, name string) {
	rp, ok := s.lookup(w, a, ns, name)
	if !ok {
		return
	}
	q := r.URL.Query()
	page, size := 1, 10
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeValueError(w, "page", "A valid integer >= 1 is required.")
			return
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeValueError(w, "page_size", "Ensure this value is between 1 and 100.")
			return
		}
		size = n
	}
	s.mu.Lock()
	names := make([]string, 0, len(rp.Tags))
	for t := range rp.Tags {
		names = append(names, t)
	}
	// Hub lists the most recently pushed first.
	pushedAt := func(t string) time.Time {
		if p, ok := rp.pushed[t]; ok {
			return p
		}
		return rp.registered
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := pushedAt(names[i]), pushedAt(names[j])
		if !a.Equal(b) {
			return a.After(b)
		}
		return names[i] < names[j]
	})
	count := len(names)
	start := (page - 1) * size
	if start >= count && page > 1 {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "Invalid page.")
		return
	}
	end := min(start+size, count)
	results := make([]map[string]any, 0, max(end-start, 0))
	for i, t := range names[min(start, count):end] {
		d, at := rp.Tags[t], pushedAt(t).Format(timeFormat)
		results = append(results, map[string]any{
			"id": start + i + 1, "name": t, "digest": d,
			"media_type": "application/vnd.oci.image.index.v1+json", "content_type": "image",
			"images": []map[string]any{{"architecture": "amd64", "os": "linux", "digest": platformDigest(d), "size": 12_345_678,
				"status": "active", "last_pushed": at, "last_pulled": nil}},
			"creator": 1, "last_updated": at, "last_updater": 1, "last_updater_username": ns,
			"repository": 1, "full_size": 12_345_678, "v2": true, "tag_status": "active",
			"tag_last_pushed": at, "tag_last_pulled": nil,
		})
	}
	s.mu.Unlock()
	link := func(p int) any {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if r.TLS != nil {
			u.Scheme = "https"
		}
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("page_size", strconv.Itoa(size))
		u.RawQuery = v.Encode()
		return u.String()
	}
	var next, prev any
	if end < count {
		next = link(page + 1)
	}
	if page > 1 {
		prev = link(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": count, "next": next, "previous": prev, "results": results})
}

// platformDigest stands in for the amd64 manifest inside an index: a
// digest that differs from the index's, as on the real service.
func platformDigest(index string) string {
	sum := sha256.Sum256([]byte("linux/amd64 " + index))
	return "sha256:" + hex.EncodeToString(sum[:])
}
