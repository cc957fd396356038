// Package quay emulates the parts of the Red Hat Quay v1 REST API that
// immutag uses (repositories, organisations, immutability policies, tags)
// plus a minimal registry v2 manifest push so a demo can show an overwrite
// refused with 409 once a policy covers the tag.
//
// Quay 3.17+ hides the policy routes behind FEATURE_IMMUTABLE_TAGS (404 when
// off). Real Quay flips the flag for the whole instance; the emulator can also
// switch it off for single namespaces (SetFeatureFor) so one emulator can show
// an "old Quay" namespace next to working ones in the demo.
//
// Everything is in memory and safe for concurrent use.
package quay

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// DefaultPageSize is Quay's fixed REPOS_PER_PAGE.
const DefaultPageSize = 100

// Options configure a Server.
type Options struct {
	// Token is the only accepted OAuth bearer token. Required.
	Token string
	// FeatureOff starts the instance with FEATURE_IMMUTABLE_TAGS false.
	FeatureOff bool
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// Policy is one immutability policy as the API shows it.
type Policy struct {
	UUID              string `json:"uuid"`
	TagPattern        string `json:"tagPattern"`
	TagPatternMatches bool   `json:"tagPatternMatches"`
}

type tag struct {
	digest    string
	immutable bool
	startTS   int64
}

type repo struct {
	ns, name string
	public   bool
	policies []Policy
	tags     map[string]*tag
	// past are ended tag lifetimes, as Quay keeps them (onlyActiveTags=false).
	past []pastTag
}

// pastTag is a tag lifetime that ended: the tag was moved or deleted.
type pastTag struct {
	name, digest string
	start, end   int64
}

type namespace struct {
	name     string
	org      bool
	policies []Policy
	repos    map[string]*repo
}

// Server is one emulated Quay instance.
type Server struct {
	// Faults injects latency, errors and 429s into every API call.
	faults *emulator.Injector
	// Calls counts API calls by Quay operation nickname (listRepos,
	// createOrgImmutabilityPolicy, ...), throttled and failed ones included.
	calls *emulator.Counter

	token string

	mu         sync.Mutex
	featureOn  bool
	featureOff map[string]bool
	denied     map[string]bool
	ns         map[string]*namespace
	seq        int

	handler http.Handler
}

// New returns a Server with no namespaces. Call Start to listen, or use
// Handler with httptest.
func New(o Options) *Server {
	s := &Server{
		faults:     emulator.NewInjector(o.Faults),
		calls:      &emulator.Counter{},
		token:      o.Token,
		featureOn:  !o.FeatureOff,
		featureOff: map[string]bool{},
		denied:     map[string]bool{},
		ns:         map[string]*namespace{},
	}
	s.handler = s.routes()
	return s
}

// AddOrg creates an organisation namespace (no-op if it exists).
func (s *Server) AddOrg(name string) { s.addNamespace(name, true) }

// AddUser creates a personal user namespace (no-op if it exists).
func (s *Server) AddUser(name string) { s.addNamespace(name, false) }

func (s *Server) addNamespace(name string, org bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ns[name]; !ok {
		s.ns[name] = &namespace{name: name, org: org, repos: map[string]*repo{}}
	}
}

// AddRepo creates a repository with the given tags (each pointing at its own
// image). Tags already covered by a policy are flagged immutable, as Quay
// does when a tag is created.
func (s *Server) AddRepo(ns, name string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.ns[ns]
	if !ok {
		return fmt.Errorf("quay emulator: namespace %q does not exist", ns)
	}
	r, ok := n.repos[name]
	if !ok {
		r = &repo{ns: ns, name: name, tags: map[string]*tag{}}
		n.repos[name] = r
	}
	for _, t := range tags {
		s.seq++
		r.tags[t] = &tag{digest: digestOf([]byte(fmt.Sprintf("%s/%s:%s#%d", ns, name, t, s.seq))), startTS: time.Now().Unix()}
		r.tags[t].immutable = s.policyCoversLocked(n, r, t)
	}
	return nil
}

// AddOrgPolicy stores an organisation-level policy directly (seeding).
func (s *Server) AddOrgPolicy(org, pattern string, matches bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.ns[org]
	if !ok || !n.org {
		return "", fmt.Errorf("quay emulator: organisation %q does not exist", org)
	}
	p, msg := s.addPolicyLocked(&n.policies, n.repoList(), pattern, matches)
	if msg != "" {
		return "", errors.New(msg)
	}
	return p.UUID, nil
}

// AddRepoPolicy stores a repository-level policy directly (seeding).
func (s *Server) AddRepoPolicy(ns, name, pattern string, matches bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(ns, name)
	if r == nil {
		return "", fmt.Errorf("quay emulator: repository %s/%s does not exist", ns, name)
	}
	p, msg := s.addPolicyLocked(&r.policies, []*repo{r}, pattern, matches)
	if msg != "" {
		return "", errors.New(msg)
	}
	return p.UUID, nil
}

// OrgPolicies returns a copy of an organisation's policies.
func (s *Server) OrgPolicies(org string) []Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.ns[org]; ok {
		return slices.Clone(n.policies)
	}
	return nil
}

