// Package gitlab emulates the parts of GitLab that immutag uses: the REST
// API v4 for group projects (include_subgroups) and project container
// repositories, the GraphQL operations on container protection tag rules
// and repository tags, and a registry v2 manifest push so a demo can show
// an overwrite refused once an immutable rule covers the tag.
//
// Shapes follow GitLab's documentation (doc/api/groups.md,
// doc/api/container_registry.md) and GraphQL types
// (ContainerProtectionTagRule, ContainerRepositoryTag): offset pagination
// with page/per_page (default 20, max 100) and X-Next-Page/X-Total/Link
// headers, {"message": "404 Project Not Found"} error bodies, PRIVATE-TOKEN
// or Bearer authentication, 429 with Retry-After and RateLimit-* headers,
// and GraphQL answering refusals with HTTP 200 and "errors". Rule creation
// applies CreateTagRuleService's checks in its order: Maintainer role, the
// five-rule limit, then for immutable rules (both access levels null) the
// Owner role on an Ultimate project; patterns are RE2 of at most 100
// characters, unique per project. The GraphQL endpoint recognises the
// operations immutag sends, not arbitrary GraphQL.
//
// Everything is in memory and safe for concurrent use.
package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// Roles a token can hold on a project (GitLab access levels).
const (
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// Options configure a Server.
type Options struct {
	// Token is the only accepted access token. Required.
	Token string
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// Rule is a container protection tag rule. Nil access levels on both
// sides make an immutable rule.
type Rule struct {
	ID          int64
	Pattern     string
	PushLevel   *string // MAINTAINER, OWNER, ADMIN
	DeleteLevel *string
}

// Immutable reports whether the rule is an immutable rule.
func (r Rule) Immutable() bool { return r.PushLevel == nil && r.DeleteLevel == nil }

type tag struct {
	digest  string
	created time.Time
}

type repo struct {
	id   int64
	name string
	path string
	tags map[string]tag
}

// Project options for AddProject.
type Project struct {
	// Role is the token's access level on the project (default Owner).
	Role int
	// Free marks a project on a tier without immutable tag rules.
	Free bool
	// RegistryDisabled marks container_registry_access_level "disabled".
	RegistryDisabled bool
}

type project struct {
	id    int64
	path  string
	group string
	opts  Project
	repos []*repo
	rules []Rule
}

type group struct {
	id   int64
	path string
}

// Server is one emulated GitLab instance.
type Server struct {
	// Faults injects latency, errors and 429s into every API call.
	faults *emulator.Injector
	// Calls counts API calls by operation (listGroupProjects,
	// listRegistryRepositories, graphql:containerProtectionTagRules,
	// graphql:createContainerProtectionTagRule, graphql:containerRepositoryTags,
	// pushManifest).
	calls *emulator.Counter

	token string

	mu       sync.Mutex
	groups   map[string]*group
	projects map[string]*project
	denied   map[string]bool
	seq      int64

	handler http.Handler
}

// New returns a Server with no groups.
func New(o Options) *Server {
	s := &Server{faults: emulator.NewInjector(o.Faults), calls: &emulator.Counter{}, token: o.Token,
		groups: map[string]*group{}, projects: map[string]*project{}, denied: map[string]bool{}}
	s.handler = s.routes()
	return s
}

// AddGroup creates a group (and its parents) by full path.
func (s *Server) AddGroup(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(path, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if _, ok := s.groups[p]; !ok {
			s.seq++
			s.groups[p] = &group{id: s.seq, path: p}
		}
	}
}

// AddProject creates a project by full path; its group must exist.
func (s *Server) AddProject(path string, o Project) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := strings.LastIndex(path, "/")
	if i <= 0 {
		return fmt.Errorf("gitlab emulator: project %q needs a group", path)
	}
	if _, ok := s.groups[path[:i]]; !ok {
		return fmt.Errorf("gitlab emulator: group %q does not exist", path[:i])
	}
	if o.Role == 0 {
		o.Role = Owner
	}
	s.seq++
	s.projects[path] = &project{id: s.seq, path: path, group: path[:i], opts: o}
	return nil
}

// AddRepo creates a container repository ("" is the project's root image)
// with the given tags.
func (s *Server) AddRepo(projectPath, name string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectPath]
	if !ok {
		return fmt.Errorf("gitlab emulator: project %q does not exist", projectPath)
	}
	r := s.repoLocked(p, name)
	for _, t := range tags {
		s.seq++
		r.tags[t] = tag{digest: digestOf(fmt.Sprintf("%s:%s#%d", r.path, t, s.seq)), created: time.Now().UTC()}
	}
	return nil
}

