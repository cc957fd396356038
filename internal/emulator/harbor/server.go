// Package harbor emulates the parts of the Harbor v2.0 REST API that
// immutag uses (projects, repositories, project immutable tag rules) plus a
// minimal registry v2 manifest push so a demo can show an overwrite refused
// with 412 once a rule covers the tag.
//
// Shapes follow api/v2.0/swagger.yaml (checked by the adapter's contract
// test) and the server's observed behaviour: error bodies
// {"errors":[{"code","message"}]}, page/page_size (max 100) with
// X-Total-Count and a relative Link header, 201 + Location on create, the
// duplicate-rule 409 on the serialised rule, and the PUT quirk that only
// toggles "disabled" when it differs from the stored value.
//
// Everything is in memory and safe for concurrent use.
package harbor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/immutag/immutag/internal/emulator"
)

// Options configure a Server.
type Options struct {
	// Username and Password are the only accepted Basic credentials. Required.
	Username, Password string
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// Selector is Harbor's ImmutableSelector.
type Selector struct {
	Kind       string `json:"kind"`
	Decoration string `json:"decoration"`
	Pattern    string `json:"pattern"`
	Extras     string `json:"extras,omitempty"`
}

// Rule is Harbor's ImmutableRule as the list route returns it: go-swagger
// drops zero values, so "disabled": false and "priority": 0 are absent.
type Rule struct {
	ID             int64                 `json:"id,omitempty"`
	Priority       int64                 `json:"priority,omitempty"`
	Disabled       bool                  `json:"disabled,omitempty"`
	Action         string                `json:"action,omitempty"`
	Template       string                `json:"template,omitempty"`
	TagSelectors   []Selector            `json:"tag_selectors,omitempty"`
	ScopeSelectors map[string][]Selector `json:"scope_selectors,omitempty"`
}

type storedRule struct {
	Rule
	// filter is the serialised rule as created (Harbor's tag_filter column,
	// UNIQUE per project); a toggle of disabled does not change it.
	filter string
}

type repo struct {
	id      int64
	name    string // without the project prefix
	tags    map[string]string
	created time.Time
	// pushed is when each tag was last pushed (Tag.push_time).
	pushed map[string]time.Time
}

type project struct {
	id       int64
	name     string
	public   bool
	registry int64 // proxy-cache upstream registry id, 0 = normal project
	created  time.Time
	repos    map[string]*repo
	rules    []*storedRule
}

// Server is one emulated Harbor instance.
type Server struct {
	// Faults injects latency, errors and 429s into every API call.
	faults *emulator.Injector
	// Calls counts API calls by swagger operationId (listProjects,
	// CreateImmuRule, UpdateImmuRule, ...), throttled and failed ones included.
	calls *emulator.Counter

	user, pass string

	mu       sync.Mutex
	projects map[string]*project
	byID     map[int64]*project
	denied   map[string]bool
	seq      int64
	audit    auditLog

	handler http.Handler
}

// New returns a Server with no projects.
func New(o Options) *Server {
	s := &Server{
		faults:   emulator.NewInjector(o.Faults),
		calls:    &emulator.Counter{},
		user:     o.Username,
		pass:     o.Password,
		projects: map[string]*project{},
		byID:     map[int64]*project{},
		denied:   map[string]bool{},
	}
	s.handler = s.routes()
	return s
}

// AddProject creates a project and returns its id (the existing id if it exists).
func (s *Server) AddProject(name string, public bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[name]; ok {
		return p.id
	}
	s.seq++
	p := &project{id: s.seq, name: name, public: public, created: time.Now().UTC(), repos: map[string]*repo{}}
	s.projects[name] = p
	s.byID[p.id] = p
	return p.id
}

// AddRepo creates project/name (name without the project prefix, may
// contain "/") with the given tags.
func (s *Server) AddRepo(proj, name string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		return fmt.Errorf("harbor emulator: project %q does not exist", proj)
	}
	r := s.repoLocked(p, name)
	for _, t := range tags {
		s.seq++
		r.tags[t] = digestOf([]byte(fmt.Sprintf("%s/%s:%s#%d", proj, name, t, s.seq)))
		r.setPushed(t, time.Now().UTC())
		s.logPushLocked(proj, name, t, r.tags[t], time.Now())
	}
	return nil
}