// RepoPolicies returns a copy of a repository's own policies.
func (s *Server) RepoPolicies(ns, name string) []Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repoLocked(ns, name); r != nil {
		return slices.Clone(r.policies)
	}
	return nil
}

// SeedTagHistory records, before the emulator is used, that ns/name:t
// pointed at digest from start until end (an overwrite Quay remembers).
func (s *Server) SeedTagHistory(ns, name, t, digest string, start, end time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(ns, name)
	if r == nil {
		return fmt.Errorf("quay emulator: no repository %s/%s", ns, name)
	}
	r.past = append(r.past, pastTag{name: t, digest: digest, start: start.Unix(), end: end.Unix()})
	if cur := r.tags[t]; cur != nil && cur.startTS < end.Unix() {
		cur.startTS = end.Unix()
	}
	return nil
}

// TagImmutable reports whether a tag exists and whether Quay would refuse to
// overwrite it.
func (s *Server) TagImmutable(ns, name, t string) (immutable, exists bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(ns, name)
	if r == nil {
		return false, false
	}
	tg, ok := r.tags[t]
	if !ok {
		return false, false
	}
	return s.enforcedLocked(ns) && (tg.immutable || s.policyCoversLocked(s.ns[ns], r, t)), true
}

// SetFeature sets FEATURE_IMMUTABLE_TAGS for the whole instance.
func (s *Server) SetFeature(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.featureOn = on
}

// SetFeatureFor switches the feature off (on=false) or back to the instance
// setting for one namespace. Real Quay has no such switch; the demo uses it to
// show an unsupported namespace beside working ones.
func (s *Server) SetFeatureFor(ns string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		delete(s.featureOff, ns)
	} else {
		s.featureOff[ns] = true
	}
}

// Deny makes every call about namespace ns answer 403 (deny=true) or
// behave normally again (deny=false).
func (s *Server) Deny(ns string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[ns] = true
	} else {
		delete(s.denied, ns)
	}
}

// PushTag pushes a new image to ns/name:tag through the registry v2 API
// (served in process, so that it works however the caller listens),
// creating the repository when needed. An overwrite refused because the tag
// is immutable returns an error wrapping emulator.ErrTagImmutable.
func (s *Server) PushTag(ctx context.Context, ns, name, t string) error {
	s.mu.Lock()
	s.seq++
	nonce := strconv.Itoa(s.seq)
	s.mu.Unlock()
	rep, err := emulator.PushManifestTo(ctx, s.handler, "", ns+"/"+name, t, "$oauthtoken", s.token, nonce)
	if err != nil {
		return fmt.Errorf("push %s/%s:%s: %w", ns, name, t, err)
	}
	switch {
	case rep.Status == http.StatusConflict && rep.Code == "TAG_IMMUTABLE":
		return fmt.Errorf("push %s/%s:%s: %s: %w", ns, name, t, rep.Message, emulator.ErrTagImmutable)
	case rep.Status/100 != 2:
		return fmt.Errorf("push %s/%s:%s: HTTP %d: %s", ns, name, t, rep.Status, rep.Message)
	}
	return nil
}

