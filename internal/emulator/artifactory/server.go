// Package artifactory emulates the parts of JFrog Artifactory that immutag
// uses: the repository list, permission targets (v2 security API), user and
// group lookups, and the Docker API under /artifactory/api/docker/<repo>/v2/
// (catalog and tags/list with n/last and a Link header, manifest HEAD with
// Docker-Content-Digest, manifest PUT).
//
// Pushing follows Artifactory's permission model: a new tag needs Deploy
// ("write"), overwriting an existing tag needs Delete/Overwrite ("delete"),
// administrators may do anything. Errors use Artifactory's shapes: REST
// {"errors": [{"status", "message"}]} and the Docker API's
// {"errors": [{"code", "message"}]}. Authentication is a Bearer access
// token or HTTP Basic.
//
// Everything is in memory and safe for concurrent use.
package artifactory

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/immutag/immutag/internal/emulator"
)

// Options configure a Server.
type Options struct {
	// Token is the accepted access token (Bearer), acting as TokenUser.
	Token, TokenUser string
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// User is an Artifactory user.
type User struct {
	Name     string
	Password string
	Admin    bool
	Groups   []string
}

// Target is a permission target's repository part.
type Target struct {
	Name    string
	Repos   []string
	Include []string
	Exclude []string
	Users   map[string][]string
	Groups  map[string][]string
}

type repo struct {
	key, typ, pkg string
	images        map[string]map[string]string // image -> tag -> digest
}

// Server is one emulated Artifactory instance.
type Server struct {
	// Faults injects latency, errors and 429s into every API call.
	faults *emulator.Injector
	// Calls counts API calls by operation.
	calls *emulator.Counter

	o Options

	mu      sync.Mutex
	users   map[string]User
	groups  map[string]Group
	targets map[string]Target
	repos   map[string]*repo
	denied  map[string]bool

	handler http.Handler
}

// New returns an empty Server.
func New(o Options) *Server {
	s := &Server{faults: emulator.NewInjector(o.Faults), calls: &emulator.Counter{}, o: o,
		users: map[string]User{}, groups: map[string]Group{}, targets: map[string]Target{}, repos: map[string]*repo{}, denied: map[string]bool{}}
	if o.TokenUser != "" {
		s.users[o.TokenUser] = User{Name: o.TokenUser, Admin: true}
	}
	s.handler = s.routes()
	return s
}

// AddUser creates or replaces a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Name] = u
}

// Group is an Artifactory group.
type Group struct {
	Admin bool
	// AutoJoin adds every new user to the group.
	AutoJoin bool
}

// AddGroup creates or replaces a group.
func (s *Server) AddGroup(name string, admin bool) {
	s.SetGroup(name, Group{Admin: admin})
}

// SetGroup creates or replaces a group with all its flags.
func (s *Server) SetGroup(name string, g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[name] = g
}

// SetTarget creates or replaces a permission target.
func (s *Server) SetTarget(t Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets[t.Name] = t
}

// Targets returns the permission targets, by name (the benchmark's call
// model derives the principal lookups an audit needs from them).
func (s *Server) Targets() []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Target, 0, len(s.targets))
	for _, t := range s.targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Deny makes the Docker API of a repository answer 403 (deny=true), as
// for a user without read on it, or behave normally again.
func (s *Server) Deny(key string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[key] = true
	} else {
		delete(s.denied, key)
	}
}

// AddRepo creates a repository (type local/remote/virtual, package type).
func (s *Server) AddRepo(key, typ, pkg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[key] = &repo{key: key, typ: typ, pkg: pkg, images: map[string]map[string]string{}}
}

// AddImage stores tags of an image.
func (s *Server) AddImage(key, image string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key]
	if !ok {
		return fmt.Errorf("artifactory emulator: repository %q does not exist", key)
	}
	if r.images[image] == nil {
		r.images[image] = map[string]string{}
	}
	for _, t := range tags {
		r.images[image][t] = sha([]byte(key + "/" + image + ":" + t))
	}
	return nil
}

// Digest returns a tag's digest ("" when absent).
func (s *Server) Digest(key, image, t string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[key]; ok {
		return r.images[image][t]
	}
	return ""
}