func (r *repo) setPushed(tag string, at time.Time) {
	if r.pushed == nil {
		r.pushed = map[string]time.Time{}
	}
	r.pushed[tag] = at
}

// AddRule stores a rule directly (seeding), disabled or not, and returns its id.
func (s *Server) AddRule(proj string, r Rule) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		return 0, fmt.Errorf("harbor emulator: project %q does not exist", proj)
	}
	id, msg := s.createRuleLocked(p, r)
	if msg != "" {
		return 0, errors.New(msg)
	}
	if r.Disabled {
		p.rules[len(p.rules)-1].Disabled = true
	}
	return id, nil
}

// SetProxyCache marks a project as a proxy cache of upstream registry id
// (its registry_id), as Harbor does for pull-through projects.
func (s *Server) SetProxyCache(proj string, registryID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[proj]; ok {
		p.registry = registryID
	}
}

// Rules returns a copy of a project's rules in id order.
func (s *Server) Rules(proj string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		return nil
	}
	out := make([]Rule, 0, len(p.rules))
	for _, r := range p.rules {
		out = append(out, cloneRule(r.Rule))
	}
	return out
}

// Deny makes every call about project proj answer 403 (deny=true) or behave
// normally again.
// ProjectNames lists the projects, sorted.
func (s *Server) ProjectNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.projects))
}

func (s *Server) Deny(proj string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[proj] = true
	} else {
		delete(s.denied, proj)
	}
}

// TagImmutable reports whether a tag exists and whether Harbor would refuse
// to overwrite it.
func (s *Server) TagImmutable(proj, name, t string) (immutable, exists bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		return false, false
	}
	r, ok := p.repos[name]
	if !ok {
		return false, false
	}
	if _, ok := r.tags[t]; !ok {
		return false, false
	}
	return Immutable(ruleList(p), name, t), true
}

// PushTag pushes a new image to proj/name:tag through the registry v2 API
// (served in process, so that it works however the caller listens). An
// overwrite refused because the tag is immutable returns an error wrapping
// emulator.ErrTagImmutable.
func (s *Server) PushTag(ctx context.Context, proj, name, t string) error {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	rep, err := emulator.PushManifestTo(ctx, s.handler, "", proj+"/"+name, t, s.user, s.pass, hex.EncodeToString(nonce))
	if err != nil {
		return fmt.Errorf("push %s/%s:%s: %w", proj, name, t, err)
	}
	switch {
	case rep.Status == http.StatusPreconditionFailed:
		return fmt.Errorf("push %s/%s:%s: %s: %w", proj, name, t, rep.Message, emulator.ErrTagImmutable)
	case rep.Status/100 != 2:
		return fmt.Errorf("push %s/%s:%s: HTTP %d: %s", proj, name, t, rep.Status, rep.Message)
	}
	return nil
}

// Immutable says whether tag of repository name (without the project
// prefix) is immutable under rules, with Harbor's matcher semantics:
// enabled rules OR-ed, only scope_selectors.repository[0] and
// tag_selectors[0] consulted, doublestar full match, empty pattern = all.
func Immutable(rules []Rule, name, tag string) bool {
	for _, r := range rules {
		if r.Disabled || len(r.TagSelectors) == 0 || len(r.ScopeSelectors["repository"]) == 0 {
			continue
		}
		rs, ts := r.ScopeSelectors["repository"][0], r.TagSelectors[0]
		var repoOK, tagOK bool
		switch rs.Decoration {
		case "repoMatches":
			repoOK = match(rs.Pattern, name)
		case "repoExcludes":
			repoOK = !match(rs.Pattern, name)
		}
		switch ts.Decoration {
		case "matches":
			tagOK = match(ts.Pattern, tag)
		case "excludes":
			tagOK = !match(ts.Pattern, tag)
		}
		if repoOK && tagOK {
			return true
		}
	}
	return false
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := doublestar.Match(pattern, s)
	return err == nil && ok
}