// ---- state helpers (s.mu held) ----

func (s *Server) repoLocked(ns, name string) *repo {
	n, ok := s.ns[ns]
	if !ok {
		return nil
	}
	return n.repos[name]
}

func (s *Server) featureLocked(ns string) bool { return s.featureOn && !s.featureOff[ns] }

func (s *Server) enforcedLocked(ns string) bool { return s.featureLocked(ns) }

// newPolicyLocked validates a policy like data/model/immutability.py and
// returns the 400 message on failure.
func (s *Server) newPolicyLocked(existing []Policy, pattern string, matches bool) (Policy, string) {
	pattern = strings.TrimSpace(pattern)
	switch {
	case pattern == "":
		return Policy{}, "tag_pattern cannot be empty"
	case len(pattern) > 256:
		return Policy{}, "tag_pattern cannot exceed 256 characters"
	}
	if _, err := compile(pattern); err != nil {
		return Policy{}, "Invalid regex pattern: " + err.Error()
	}
	for _, p := range existing {
		if p.TagPattern == pattern {
			return Policy{}, "A policy with the same tag_pattern already exists"
		}
	}
	s.seq++
	return Policy{UUID: uuidOf(s.seq), TagPattern: pattern, TagPatternMatches: matches}, ""
}

// addPolicyLocked appends a new policy to *ps and flags the tags of repos
// it covers, as Quay does when a policy is created; msg says why a policy
// was refused.
func (s *Server) addPolicyLocked(ps *[]Policy, repos []*repo, pattern string, matches bool) (Policy, string) {
	p, msg := s.newPolicyLocked(*ps, pattern, matches)
	if msg != "" {
		return Policy{}, msg
	}
	*ps = append(*ps, p)
	for _, r := range repos {
		s.retroLocked(r, p)
	}
	return p, ""
}

// repoList is every repository of the namespace: the ones an organisation
// policy covers.
func (n *namespace) repoList() []*repo {
	out := make([]*repo, 0, len(n.repos))
	for _, r := range n.repos {
		out = append(out, r)
	}
	return out
}

// retroLocked flags existing tags a new or updated policy covers, as Quay
// does in batches when a policy is created or changed.
func (s *Server) retroLocked(r *repo, p Policy) {
	for name, t := range r.tags {
		if policyMatches(p, name) {
			t.immutable = true
		}
	}
}

func (s *Server) policyCoversLocked(n *namespace, r *repo, t string) bool {
	if !s.featureLocked(n.name) {
		return false
	}
	for _, p := range r.policies {
		if policyMatches(p, t) {
			return true
		}
	}
	for _, p := range n.policies {
		if policyMatches(p, t) {
			return true
		}
	}
	return false
}

// compile anchors a pattern at both ends, like Python's regex.fullmatch.
func compile(pattern string) (*regexp.Regexp, error) { return regexp.Compile(`^(?:` + pattern + `)$`) }