// AddRule stores a rule directly (seeding), bypassing role and tier checks
// but not the limits; it returns the rule's id.
func (s *Server) AddRule(projectPath string, r Rule) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectPath]
	if !ok {
		return 0, fmt.Errorf("gitlab emulator: project %q does not exist", projectPath)
	}
	if msg := s.validateLocked(p, r); msg != "" {
		return 0, fmt.Errorf("gitlab emulator: %s", msg)
	}
	s.seq++
	r.ID = s.seq
	p.rules = append(p.rules, r)
	return r.ID, nil
}

// SetRole changes the token's access level on a project (Reporter, 20,
// can read neither tag rules nor, here, repositories).
func (s *Server) SetRole(projectPath string, role int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[projectPath]; ok {
		p.opts.Role = role
	}
}

// Rules returns a copy of a project's rules.
func (s *Server) Rules(projectPath string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[projectPath]; ok {
		return slices.Clone(p.rules)
	}
	return nil
}

// Deny makes every call about a project answer as if the token could not
// see it (deny=true), or behave normally again.
func (s *Server) Deny(projectPath string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[projectPath] = true
	} else {
		delete(s.denied, projectPath)
	}
}

// Digest returns the digest a tag points to ("" when absent).
func (s *Server) Digest(repoPath, t string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, r := s.findRepoLocked(repoPath)
	if r == nil {
		return ""
	}
	return r.tags[t].digest
}

func digestOf(s string) string { return sha([]byte(s)) }

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func (s *Server) repoLocked(p *project, name string) *repo {
	path := p.path
	if name != "" {
		path += "/" + name
	}
	for _, r := range p.repos {
		if r.path == path {
			return r
		}
	}
	s.seq++
	r := &repo{id: s.seq, name: name, path: path, tags: map[string]tag{}}
	p.repos = append(p.repos, r)
	return r
}

func (s *Server) findRepoLocked(path string) (*project, *repo) {
	for _, p := range s.projects {
		for _, r := range p.repos {
			if r.path == path {
				return p, r
			}
		}
	}
	return nil, nil
}

// validateLocked applies the model validations of a tag rule.
func (s *Server) validateLocked(p *project, r Rule) string {
	if len(p.rules) >= 5 {
		return "Maximum number of protection rules have been reached."
	}
	if r.Pattern == "" {
		return "Tag name pattern can't be blank"
	}
	if len(r.Pattern) > 100 {
		return "Tag name pattern is too long (maximum is 100 characters)"
	}
	if _, err := regexp.Compile(r.Pattern); err != nil {
		return "Tag name pattern not valid RE2 syntax: " + err.Error()
	}
	if (r.PushLevel == nil) != (r.DeleteLevel == nil) {
		return "Access levels should either both be present or both be nil"
	}
	for _, x := range p.rules {
		if x.Pattern == r.Pattern {
			return "Tag name pattern has already been taken"
		}
	}
	return ""
}

// immutableTag says whether an immutable rule of p covers tag (GitLab
// matches the pattern as an unanchored RE2 search).
func immutableTag(p *project, t string) bool {
	for _, r := range p.rules {
		if !r.Immutable() {
			continue
		}
		if re, err := regexp.Compile(r.Pattern); err == nil && re.MatchString(t) {
			return true
		}
	}
	return false
}

// TagImmutable reports whether an existing tag could not be overwritten.
func (s *Server) TagImmutable(repoPath, t string) (immutable, exists bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, r := s.findRepoLocked(repoPath)
	if r == nil {
		return false, false
	}
	if _, ok := r.tags[t]; !ok {
		return false, false
	}
	return immutableTag(p, t), true
}