// ---- state helpers (s.mu held) ----

func (s *Server) repoLocked(p *project, name string) *repo {
	r, ok := p.repos[name]
	if !ok {
		s.seq++
		r = &repo{id: s.seq, name: name, tags: map[string]string{}, created: time.Now().UTC()}
		p.repos[name] = r
	}
	return r
}

func ruleList(p *project) []Rule {
	out := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.Rule
	}
	return out
}

func cloneRule(r Rule) Rule {
	r.TagSelectors = slices.Clone(r.TagSelectors)
	sc := make(map[string][]Selector, len(r.ScopeSelectors))
	for k, v := range r.ScopeSelectors {
		sc[k] = slices.Clone(v)
	}
	r.ScopeSelectors = sc
	return r
}

// serialise mirrors the tag_filter column: the rule with project id, id 0
// and disabled false, as JSON (map keys sorted by encoding/json).
func serialise(projectID int64, r Rule) string {
	r.ID, r.Disabled = 0, false
	b, _ := json.Marshal(struct {
		Rule
		ProjectID int64 `json:"project_id"`
	}{r, projectID})
	return string(b)
}

func (s *Server) createRuleLocked(p *project, r Rule) (int64, string) {
	r = cloneRule(r)
	f := serialise(p.id, r)
	for _, x := range p.rules {
		if x.filter == f {
			return 0, "immutable rule already exists"
		}
	}
	s.seq++
	r.ID, r.Disabled = s.seq, false
	p.rules = append(p.rules, &storedRule{Rule: r, filter: f})
	return r.ID, ""
}

// ---- HTTP ----

const apiBase = "/api/v2.0"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, h http.HandlerFunc) { mux.Handle(pattern, s.wrap(op, h)) }
	api("GET "+apiBase+"/projects", "listProjects", s.listProjects)
	api("GET "+apiBase+"/projects/{project_name_or_id}", "getProject", s.getProject)
	api("GET "+apiBase+"/projects/{project_name}/repositories", "listRepositories", s.listRepositories)
	api("GET "+apiBase+"/projects/{project_name_or_id}/immutabletagrules", "ListImmuRules", s.listRules)
	api("GET "+apiBase+"/projects/{project_name}/repositories/{repository_name}/artifacts", "listArtifacts", s.listArtifacts)
	api("POST "+apiBase+"/projects/{project_name_or_id}/immutabletagrules", "CreateImmuRule", s.createRule)
	api("PUT "+apiBase+"/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", "UpdateImmuRule", s.updateRule)
	api("DELETE "+apiBase+"/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}", "DeleteImmuRule", s.deleteRule)
	api("GET "+apiBase+"/projects/{project_name}/auditlog-exts", "getLogExts", s.listAuditLogs)
	api("PUT /v2/{path...}", "pushManifest", s.pushManifest)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", "not found")
	})
	return mux
}

type errorsBody struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func requestID(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	emulator.WriteJSON(w, status, emulator.ContentJSONUTF8, v)
}

// writeError writes Harbor's error body; statuses >= 500 are masked as
// UNKNOWN "internal server error" like src/lib/http/error.go does.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if status >= 500 {
		code, msg = "UNKNOWN", "internal server error"
	}
	requestID(w, r)
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func throttled(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusTooManyRequests, "TOO_MANY_REQUEST", "too many requests")
}

func failed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusInternalServerError, "UNKNOWN", "injected failure")
}

// wrap applies, in order: counting, fault injection, authentication and
// per-project denial.
func (s *Server) wrap(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		if emulator.Inject(s.faults, w, r, throttled, failed) {
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || s.user == "" ||
			subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) != 1 {
			if op == "pushManifest" {
				w.Header().Set("Www-Authenticate", `Basic realm="harbor"`)
			}
			writeError(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
			return
		}
		h(w, r)
	})
}