// title capitalises a package type the way the API reports it ("Docker").
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// ---- HTTP ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, h func(http.ResponseWriter, *http.Request, string)) {
		mux.Handle(pattern, s.wrap(op, h))
	}
	const a = "/artifactory/api"
	api("GET "+a+"/repositories", "getRepositories", s.listRepos)
	api("GET "+a+"/v2/security/permissions", "getPermissionTargets", s.listTargets)
	api("GET "+a+"/v2/security/permissions/{name}", "getPermissionTarget", s.getTarget)
	api("GET "+a+"/security/users/{name}", "getUser", s.getUser)
	api("GET "+a+"/security/groups/{name}", "getGroup", s.getGroup)
	api("GET "+a+"/docker/{repo}/v2/_catalog", "dockerCatalog", s.catalog)
	api("GET "+a+"/docker/{repo}/v2/{path...}", "dockerGet", s.dockerGet)
	api("PUT "+a+"/docker/{repo}/v2/{path...}", "dockerPush", s.push)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { restError(w, http.StatusNotFound, "Not Found") })
	return mux
}

func restError(w http.ResponseWriter, status int, msg string) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, map[string]any{"errors": []map[string]any{{"status": status, "message": msg}}})
}

func dockerError(w http.ResponseWriter, status int, code, msg string) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// wrap counts, injects faults and authenticates; the handler gets the
// authenticated user name.
func (s *Server) wrap(op string, h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		if emulator.Inject(s.faults, w, r, func(w http.ResponseWriter, _ *http.Request) {
			restError(w, http.StatusTooManyRequests, "Too Many Requests")
		},
			func(w http.ResponseWriter, _ *http.Request) {
				restError(w, http.StatusInternalServerError, "Internal Server Error")
			}) {
			return
		}
		user := ""
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if s.o.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.Token)) == 1 {
				user = s.o.TokenUser
			}
		} else if u, p, ok := r.BasicAuth(); ok {
			s.mu.Lock()
			x, found := s.users[u]
			s.mu.Unlock()
			if found && x.Password != "" && subtle.ConstantTimeCompare([]byte(p), []byte(x.Password)) == 1 {
				user = u
			}
		}
		if user == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="Artifactory Realm"`)
			restError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		h(w, r, user)
	})
}

func (s *Server) isAdmin(user string) bool {
	u := s.users[user]
	if u.Admin {
		return true
	}
	return slices.ContainsFunc(u.Groups, func(g string) bool { return s.groups[g].Admin })
}

func (s *Server) listRepos(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.repos))
	for k := range s.repos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []map[string]any{}
	for _, k := range keys {
		rp := s.repos[k]
		if t := q.Get("type"); t != "" && !strings.EqualFold(t, rp.typ) {
			continue
		}
		if p := q.Get("packageType"); p != "" && !strings.EqualFold(p, rp.pkg) {
			continue
		}
		out = append(out, map[string]any{"key": k, "type": strings.ToUpper(rp.typ), "packageType": title(rp.pkg),
			"url": emulator.BaseURL(r) + "/artifactory/" + k, "description": ""})
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

func (s *Server) listTargets(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isAdmin(user) {
		restError(w, http.StatusForbidden, "Forbidden")
		return
	}
	names := make([]string, 0, len(s.targets))
	for n := range s.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []map[string]string{}
	for _, n := range names {
		out = append(out, map[string]string{"name": n, "uri": emulator.BaseURL(r) + "/artifactory/api/v2/security/permissions/" + url.PathEscape(n)})
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

func (s *Server) getTarget(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isAdmin(user) {
		restError(w, http.StatusForbidden, "Forbidden")
		return
	}
	t, ok := s.targets[r.PathValue("name")]
	if !ok {
		restError(w, http.StatusNotFound, "Permission target not found")
		return
	}
	inc := t.Include
	if len(inc) == 0 {
		inc = []string{"**"}
	}
	exc := t.Exclude
	if len(exc) == 0 {
		exc = []string{""}
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{
		"name": t.Name,
		"repo": map[string]any{"include-patterns": inc, "exclude-patterns": exc, "repositories": t.Repos,
			"actions": map[string]any{"users": t.Users, "groups": t.Groups}},
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isAdmin(user) {
		restError(w, http.StatusForbidden, "Forbidden")
		return
	}
	u, ok := s.users[r.PathValue("name")]
	if !ok {
		restError(w, http.StatusNotFound, "User not found")
		return
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"name": u.Name, "admin": u.Admin, "groups": u.Groups,
		"realm": "internal", "profileUpdatable": true})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isAdmin(user) {
		restError(w, http.StatusForbidden, "Forbidden")
		return
	}
	g, ok := s.groups[r.PathValue("name")]
	if !ok {
		restError(w, http.StatusNotFound, "Group not found")
		return
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"name": r.PathValue("name"), "adminPrivileges": g.Admin, "autoJoin": g.AutoJoin})
}

// page applies n/last to sorted names and sets the Link header.
func (s *Server) page(w http.ResponseWriter, r *http.Request, names []string) []string {
	names, n, more := emulator.PageNames(r, names, len(names)+1, s.faults.Faults().PageSize)
	if more {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {names[n-1]}}
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return names
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, ok := s.repos[r.PathValue("repo")]
	if !ok {
		dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	if s.denied[rp.key] {
		dockerError(w, http.StatusForbidden, "DENIED", "access to the requested resource is not authorized")
		return
	}
	names := make([]string, 0, len(rp.images))
	for img := range rp.images {
		names = append(names, img)
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"repositories": s.page(w, r, names)})
}

func split(path, sep string) (image, rest string, ok bool) {
	i := strings.LastIndex(path, sep)
	if i < 0 {
		return "", "", false
	}
	return path[:i], path[i+len(sep):], true
}

func (s *Server) dockerGet(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, ok := s.repos[r.PathValue("repo")]
	if !ok {
		dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	if s.denied[rp.key] {
		dockerError(w, http.StatusForbidden, "DENIED", "access to the requested resource is not authorized")
		return
	}
	path := r.PathValue("path")
	if image, _, ok := split(path, "/tags/list"); ok && strings.HasSuffix(path, "/tags/list") {
		tags, ok := rp.images[image]
		if !ok {
			dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
			return
		}
		names := make([]string, 0, len(tags))
		for t := range tags {
			names = append(names, t)
		}
		emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"name": image, "tags": s.page(w, r, names)})
		return
	}
	if image, ref, ok := split(path, "/manifests/"); ok {
		d, ok := rp.images[image][ref]
		if !ok {
			dockerError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.WriteHeader(http.StatusOK)
		return
	}
	dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "not found")
}

// allowed reports whether user may do action on repo/path through some
// permission target (or as an administrator).
func (s *Server) allowed(user, action, key, path string) bool {
	if s.isAdmin(user) {
		return true
	}
	u := s.users[user]
	for _, t := range s.targets {
		if !slices.ContainsFunc(t.Repos, func(r string) bool { return r == key || r == "ANY" || r == "ANY LOCAL" }) {
			continue
		}
		inc := t.Include
		if len(inc) == 0 {
			inc = []string{"**"}
		}
		in := slices.ContainsFunc(inc, func(p string) bool { ok, _ := doublestar.Match(p, path); return ok })
		out := slices.ContainsFunc(t.Exclude, func(p string) bool { ok, _ := doublestar.Match(p, path); return p != "" && ok })
		if !in || out {
			continue
		}
		if slices.Contains(t.Users[user], action) {
			return true
		}
		for _, g := range u.Groups {
			if slices.Contains(t.Groups[g], action) {
				return true
			}
		}
	}
	return false
}

func (s *Server) push(w http.ResponseWriter, r *http.Request, user string) {
	image, ref, ok := split(r.PathValue("path"), "/manifests/")
	if !ok {
		dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "not found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		dockerError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.PathValue("repo")
	rp, ok := s.repos[key]
	if !ok {
		dockerError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	path := image + "/" + ref + "/manifest.json"
	_, exists := rp.images[image][ref]
	need := "write"
	if exists {
		need = "delete"
	}
	if !s.allowed(user, need, key, path) {
		dockerError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("user %s needs %s permission on %s/%s", user, need, key, path))
		return
	}
	if rp.images[image] == nil {
		rp.images[image] = map[string]string{}
	}
	d := sha(body)
	rp.images[image][ref] = d
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