// ---- HTTP ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, h http.HandlerFunc) { mux.Handle(pattern, s.wrap(op, h)) }
	api("GET /api/v4/groups/{id}/projects", "listGroupProjects", s.listGroupProjects)
	api("GET /api/v4/projects/{id}/registry/repositories", "listRegistryRepositories", s.listRepositories)
	api("POST /api/graphql", "graphql", s.graphql)
	mux.Handle("PUT /v2/{path...}", s.registry(s.pushManifest))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	})
	return mux
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, map[string]string{"message": msg})
}

func (s *Server) authorized(r *http.Request) bool {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

// wrap applies, in order: counting, fault injection and authentication.
func (s *Server) wrap(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		if emulator.Inject(s.faults, w, r, throttled, failed) {
			return
		}
		if !s.authorized(r) {
			writeMessage(w, http.StatusUnauthorized, "401 Unauthorized")
			return
		}
		h(w, r)
	})
}

func throttled(w http.ResponseWriter, _ *http.Request) {
	// GitLab.com's rate limiter answers plain text with RateLimit-* headers.
	w.Header().Set("RateLimit-Limit", "2000")
	w.Header().Set("RateLimit-Remaining", "0")
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, "Retry later\n")
}

func failed(w http.ResponseWriter, _ *http.Request) {
	writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
}

// page reads page/per_page (default 20, max 100) the way the API does.
func page(r *http.Request) (pg, per int) {
	pg, _ = strconv.Atoi(r.URL.Query().Get("page"))
	per, _ = strconv.Atoi(r.URL.Query().Get("per_page"))
	if pg < 1 {
		pg = 1
	}
	if per < 1 {
		per = 20
	}
	return pg, min(per, 100)
}

// paginate slices n items and sets GitLab's offset pagination headers.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	pg, per := page(r)
	if f := s.faults.Faults().PageSize; f > 0 {
		per = min(per, f)
	}
	pages := max(1, int(math.Ceil(float64(n)/float64(per))))
	lo, hi = min(n, (pg-1)*per), min(n, pg*per)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(pg))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(n))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	next := ""
	if pg < pages {
		next = strconv.Itoa(pg + 1)
		q := r.URL.Query()
		q.Set("page", next)
		q.Set("per_page", strconv.Itoa(per))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		h.Set("Link", "<"+u.String()+`>; rel="next"`)
	}
	h.Set("X-Next-Page", next)
	return lo, hi
}

// lookupGroup resolves an :id that is a number or a URL-encoded path.
func (s *Server) lookupGroup(id string) *group {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		for _, g := range s.groups {
			if g.id == n {
				return g
			}
		}
		return nil
	}
	return s.groups[id]
}

func (s *Server) lookupProject(id string) *project {
	var p *project
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		for _, x := range s.projects {
			if x.id == n {
				p = x
			}
		}
	} else {
		p = s.projects[id]
	}
	if p == nil || s.denied[p.path] {
		return nil
	}
	return p
}