func policyMatches(p Policy, t string) bool {
	re, err := compile(p.TagPattern)
	if err != nil {
		return false // Quay counts a regex error as no match
	}
	return re.MatchString(t) == p.TagPatternMatches
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func uuidOf(n int) string {
	h := sha256.Sum256([]byte("quay-policy-" + strconv.Itoa(n)))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// ---- HTTP ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, h http.HandlerFunc) { mux.Handle(pattern, s.wrap(op, h)) }
	api("GET /api/v1/repository", "listRepos", s.listRepos)
	api("GET /api/v1/organization/{org}", "getOrganization", s.getOrganization)
	api("GET /api/v1/users/{user}", "getUserInformation", s.getUser)
	api("GET /api/v1/organization/{org}/immutabilitypolicy/{$}", "listOrgImmutabilityPolicies", s.listOrgPolicies)
	api("POST /api/v1/organization/{org}/immutabilitypolicy/{$}", "createOrgImmutabilityPolicy", s.createOrgPolicy)
	api("GET /api/v1/organization/{org}/immutabilitypolicy/{uuid}", "getOrgImmutabilityPolicy", s.getOrgPolicy)
	api("PUT /api/v1/organization/{org}/immutabilitypolicy/{uuid}", "updateOrgImmutabilityPolicy", s.updateOrgPolicy)
	api("DELETE /api/v1/organization/{org}/immutabilitypolicy/{uuid}", "deleteOrgImmutabilityPolicy", s.deleteOrgPolicy)
	api("GET /api/v1/repository/{ns}/{repo}/immutabilitypolicy/{$}", "listRepositoryImmutabilityPolicies", s.listRepoPolicies)
	api("POST /api/v1/repository/{ns}/{repo}/immutabilitypolicy/{$}", "createRepositoryImmutabilityPolicy", s.createRepoPolicy)
	api("GET /api/v1/repository/{ns}/{repo}/immutabilitypolicy/{uuid}", "getRepositoryImmutabilityPolicy", s.getRepoPolicy)
	api("PUT /api/v1/repository/{ns}/{repo}/immutabilitypolicy/{uuid}", "updateRepositoryImmutabilityPolicy", s.updateRepoPolicy)
	api("DELETE /api/v1/repository/{ns}/{repo}/immutabilitypolicy/{uuid}", "deleteRepositoryImmutabilityPolicy", s.deleteRepoPolicy)
	api("GET /api/v1/repository/{ns}/{repo}/tag/{$}", "listRepoTags", s.listTags)
	api("PUT /v2/{ns}/{repo}/manifests/{ref}", "pushManifest", s.pushManifest)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
	})
	return mux
}

// throttled answers like nginx's limit_req in front of Quay: its own HTML page.
func throttled(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1></center></body></html>\n"))
}

func failed(w http.ResponseWriter, r *http.Request) {
	apiError(w, r, http.StatusInternalServerError, "internal_error", "Internal Server Error")
}

// wrap applies, in order: counting, fault injection, authentication,
// per-namespace denial and the feature flag.
func (s *Server) wrap(op string, h http.HandlerFunc) http.Handler {
	policyRoute := strings.Contains(op, "ImmutabilityPolic")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		if emulator.Inject(s.faults, w, r, throttled, failed) {
			return
		}
		if !s.authorized(r) {
			if op == "pushManifest" {
				v2Error(w, http.StatusUnauthorized, "UNAUTHORIZED", "access to the requested resource is not authorized")
				return
			}
			apiError(w, r, http.StatusUnauthorized, "invalid_token", "Requires authentication")
			return
		}
		ns := r.PathValue("ns")
		if ns == "" {
			ns = r.PathValue("org")
		}
		if ns == "" {
			ns = r.PathValue("user")
		}
		if ns == "" && op == "listRepos" {
			ns = r.URL.Query().Get("namespace")
		}
		s.mu.Lock()
		denied, feature := s.denied[ns], s.featureLocked(ns)
		s.mu.Unlock()
		if denied {
			apiError(w, r, http.StatusForbidden, "insufficient_scope", "Unauthorized")
			return
		}
		if policyRoute && !feature {
			// @show_if hides the resource: the route simply does not exist.
			apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
			return
		}
		h(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimPrefix(h, "Bearer ")
	} else if u, p, ok := r.BasicAuth(); ok && u == "$oauthtoken" {
		got = p
	}
	return s.token != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, v)
}

// apiError writes Quay's RFC 7807 style ApiException body.
func apiError(w http.ResponseWriter, r *http.Request, status int, typ, detail string) {
	writeJSON(w, status, map[string]any{
		"detail": detail, "error_message": detail, "error_type": typ, "title": typ,
		"type": "http://" + r.Host + "/api/v1/error/" + typ, "status": status,
	})
}