// projectLocked resolves {project_name_or_id} / {project_name}; it writes
// the 404 or 403 itself and returns nil then.
func (s *Server) projectLocked(w http.ResponseWriter, r *http.Request, byNameOnly bool) *project {
	key := r.PathValue("project_name_or_id")
	if byNameOnly {
		key = r.PathValue("project_name")
	}
	var p *project
	if id, err := strconv.ParseInt(key, 10, 64); err == nil && !byNameOnly && r.Header.Get("X-Is-Resource-Name") != "true" {
		p = s.byID[id]
	} else {
		p = s.projects[key]
	}
	if p == nil {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", key))
		return nil
	}
	if s.denied[p.name] {
		writeError(w, r, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return nil
	}
	return p
}

// paging reads page/page_size (Harbor defaults 1 and 10, max 100) and caps
// the size with the injected PageSize; ok=false means a 422 was sent.
func (s *Server) paging(w http.ResponseWriter, r *http.Request) (page, size int, ok bool) {
	page, size = 1, 10
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "page in query should be greater than or equal to 1")
			return 0, 0, false
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			writeError(w, r, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "page_size in query should be less than or equal to 100")
			return 0, 0, false
		}
		if n > 0 {
			size = n
		}
	}
	if ps := s.faults.Faults().PageSize; ps > 0 && ps < size {
		size = ps
	}
	return page, size, true
}

// writePage answers 200 with one page of a listing, v, after setting
// X-Total-Count and Link (request path + query with page replaced,
// relative, entries joined by " , ").
func writePage(w http.ResponseWriter, r *http.Request, page, size, total int, v any) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	link := func(p int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("page_size", strconv.Itoa(size))
		return (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	var ls []string
	if page > 1 {
		ls = append(ls, fmt.Sprintf(`<%s>; rel="prev"`, link(page-1)))
	}
	if page*size < total {
		ls = append(ls, fmt.Sprintf(`<%s>; rel="next"`, link(page+1)))
	}
	if len(ls) > 0 {
		w.Header().Set("Link", strings.Join(ls, " , "))
	}
	requestID(w, r)
	writeJSON(w, http.StatusOK, v)
}

func window(page, size, total int) (int, int) {
	start := min((page-1)*size, total)
	return start, min(start+size, total)
}

const timeFmt = "2006-01-02T15:04:05.000Z"

func (s *Server) projectView(p *project) map[string]any {
	pub := "false"
	if p.public {
		pub = "true"
	}
	ts := p.created.Format(timeFmt)
	v := map[string]any{
		"project_id": p.id, "owner_id": 1, "name": p.name, "creation_time": ts, "update_time": ts,
		"deleted": false, "owner_name": "admin", "togglable": true, "current_user_role_id": 1,
		"current_user_role_ids": []int{1}, "repo_count": len(p.repos), "metadata": map[string]string{"public": pub},
	}
	if p.registry != 0 {
		v["registry_id"] = p.registry
	}
	return v
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]*project, 0, len(s.projects))
	for _, p := range s.projects {
		if name == "" || p.name == name {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *project) int { return int(a.id - b.id) })
	from, to := window(page, size, len(ps))
	out := make([]map[string]any, 0, to-from)
	for _, p := range ps[from:to] {
		out = append(out, s.projectView(p))
	}
	writePage(w, r, page, size, len(ps), out)
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectLocked(w, r, false); p != nil {
		requestID(w, r)
		writeJSON(w, http.StatusOK, s.projectView(p))
	}
}

