// Package nexus emulates the parts of Sonatype Nexus Repository 3 that
// immutag uses: the repositories REST API (list, Docker hosted settings
// GET and PUT), the search API for Docker components, and the Docker
// Registry v2 API under /repository/<repo>/v2/ (catalog and manifest push,
// with the deployment policy enforced on overwrites).
//
// Shapes and behaviour follow the REST API's OpenAPI definitions
// (DockerHostedApiRepository, DockerHostedRepositoryApiRequest) and
// observations of 3.71 and 3.96 servers: the repository list is one
// unpaginated array of what the user may browse; search pages by
// continuationToken (50 items); the catalog pages with n/last and a Link
// header, which Options.LegacyCatalogLink makes omit the /repository/<repo>
// prefix as 3.71 does; errors are siesta faults ({"status-code": 404, ...})
// or validation arrays ([{"id", "message"}]); Basic authentication with
// the 3.96 sign-in rate limit (after three failed sign-ins of a user name,
// every request with it gets 429 "Too many authentication attempts",
// Retry-After: 30). Options.HideLatestPolicy leaves storage.latestPolicy
// out of GET answers, as servers on which it is write-only do.
//
// Everything is in memory and safe for concurrent use.
package nexus

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// Options configure a Server.
type Options struct {
	// Username and Password are the only accepted Basic credentials.
	Username, Password string
	// HideLatestPolicy drops storage.latestPolicy from settings answers.
	HideLatestPolicy bool
	// LegacyCatalogLink makes catalog Link headers omit /repository/<repo>.
	LegacyCatalogLink bool
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

type tag struct {
	digest string
	pushed time.Time
}

type repo struct {
	name     string
	format   string // docker, raw, ...
	typ      string // hosted, proxy, group
	settings map[string]any
	images   map[string]map[string]tag
}

// Server is one emulated Nexus instance.
type Server struct {
	// Faults injects latency, errors and 429s into every API call.
	faults *emulator.Injector
	// Calls counts API calls by operation (getRepositories,
	// getDockerHostedRepository, updateDockerHostedRepository, search,
	// catalog, pushManifest).
	calls *emulator.Counter

	user, pass string
	o          Options

	mu       sync.Mutex
	repos    map[string]*repo
	denied   map[string]bool
	failures map[string]int

	handler http.Handler
}

// New returns a Server with no repositories.
func New(o Options) *Server {
	s := &Server{faults: emulator.NewInjector(o.Faults), calls: &emulator.Counter{}, user: o.Username, pass: o.Password, o: o,
		repos: map[string]*repo{}, denied: map[string]bool{}, failures: map[string]int{}}
	s.handler = s.routes()
	return s
}

// AddDockerHosted creates a Docker hosted repository with a write policy
// (ALLOW, ALLOW_ONCE, DENY) and latestPolicy, and the settings a UI-made
// repository has.
func (s *Server) AddDockerHosted(name, writePolicy string, latestPolicy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &repo{name: name, format: "docker", typ: "hosted", images: map[string]map[string]tag{},
		settings: map[string]any{
			"name": name, "online": true,
			"storage": map[string]any{"blobStoreName": "default", "strictContentTypeValidation": true,
				"writePolicy": writePolicy, "latestPolicy": latestPolicy},
			"cleanup":   map[string]any{"policyNames": []any{"weekly"}},
			"component": map[string]any{"proprietaryComponents": false},
			"docker":    map[string]any{"v1Enabled": false, "forceBasicAuth": true, "httpPort": json.Number("8082"), "httpsPort": nil, "subdomain": nil},
		}}
}

// AddOther creates a repository of another format or type (listed, never
// audited).
func (s *Server) AddOther(name, format, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &repo{name: name, format: format, typ: typ, settings: map[string]any{"name": name}, images: map[string]map[string]tag{}}
}

// AddImage stores tags of an image in a repository.
func (s *Server) AddImage(repoName, image string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[repoName]
	if !ok {
		return fmt.Errorf("nexus emulator: repository %q does not exist", repoName)
	}
	if r.images[image] == nil {
		r.images[image] = map[string]tag{}
	}
	for _, t := range tags {
		r.images[image][t] = tag{digest: sha([]byte(repoName + "/" + image + ":" + t)), pushed: time.Now().UTC().Truncate(time.Millisecond)}
	}
	return nil
}

// Settings returns a copy of a repository's stored settings (JSON round trip).
func (s *Server) Settings(name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(r.settings)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// Digest returns the digest of a tag ("" when absent).
func (s *Server) Digest(repoName, image, t string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[repoName]; ok {
		return r.images[image][t].digest
	}
	return ""
}

// Deny makes every call about a repository answer 403, as for a user who
// may browse it (it is listed) but not read its settings or content.
func (s *Server) Deny(name string, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if deny {
		s.denied[name] = true
	} else {
		delete(s.denied, name)
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// ---- HTTP ----

const rest = "/service/rest/v1"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, h http.HandlerFunc) { mux.Handle(pattern, s.wrap(op, h)) }
	api("GET "+rest+"/repositories", "getRepositories", s.list)
	api("GET "+rest+"/repositories/docker/hosted/{name}", "getDockerHostedRepository", s.get)
	api("PUT "+rest+"/repositories/docker/hosted/{name}", "updateDockerHostedRepository", s.put)
	api("GET "+rest+"/search", "search", s.search)
	api("GET /repository/{repo}/v2/_catalog", "catalog", s.catalog)
	api("PUT /repository/{repo}/v2/{path...}", "pushManifest", s.push)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fault(w, http.StatusNotFound) })
	return mux
}