func (s *Server) listGroupProjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookupGroup(r.PathValue("id"))
	if g == nil {
		writeMessage(w, http.StatusNotFound, "404 Group Not Found")
		return
	}
	sub := r.URL.Query().Get("include_subgroups") == "true"
	var ps []*project
	for _, p := range s.projects {
		if p.group == g.path || (sub && strings.HasPrefix(p.group, g.path+"/")) {
			ps = append(ps, p)
		}
	}
	// Default order: created_at desc; ids grow with creation.
	sort.Slice(ps, func(i, j int) bool { return ps[i].id > ps[j].id })
	lo, hi := s.paginate(w, r, len(ps))
	out := make([]map[string]any, 0, hi-lo)
	for _, p := range ps[lo:hi] {
		level := "enabled"
		if p.opts.RegistryDisabled {
			level = "disabled"
		}
		name := p.path[strings.LastIndex(p.path, "/")+1:]
		out = append(out, map[string]any{
			"id": p.id, "name": name, "path": name, "path_with_namespace": p.path,
			"container_registry_enabled": !p.opts.RegistryDisabled, "container_registry_access_level": level,
			"archived": false,
		})
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProject(r.PathValue("id"))
	if p == nil {
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	if p.opts.Role < Developer {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	lo, hi := s.paginate(w, r, len(p.repos))
	out := make([]map[string]any, 0, hi-lo)
	for _, rp := range p.repos[lo:hi] {
		out = append(out, map[string]any{
			"id": rp.id, "name": rp.name, "path": rp.path, "project_id": p.id,
			"location": r.Host + "/" + rp.path, "created_at": "2026-01-01T00:00:00.000Z",
		})
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

// ---- GraphQL ----

type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

func gqlData(w http.ResponseWriter, data any) {
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"data": data})
}

func gqlError(w http.ResponseWriter, msg string) {
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"errors": []map[string]any{{"message": msg}}})
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	var req gqlRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Query == "" {
		gqlError(w, "No query string was present")
		return
	}
	q := req.Query
	switch {
	case strings.Contains(q, "createContainerProtectionTagRule("):
		s.calls.Inc("graphql:createContainerProtectionTagRule")
		s.gqlCreateRule(w, req.Variables)
	case strings.Contains(q, "containerProtectionTagRules("):
		s.calls.Inc("graphql:containerProtectionTagRules")
		s.gqlRules(w, req.Variables)
	case strings.Contains(q, "containerRepository(") && strings.Contains(q, "tags("):
		s.calls.Inc("graphql:containerRepositoryTags")
		s.gqlTags(w, req.Variables)
	default:
		gqlError(w, "the GitLab emulator does not implement this operation")
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func cursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(i)))
}

func fromCursor(c string) int {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
	return n
}

func level(l *string) any {
	if l == nil {
		return nil
	}
	return *l
}

func ruleJSON(r Rule) map[string]any {
	return map[string]any{
		"id":                          fmt.Sprintf("gid://gitlab/ContainerRegistry::Protection::TagRule/%d", r.ID),
		"tagNamePattern":              r.Pattern,
		"minimumAccessLevelForPush":   level(r.PushLevel),
		"minimumAccessLevelForDelete": level(r.DeleteLevel),
		"immutable":                   r.Immutable(),
	}
}

func (s *Server) gqlRules(w http.ResponseWriter, vars map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProject(str(vars["fullPath"]))
	if p == nil {
		gqlData(w, map[string]any{"project": nil})
		return
	}
	if p.opts.Role < Maintainer {
		// Fields the user may not read resolve to null.
		gqlData(w, map[string]any{"project": map[string]any{"containerProtectionTagRules": nil}})
		return
	}
	start := 0
	if a := str(vars["after"]); a != "" {
		start = fromCursor(a) + 1
	}
	nodes := []map[string]any{}
	for i := start; i < len(p.rules); i++ {
		nodes = append(nodes, ruleJSON(p.rules[i]))
	}
	end := ""
	if len(p.rules) > 0 {
		end = cursor(len(p.rules) - 1)
	}
	gqlData(w, map[string]any{"project": map[string]any{"containerProtectionTagRules": map[string]any{
		"nodes": nodes, "pageInfo": map[string]any{"endCursor": end, "hasNextPage": false},
	}}})
}