func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(w, r, true)
	if p == nil {
		return
	}
	names := make([]string, 0, len(p.repos))
	for n := range p.repos {
		names = append(names, n)
	}
	slices.Sort(names)
	from, to := window(page, size, len(names))
	out := make([]map[string]any, 0, to-from)
	for _, n := range names[from:to] {
		rp := p.repos[n]
		ts := rp.created.Format(timeFmt)
		out = append(out, map[string]any{
			"id": rp.id, "project_id": p.id, "name": p.name + "/" + rp.name, "description": "",
			"artifact_count": len(rp.tags), "pull_count": 0, "creation_time": ts, "update_time": ts,
		})
	}
	writePage(w, r, page, size, len(names), out)
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(w, r, false)
	if p == nil {
		return
	}
	from, to := window(page, size, len(p.rules))
	out := make([]Rule, 0, to-from)
	for _, x := range p.rules[from:to] {
		out = append(out, cloneRule(x.Rule))
	}
	writePage(w, r, page, size, len(p.rules), out)
}

// decodeRule reads an ImmutableRule body; ok=false means a 400 was sent.
// The checks are the v1.10-2.2 ones (kind doublestar, action and template
// set, both selectors present): stricter than v2.3+, never looser.
func decodeRule(w http.ResponseWriter, r *http.Request) (Rule, bool) {
	var rule Rule
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&rule); err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "invalid ImmutableRule body: "+err.Error())
		return Rule{}, false
	}
	repoSel := rule.ScopeSelectors["repository"]
	switch {
	case rule.Action != "immutable" || rule.Template != "immutable_template":
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "action must be immutable and template immutable_template")
		return Rule{}, false
	case len(rule.TagSelectors) == 0 || len(repoSel) == 0:
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "tag_selectors and scope_selectors.repository are required")
		return Rule{}, false
	}
	for _, sel := range append(slices.Clone(rule.TagSelectors), repoSel...) {
		if sel.Kind != "doublestar" {
			writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "selector kind must be doublestar")
			return Rule{}, false
		}
	}
	return rule, true
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := decodeRule(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(w, r, false)
	if p == nil {
		return
	}
	id, msg := s.createRuleLocked(p, rule)
	if msg != "" {
		writeError(w, r, http.StatusConflict, "CONFLICT", msg)
		return
	}
	requestID(w, r)
	w.Header().Set("Location", r.URL.Path+"/"+strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) ruleLocked(w http.ResponseWriter, r *http.Request) (*project, *storedRule, int64) {
	p := s.projectLocked(w, r, false)
	if p == nil {
		return nil, nil, 0
	}
	id, err := strconv.ParseInt(r.PathValue("immutable_rule_id"), 10, 64)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "immutable_rule_id must be an integer")
		return nil, nil, 0
	}
	for _, x := range p.rules {
		if x.ID == id {
			return p, x, id
		}
	}
	writeError(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("immutable rule %d not found", id))
	return nil, nil, 0
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) {
	rule, ok := decodeRule(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, stored, id := s.ruleLocked(w, r)
	if stored == nil {
		return
	}
	if rule.ID != id {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "the immutable_rule_id doesn't match the id in the payload body of ImmutableRule")
		return
	}
	if rule.Disabled != stored.Disabled {
		// controller.UpdateImmutableRule: a differing "disabled" only toggles.
		stored.Disabled = rule.Disabled
	} else {
		f := serialise(p.id, rule)
		for _, x := range p.rules {
			if x != stored && x.filter == f {
				writeError(w, r, http.StatusConflict, "CONFLICT", "immutable rule already exists")
				return
			}
		}
		dis := stored.Disabled
		stored.Rule, stored.filter = cloneRule(rule), f
		stored.ID, stored.Disabled = id, dis
	}
	requestID(w, r)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, stored, _ := s.ruleLocked(w, r)
	if stored == nil {
		return
	}
	p.rules = slices.DeleteFunc(p.rules, func(x *storedRule) bool { return x == stored })
	requestID(w, r)
	w.WriteHeader(http.StatusOK)
}