// fault writes a siesta fault body.
func fault(w http.ResponseWriter, status int) {
	emulator.WriteJSON(w, status, emulator.ContentJSON, map[string]any{
		"status-code": status, "siesta-faultid": "00000000-0000-0000-0000-000000000000",
		"status-message": strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
	})
}

func validation(w http.ResponseWriter, msg string) {
	emulator.WriteJSON(w, http.StatusBadRequest, emulator.ContentJSON, []map[string]string{{"id": "PARAMETER", "message": msg}})
}

func (s *Server) wrap(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		if emulator.Inject(s.faults, w, r, func(w http.ResponseWriter, _ *http.Request) { fault(w, http.StatusTooManyRequests) },
			func(w http.ResponseWriter, _ *http.Request) { fault(w, http.StatusInternalServerError) }) {
			return
		}
		user, pass, ok := r.BasicAuth()
		s.mu.Lock()
		blocked := ok && s.failures[user] > 3
		good := ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) == 1 && subtle.ConstantTimeCompare([]byte(pass), []byte(s.pass)) == 1
		if ok && !good && !blocked {
			s.failures[user]++
		}
		s.mu.Unlock()
		switch {
		case blocked:
			w.Header().Set("Retry-After", "30")
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "<html><body><h2>HTTP ERROR 429 Too many authentication attempts</h2></body></html>")
			return
		case !good:
			w.Header().Set("WWW-Authenticate", `BASIC realm="Sonatype Nexus Repository Manager"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h(w, r)
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.repos))
	for n := range s.repos {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		rp := s.repos[n]
		out = append(out, map[string]any{"name": n, "format": rp.format, "type": rp.typ,
			"url": emulator.BaseURL(r) + "/repository/" + n, "attributes": map[string]any{}})
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

func (s *Server) hosted(w http.ResponseWriter, name string) *repo {
	rp, ok := s.repos[name]
	switch {
	case ok && s.denied[name]:
		fault(w, http.StatusForbidden)
		return nil
	case !ok || rp.format != "docker" || rp.typ != "hosted":
		fault(w, http.StatusNotFound)
		return nil
	}
	return rp
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.hosted(w, r.PathValue("name"))
	if rp == nil {
		return
	}
	out := map[string]any{"format": "docker", "type": "hosted", "url": emulator.BaseURL(r) + "/repository/" + rp.name}
	for k, v := range rp.settings {
		out[k] = v
	}
	st, _ := rp.settings["storage"].(map[string]any)
	cp := map[string]any{}
	for k, v := range st {
		cp[k] = v
	}
	if s.o.HideLatestPolicy {
		delete(cp, "latestPolicy")
	}
	out["storage"] = cp
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, out)
}

// requestFields are the fields DockerHostedRepositoryApiRequest accepts.
var requestFields = []string{"name", "online", "storage", "cleanup", "component", "docker"}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		validation(w, "Unable to process input: "+err.Error())
		return
	}
	for k := range body {
		if !slices.Contains(requestFields, k) {
			validation(w, fmt.Sprintf("Unrecognized field %q", k))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.hosted(w, r.PathValue("name"))
	if rp == nil {
		return
	}
	if body["name"] != rp.name {
		validation(w, "Renaming a repository is not supported")
		return
	}
	st, _ := body["storage"].(map[string]any)
	wp, _ := st["writePolicy"].(string)
	if st == nil || st["blobStoreName"] == nil || st["strictContentTypeValidation"] == nil {
		validation(w, "storage: blobStoreName and strictContentTypeValidation are required")
		return
	}
	switch strings.ToUpper(wp) {
	case "ALLOW", "ALLOW_ONCE", "DENY":
		st["writePolicy"] = strings.ToUpper(wp)
	default:
		validation(w, "storage.writePolicy: must be one of ALLOW, ALLOW_ONCE, DENY")
		return
	}
	if _, ok := body["online"].(bool); !ok {
		validation(w, "online: may not be null")
		return
	}
	if d, ok := body["docker"].(map[string]any); !ok || d["v1Enabled"] == nil || d["forceBasicAuth"] == nil {
		validation(w, "docker: v1Enabled and forceBasicAuth are required")
		return
	}
	rp.settings = body
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, ok := s.repos[q.Get("repository")]
	if !ok || s.denied[rp.name] {
		emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"items": []any{}, "continuationToken": nil})
		return
	}
	type item struct{ image, tag string }
	var items []item
	for img, tags := range rp.images {
		if n := q.Get("name"); n != "" && n != img {
			continue
		}
		for t := range tags {
			items = append(items, item{img, t})
		}
	}
	sort.Slice(items, func(i, j int) bool {
		return items[i].image < items[j].image || (items[i].image == items[j].image && items[i].tag < items[j].tag)
	})
	start, _ := strconv.Atoi(q.Get("continuationToken"))
	size := 50
	if f := s.faults.Faults().PageSize; f > 0 {
		size = min(size, f)
	}
	start = min(max(start, 0), len(items))
	end := min(len(items), start+size)
	out := make([]map[string]any, 0, end-start)
	for _, it := range items[start:end] {
		tg := rp.images[it.image][it.tag]
		out = append(out, map[string]any{
			"id": hex.EncodeToString([]byte(rp.name + ":" + it.image + ":" + it.tag)), "repository": rp.name, "format": "docker",
			"group": nil, "name": it.image, "version": it.tag,
			"assets": []map[string]any{{
				"path": "/v2/" + it.image + "/manifests/" + it.tag, "format": "docker",
				"checksum":     map[string]string{"sha256": strings.TrimPrefix(tg.digest, "sha256:")},
				"lastModified": tg.pushed.Format("2006-01-02T15:04:05.000Z07:00"),
			}},
		})
	}
	var token any
	if end < len(items) {
		token = strconv.Itoa(end)
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"items": out, "continuationToken": token})
}

func registryError(w http.ResponseWriter, status int, code, msg string) {
	emulator.RegistryError(w, status, code, msg)
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("repo")
	rp, ok := s.repos[name]
	if !ok || s.denied[name] {
		registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	images := make([]string, 0, len(rp.images))
	for img := range rp.images {
		images = append(images, img)
	}
	images, n, more := emulator.PageNames(r, images, 1000, s.faults.Faults().PageSize)
	if more {
		path := "/repository/" + name + "/v2/_catalog"
		if s.o.LegacyCatalogLink {
			path = "/v2/_catalog"
		}
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {images[n-1]}}
		// The link names the origin the request came in on, as a server
		// behind a reverse proxy that forwards Host does, so a client that
		// reached the emulator through a proxy is sent back through it.
		base := "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
		w.Header().Set("Link", "<"+base+path+"?"+q.Encode()+`>; rel="next"`)
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"repositories": images})
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	image, ref, body, ok := emulator.ManifestPut(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.hosted(w, r.PathValue("repo"))
	if rp == nil {
		return
	}
	st, _ := rp.settings["storage"].(map[string]any)
	wp, _ := st["writePolicy"].(string)
	lp, _ := st["latestPolicy"].(bool)
	_, exists := rp.images[image][ref]
	switch {
	case wp == "DENY":
		registryError(w, http.StatusBadRequest, "DENIED", "Repository is read-only: "+rp.name)
		return
	case wp == "ALLOW_ONCE" && exists && !(ref == "latest" && lp):
		registryError(w, http.StatusBadRequest, "DENIED", "Repository does not allow updating assets: "+rp.name)
		return
	}
	if rp.images[image] == nil {
		rp.images[image] = map[string]tag{}
	}
	d := sha(body)
	rp.images[image][ref] = tag{digest: d, pushed: time.Now().UTC().Truncate(time.Millisecond)}
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