func v2Error(w http.ResponseWriter, status int, code, msg string, detail ...any) {
	e := map[string]any{"code": code, "message": msg}
	if len(detail) > 0 {
		e["detail"] = detail[0]
	}
	writeJSON(w, status, map[string]any{"errors": []any{e}})
}

type repoView struct {
	Namespace   string  `json:"namespace"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	IsPublic    bool    `json:"is_public"`
	Kind        string  `json:"kind"`
	State       string  `json:"state"`
}

// pageToken is an opaque, namespace-bound cursor like Quay's encrypted one.
func pageToken(ns string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + ns))
}

func parsePageToken(tok, ns string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	off, rest, ok := strings.Cut(string(b), ":")
	if !ok || rest != ns {
		return 0, false
	}
	n, err := strconv.Atoi(off)
	return n, err == nil && n >= 0
}

func (s *Server) listRepos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns := q.Get("namespace")
	if ns == "" && q.Get("starred") == "" && q.Get("public") == "" {
		apiError(w, r, http.StatusBadRequest, "invalid_request", "namespace, starred or public are required for this API call")
		return
	}
	offset := 0
	if tok := q.Get("next_page"); tok != "" {
		var ok bool
		if offset, ok = parsePageToken(tok, ns); !ok {
			apiError(w, r, http.StatusBadRequest, "invalid_request", "Invalid next page token")
			return
		}
	}
	size := DefaultPageSize
	if ps := s.faults.Faults().PageSize; ps > 0 && ps < size {
		size = ps
	}
	s.mu.Lock()
	var names []string
	n := s.ns[ns]
	if n != nil {
		for name := range n.repos {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := struct {
		Repositories []repoView `json:"repositories"`
		NextPage     string     `json:"next_page,omitempty"`
	}{Repositories: []repoView{}}
	for i := offset; i < len(names) && i < offset+size; i++ {
		rp := n.repos[names[i]]
		out.Repositories = append(out.Repositories, repoView{Namespace: ns, Name: rp.name, IsPublic: rp.public, Kind: "image", State: "NORMAL"})
	}
	if offset+size < len(names) {
		out.NextPage = pageToken(ns, offset+size)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	s.mu.Lock()
	n, ok := s.ns[org]
	s.mu.Unlock()
	if !ok || !n.org {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": org, "email": org + "@example.invalid", "is_admin": true, "is_member": true,
		"avatar":        map[string]any{"name": org, "hash": digestOf([]byte(org))[7:39], "color": "#1f77b4", "kind": "org"},
		"ordered_teams": []string{"owners"}, "teams": map[string]any{},
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u := r.PathValue("user")
	s.mu.Lock()
	n, ok := s.ns[u]
	s.mu.Unlock()
	if !ok || n.org {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"username": u, "kind": "user", "super_user": false,
		"avatar": map[string]any{"name": u, "hash": digestOf([]byte(u))[7:39], "color": "#ff7f0e", "kind": "user"},
	})
}

// policyBody decodes ImmutabilityPolicyConfig; ok=false means a 400 was sent.
func policyBody(w http.ResponseWriter, r *http.Request) (pattern string, matches bool, ok bool) {
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || raw == nil {
		apiError(w, r, http.StatusBadRequest, "invalid_request", "Missing JSON body")
		return "", false, false
	}
	p, isStr := raw["tagPattern"].(string)
	if !isStr {
		apiError(w, r, http.StatusBadRequest, "invalid_request", "'tagPattern' is a required property")
		return "", false, false
	}
	matches = true
	if v, present := raw["tagPatternMatches"]; present {
		b, isBool := v.(bool)
		if !isBool {
			apiError(w, r, http.StatusBadRequest, "invalid_request", "tagPatternMatches must be a boolean")
			return "", false, false
		}
		matches = b
	}
	return p, matches, true
}

func (s *Server) orgLocked(w http.ResponseWriter, r *http.Request) *namespace {
	n, ok := s.ns[r.PathValue("org")]
	if !ok || !n.org {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return nil
	}
	return n
}

func (s *Server) repoFromPathLocked(w http.ResponseWriter, r *http.Request) (*namespace, *repo) {
	rp := s.repoLocked(r.PathValue("ns"), r.PathValue("repo"))
	if rp == nil {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return nil, nil
	}
	return s.ns[rp.ns], rp
}

func policiesView(ps []Policy) map[string]any {
	if ps == nil {
		ps = []Policy{}
	}
	return map[string]any{"policies": ps}
}

func (s *Server) listOrgPolicies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.orgLocked(w, r); n != nil {
		writeJSON(w, http.StatusOK, policiesView(n.policies))
	}
}

func (s *Server) createOrgPolicy(w http.ResponseWriter, r *http.Request) {
	pattern, matches, ok := policyBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.orgLocked(w, r)
	if n == nil {
		return
	}
	s.createPolicyLocked(w, r, &n.policies, n.repoList(), pattern, matches)
}

func findPolicy(ps []Policy, uuid string) int {
	return slices.IndexFunc(ps, func(p Policy) bool { return p.UUID == uuid })
}

// createPolicyLocked answers a create: 201 with the new policy's uuid, or
// 400 when the policy is refused.
func (s *Server) createPolicyLocked(w http.ResponseWriter, r *http.Request, ps *[]Policy, repos []*repo, pattern string, matches bool) {
	p, msg := s.addPolicyLocked(ps, repos, pattern, matches)
	if msg != "" {
		apiError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"uuid": p.UUID})
}

// getPolicy answers the policy named by {uuid}, or 404.
func getPolicy(w http.ResponseWriter, r *http.Request, ps []Policy) {
	if i := findPolicy(ps, r.PathValue("uuid")); i >= 0 {
		writeJSON(w, http.StatusOK, ps[i])
		return
	}
	apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
}

func (s *Server) getOrgPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.orgLocked(w, r)
	if n == nil {
		return
	}
	getPolicy(w, r, n.policies)
}

// updatePolicyLocked replaces pattern and flag of policy i in *ps.
func (s *Server) updatePolicyLocked(w http.ResponseWriter, r *http.Request, ps *[]Policy, repos []*repo) {
	i := findPolicy(*ps, r.PathValue("uuid"))
	if i < 0 {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	pattern, matches, ok := policyBody(w, r)
	if !ok {
		return
	}
	others := slices.Delete(slices.Clone(*ps), i, i+1)
	p, msg := s.newPolicyLocked(others, pattern, matches)
	if msg != "" {
		apiError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	p.UUID = (*ps)[i].UUID
	(*ps)[i] = p
	for _, rp := range repos {
		s.retroLocked(rp, p)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) updateOrgPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.orgLocked(w, r)
	if n == nil {
		return
	}
	s.updatePolicyLocked(w, r, &n.policies, n.repoList())
}

func deletePolicy(w http.ResponseWriter, r *http.Request, ps *[]Policy) {
	uuid := r.PathValue("uuid")
	i := findPolicy(*ps, uuid)
	if i < 0 {
		apiError(w, r, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	// Flags already set on tags stay: Quay has no code path that clears them.
	*ps = slices.Delete(*ps, i, i+1)
	writeJSON(w, http.StatusOK, map[string]string{"uuid": uuid})
}

func (s *Server) deleteOrgPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.orgLocked(w, r); n != nil {
		deletePolicy(w, r, &n.policies)
	}
}

func (s *Server) listRepoPolicies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, rp := s.repoFromPathLocked(w, r); rp != nil {
		writeJSON(w, http.StatusOK, policiesView(rp.policies))
	}
}

func (s *Server) createRepoPolicy(w http.ResponseWriter, r *http.Request) {
	pattern, matches, ok := policyBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, rp := s.repoFromPathLocked(w, r)
	if rp == nil {
		return
	}
	s.createPolicyLocked(w, r, &rp.policies, []*repo{rp}, pattern, matches)
}

func (s *Server) getRepoPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, rp := s.repoFromPathLocked(w, r)
	if rp == nil {
		return
	}
	getPolicy(w, r, rp.policies)
}

func (s *Server) updateRepoPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, rp := s.repoFromPathLocked(w, r); rp != nil {
		s.updatePolicyLocked(w, r, &rp.policies, []*repo{rp})
	}
}

func (s *Server) deleteRepoPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, rp := s.repoFromPathLocked(w, r); rp != nil {
		deletePolicy(w, r, &rp.policies)
	}
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, page := 50, 1
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v >= 1 && v <= 100 {
		limit = v
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v >= 1 {
		page = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, rp := s.repoFromPathLocked(w, r)
	if rp == nil {
		return
	}
	// Quay's onlyActiveTags defaults to false: the full tag history, alive
	// and dead, newest lifetime first (endpoints/api/tag.py).
	activeOnly := strings.EqualFold(q.Get("onlyActiveTags"), "true")
	specific := q.Get("specificTag")
	type life struct {
		name       string
		cur        *tag
		digest     string
		start, end int64
	}
	var lives []life
	for name, t := range rp.tags {
		if specific == "" || specific == name {
			lives = append(lives, life{name: name, cur: t, digest: t.digest, start: t.startTS})
		}
	}
	if !activeOnly {
		for _, pt := range rp.past {
			if specific == "" || specific == pt.name {
				lives = append(lives, life{name: pt.name, digest: pt.digest, start: pt.start, end: pt.end})
			}
		}
	}
	slices.SortFunc(lives, func(a, b life) int {
		return cmp.Or(cmp.Compare(b.start, a.start), cmp.Compare(a.name, b.name), cmp.Compare(a.end, b.end))
	})
	feature := s.featureLocked(n.name)
	tags := []map[string]any{}
	start := (page - 1) * limit
	for i := start; i < len(lives) && i < start+limit; i++ {
		l := lives[i]
		v := map[string]any{"name": l.name, "reversion": false, "manifest_digest": l.digest,
			"is_manifest_list": false, "size": 1024, "start_ts": l.start,
			"last_modified": time.Unix(l.start, 0).UTC().Format(http.TimeFormat)}
		if l.cur == nil {
			v["end_ts"] = l.end
			v["expiration"] = time.Unix(l.end, 0).UTC().Format(http.TimeFormat)
		}
		if feature && l.cur != nil {
			v["immutable"] = l.cur.immutable || s.policyCoversLocked(n, rp, l.name)
		}
		tags = append(tags, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags, "page": page, "has_additional": start+limit < len(lives)})
}

// pushManifest is PUT /v2/<ns>/<repo>/manifests/<tag>: a new tag is created,
// an existing tag is re-pointed unless it is immutable (409 TAG_IMMUTABLE).
func (s *Server) pushManifest(w http.ResponseWriter, r *http.Request) {
	ns, name, ref := r.PathValue("ns"), r.PathValue("repo"), r.PathValue("ref")
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		v2Error(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return
	}
	dg := digestOf(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.ns[ns]
	if !ok {
		v2Error(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	rp, ok := n.repos[name]
	if !ok {
		rp = &repo{ns: ns, name: name, tags: map[string]*tag{}}
		n.repos[name] = rp
	}
	if t, exists := rp.tags[ref]; exists {
		if t.digest != dg && s.enforcedLocked(ns) && (t.immutable || s.policyCoversLocked(n, rp, ref)) {
			v2Error(w, http.StatusConflict, "TAG_IMMUTABLE", "tag is immutable and cannot be overwritten",
				map[string]string{"message": fmt.Sprintf("tag '%s' is immutable", ref)})
			return
		}
		if t.digest != dg {
			now := time.Now().Unix()
			rp.past = append(rp.past, pastTag{name: ref, digest: t.digest, start: t.startTS, end: now})
			t.digest, t.startTS = dg, now
		}
	} else {
		rp.tags[ref] = &tag{digest: dg, startTS: time.Now().Unix(), immutable: s.policyCoversLocked(n, rp, ref)}
	}
	w.Header().Set("Docker-Content-Digest", dg)
	w.Header().Set("Location", "/v2/"+ns+"/"+name+"/manifests/"+dg)
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