// pushManifest is PUT /v2/<project>/<repo...>/manifests/<tag>: a new tag is
// created, an existing one re-pointed unless a rule makes it immutable (412).
func (s *Server) pushManifest(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	i := strings.LastIndex(path, "/manifests/")
	if i < 0 {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", "not found")
		return
	}
	full, ref := path[:i], path[i+len("/manifests/"):]
	proj, name, ok := strings.Cut(full, "/")
	if !ok || name == "" || ref == "" {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", "not found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "cannot read manifest")
		return
	}
	dg := digestOf(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", proj))
		return
	}
	if s.denied[proj] {
		writeError(w, r, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	rp := s.repoLocked(p, name)
	if old, exists := rp.tags[ref]; exists && old != dg && Immutable(ruleList(p), name, ref) {
		writeError(w, r, http.StatusPreconditionFailed, "PRECONDITION",
			fmt.Sprintf("Failed to process request due to '%s:%s' configured as immutable.", full, ref))
		return
	}
	if rp.tags[ref] != dg {
		rp.setPushed(ref, time.Now().UTC())
		s.logPushLocked(proj, name, ref, dg, time.Now())
	}
	rp.tags[ref] = dg
	w.Header().Set("Docker-Content-Digest", dg)
	w.Header().Set("Location", "/v2/"+full+"/manifests/"+dg)
	w.WriteHeader(http.StatusCreated)
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// listArtifacts is GET .../repositories/{repository_name}/artifacts: one
// Artifact per digest with its tags (with_tag defaults to true), each Tag
// with its own push_time. repository_name arrives encoded twice when it
// holds "/" (a/b -> a%252Fb), as the swagger says.
func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	name, err := url.PathUnescape(r.PathValue("repository_name"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "invalid repository name")
		return
	}
	withTag := r.URL.Query().Get("with_tag") != "false"
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(w, r, true)
	if p == nil {
		return
	}
	rp, found := p.repos[name]
	if !found {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("repository %s/%s not found", p.name, name))
		return
	}
	byDigest := map[string][]string{}
	for t, d := range rp.tags {
		byDigest[d] = append(byDigest[d], t)
	}
	digests := make([]string, 0, len(byDigest))
	for d := range byDigest {
		digests = append(digests, d)
	}
	latest := func(d string) time.Time {
		var at time.Time
		for _, t := range byDigest[d] {
			if rp.pushed[t].After(at) {
				at = rp.pushed[t]
			}
		}
		return at
	}
	// Harbor sorts artifacts newest push first.
	slices.SortFunc(digests, func(a, b string) int {
		if c := latest(b).Compare(latest(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	from, to := window(page, size, len(digests))
	out := make([]map[string]any, 0, to-from)
	for i, d := range digests[from:to] {
		id := int64(from + i + 1)
		a := map[string]any{
			"id": id, "type": "IMAGE", "media_type": "application/vnd.oci.image.config.v1+json",
			"manifest_media_type": "application/vnd.oci.image.index.v1+json", "digest": d, "size": 1024,
			"project_id": p.id, "repository_id": rp.id, "push_time": latest(d).Format(timeFmt),
			"pull_time": "0001-01-01T00:00:00.000Z", "icon": "sha256:0048162a053eef4d4ce3fe7518615bef084403614f8bca43b40ae2e762e11e06",
		}
		if withTag {
			names := byDigest[d]
			slices.Sort(names)
			tags := make([]map[string]any, 0, len(names))
			for j, t := range names {
				tags = append(tags, map[string]any{"id": id*1000 + int64(j), "repository_id": rp.id, "artifact_id": id, "name": t,
					"push_time": rp.pushed[t].Format(timeFmt), "pull_time": "0001-01-01T00:00:00.000Z", "immutable": false, "signed": false})
			}
			a["tags"] = tags
		}
		out = append(out, a)
	}
	writePage(w, r, page, size, len(digests), out)
}

// SetFaults replaces the injected faults (tests change them mid-run).
func (s *Server) SetFaults(f emulator.Faults) { s.faults.Set(f) }

// Calls counts the API calls served, by operation.
func (s *Server) Calls() *emulator.Counter { return s.calls }

// Handler serves the emulated API. The caller owns the listener (an
// httptest.Server, emulator.ServeLoopback), as with go-containerregistry's
// registry.New.
func (s *Server) Handler() http.Handler { return s.handler }