func (s *Server) gqlCreateRule(w http.ResponseWriter, vars map[string]any) {
	in, _ := vars["input"].(map[string]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProject(str(in["projectPath"]))
	if p == nil {
		gqlError(w, "The resource that you are attempting to access does not exist or you don't have permission to perform this action")
		return
	}
	reply := func(rule any, errs ...string) {
		if errs == nil {
			errs = []string{}
		}
		gqlData(w, map[string]any{"createContainerProtectionTagRule": map[string]any{"containerProtectionTagRule": rule, "errors": errs}})
	}
	r := Rule{Pattern: str(in["tagNamePattern"])}
	if v, ok := in["minimumAccessLevelForPush"].(string); ok {
		r.PushLevel = &v
	}
	if v, ok := in["minimumAccessLevelForDelete"].(string); ok {
		r.DeleteLevel = &v
	}
	switch {
	case p.opts.Role < Maintainer:
		reply(nil, "Unauthorized to create a protection rule for container image tags")
		return
	case len(p.rules) >= 5:
		reply(nil, "Maximum number of protection rules have been reached.")
		return
	case r.Immutable() && (p.opts.Free || p.opts.Role < Owner):
		reply(nil, "Unauthorized to create an immutable protection rule for container image tags")
		return
	}
	if msg := s.validateLocked(p, r); msg != "" {
		reply(nil, msg)
		return
	}
	s.seq++
	r.ID = s.seq
	p.rules = append(p.rules, r)
	reply(ruleJSON(r))
}

func (s *Server) gqlTags(w http.ResponseWriter, vars map[string]any) {
	id := str(vars["id"])
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "gid://gitlab/ContainerRepository/"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "gid://gitlab/ContainerRepository/") {
		gqlError(w, fmt.Sprintf("%q does not represent an instance of ContainerRepository", id))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rp *repo
	for _, p := range s.projects {
		if s.denied[p.path] {
			continue
		}
		for _, x := range p.repos {
			if x.id == n {
				rp = x
			}
		}
	}
	if rp == nil {
		gqlData(w, map[string]any{"containerRepository": nil})
		return
	}
	names := make([]string, 0, len(rp.tags))
	for t := range rp.tags {
		names = append(names, t)
	}
	sort.Strings(names)
	start := 0
	if a := str(vars["after"]); a != "" {
		start = fromCursor(a) + 1
	}
	size := 20 // max_page_size of the tags connection
	if f := s.faults.Faults().PageSize; f > 0 {
		size = min(size, f)
	}
	end := min(len(names), start+size)
	nodes := []map[string]any{}
	for _, t := range names[min(start, end):end] {
		tg := rp.tags[t]
		ts := tg.created.Format(time.RFC3339)
		nodes = append(nodes, map[string]any{"name": t, "digest": tg.digest, "createdAt": ts, "publishedAt": ts})
	}
	gqlData(w, map[string]any{"containerRepository": map[string]any{"tags": map[string]any{
		"nodes": nodes, "pageInfo": map[string]any{"endCursor": cursor(end - 1), "hasNextPage": end < len(names)},
	}}})
}

// ---- registry ----

// registry checks Basic credentials (any user name, the token as password,
// as with `docker login` and a personal access token).
func (s *Server) registry(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc("pushManifest")
		_, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(s.token)) != 1 {
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
		h(w, r)
	})
}

func registryError(w http.ResponseWriter, status int, code, msg string) {
	emulator.RegistryError(w, status, code, msg)
}

func (s *Server) pushManifest(w http.ResponseWriter, r *http.Request) {
	repoPath, ref, body, ok := emulator.ManifestPut(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *project
	for _, x := range s.projects {
		if repoPath == x.path || strings.HasPrefix(repoPath, x.path+"/") {
			if p == nil || len(x.path) > len(p.path) {
				p = x
			}
		}
	}
	if p == nil {
		registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	name := strings.TrimPrefix(strings.TrimPrefix(repoPath, p.path), "/")
	rp := s.repoLocked(p, name)
	if _, exists := rp.tags[ref]; exists && immutableTag(p, ref) {
		registryError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("tag %s is protected by an immutable tag rule", ref))
		return
	}
	d := sha(body)
	rp.tags[ref] = tag{digest: d, created: time.Now().UTC()}
	w.Header().Set("Docker-Content-Digest", d)
	w.WriteHeader(http.StatusCreated)
}

// SetFaults replaces the injected faults (tests change them mid-run).
func (s *Server) SetFaults(f emulator.Faults) { s.faults.Set(f) }

// Calls counts the API calls served, by operation.
func (s *Server) Calls() *emulator.Counter { return s.calls }

// Handler serves the emulated API. The caller owns the listener (an
// httptest.Server, emulator.ServeLoopback), as with go-containerregistry's
// registry.New.
func (s *Server) Handler() http.Handler { return s.handler }
