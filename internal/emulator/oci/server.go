// Package oci emulates a Docker/OCI distribution registry for tests, the
// demo and the sandbox. The storage and the manifest, tag and blob routes
// are go-containerregistry's in-memory registry (pkg/registry); this
// package adds what that registry leaves out and real ones have:
//
//   - the Docker token flow: a 401 challenge naming a realm on the same
//     server, a token endpoint that takes HTTP Basic credentials and mints a
//     short-lived bearer token, and bearer checks on every /v2/ call;
//   - /v2/_catalog and tags/list paging with n, last and a Link header,
//     lexical order, as distribution does;
//   - fault injection (latency, 5xx, 429 with Retry-After, page size),
//     call counters, access denial, and switches for registries that omit
//     Docker-Content-Digest on HEAD or do not offer the catalog.
//
// Everything is in memory and safe for concurrent use.
package oci

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/immutag/immutag/internal/emulator"
)

// DefaultCatalogPageSize is distribution's default catalog page (n absent).
const DefaultCatalogPageSize = 100

// TokenLifetime is how long a minted token is valid (distribution's token
// servers default to 60 s to a few minutes).
const TokenLifetime = 5 * time.Minute

// Options configure a Server.
type Options struct {
	// Username and Password, when set, are required (HTTP Basic) at the
	// token endpoint, and every /v2/ call needs a token from it. Empty means
	// an open registry.
	Username, Password string
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
	// NoHeadDigest answers manifest HEADs without Docker-Content-Digest
	// (the header is a SHOULD in the distribution spec).
	NoHeadDigest bool
	// NoCatalog answers /v2/_catalog with 404, as registries without the
	// Docker extension do.
	NoCatalog bool
}

// Server is one emulated registry.
type Server struct {
	// Faults injects latency, errors and 429s into every /v2/ call.
	faults *emulator.Injector
	// Calls counts calls by operation: ping, token, catalog, tags,
	// manifest-head, manifest-get, manifest-put, blob; throttled and failed
	// ones included.
	calls emulator.Counter

	o     Options
	inner http.Handler
	key   []byte

	mu     sync.Mutex
	repos  map[string]struct{}
	denied bool

	base seedBase
}

// New returns a registry; serve Handler() on a listener the caller owns.
func New(o Options) *Server {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Server{
		faults: emulator.NewInjector(o.Faults),
		o:      o,
		inner:  registry.New(registry.Logger(nopLogger())),
		key:    key,
		repos:  map[string]struct{}{},
	}
}

// SetDenied makes every /v2/ call answer 403 DENIED (or lifts it).
func (s *Server) SetDenied(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied = on
}

// Repositories returns the repositories holding at least one manifest, sorted.
func (s *Server) Repositories() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.repos))
	for r := range s.repos {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Handler serves the registry.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.calls.Inc("token")
		s.token(w, r)
		return
	}
	if r.URL.Path != "/v2" && !strings.HasPrefix(r.URL.Path, "/v2/") {
		regError(w, http.StatusNotFound, "NOT_FOUND", "not a registry route")
		return
	}
	op := operation(r)
	s.calls.Inc(op)
	if emulator.Inject(s.faults, w, r, func(w http.ResponseWriter, _ *http.Request) {
		regError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
	}, func(w http.ResponseWriter, _ *http.Request) {
		regError(w, http.StatusInternalServerError, "UNKNOWN", "injected server error")
	}) {
		return
	}
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	denied := s.denied
	s.mu.Unlock()
	if denied {
		regError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return
	}
	switch op {
	case "catalog":
		s.catalog(w, r)
	case "tags":
		s.tags(w, r)
	case "manifest-put":
		rec := httptest.NewRecorder()
		s.inner.ServeHTTP(rec, r)
		if rec.Code == http.StatusCreated {
			if repo, _, ok := splitManifestPath(r.URL.Path); ok {
				s.mu.Lock()
				s.repos[repo] = struct{}{}
				s.mu.Unlock()
			}
		}
		copyRecorder(w, rec)
	case "manifest-head":
		if !s.o.NoHeadDigest {
			s.inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		s.inner.ServeHTTP(rec, r)
		rec.Header().Del("Docker-Content-Digest")
		copyRecorder(w, rec)
	default:
		s.inner.ServeHTTP(w, r)
	}
}

// operation names a /v2/ call for the counters.
func operation(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2" || p == "/v2/":
		return "ping"
	case p == "/v2/_catalog":
		return "catalog"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	case strings.Contains(p, "/manifests/"):
		switch r.Method {
		case http.MethodHead:
			return "manifest-head"
		case http.MethodGet:
			return "manifest-get"
		case http.MethodPut:
			return "manifest-put"
		}
		return "manifest-" + strings.ToLower(r.Method)
	case strings.Contains(p, "/blobs/"):
		return "blob"
	}
	return "other"
}

func splitManifestPath(p string) (repo, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

// authorized checks the bearer token; without one it answers the 401
// challenge that starts the Docker token flow.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.o.Username == "" {
		return true
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.validToken(tok) {
		return true
	}
	scope := ""
	if op := operation(r); op == "catalog" {
		scope = "registry:catalog:*"
	} else if repo := repoOf(r.URL.Path); repo != "" {
		actions := "pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			actions = "pull,push"
		}
		scope = "repository:" + repo + ":" + actions
	}
	ch := fmt.Sprintf(`Bearer realm="http://%s/token",service="immutag-emulator"`, r.Host)
	if scope != "" {
		ch += fmt.Sprintf(`,scope=%q`, scope)
	}
	w.Header().Set("WWW-Authenticate", ch)
	regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// repoOf extracts the repository name from a /v2/<name>/(manifests|blobs|tags)/ path.
func repoOf(p string) string {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return ""
	}
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.LastIndex(rest, sep); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

// token is the token endpoint: Basic credentials in, {"token", "expires_in"} out.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "GET only")
		return
	}
	u, p, ok := r.BasicAuth()
	if s.o.Username != "" && (!ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.o.Username)) != 1 ||
		subtle.ConstantTimeCompare([]byte(p), []byte(s.o.Password)) != 1) {
		w.Header().Set("WWW-Authenticate", `Basic realm="immutag-emulator"`)
		regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
		return
	}
	exp := time.Now().Add(TokenLifetime).Unix()
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{
		"token":      s.sign(exp),
		"expires_in": int(TokenLifetime.Seconds()),
		"issued_at":  time.Now().UTC().Format(time.RFC3339),
	})
}

// sign makes a stateless token: expiry and its HMAC.
func (s *Server) sign(exp int64) string {
	m := hmac.New(sha256.New, s.key)
	e := strconv.FormatInt(exp, 10)
	m.Write([]byte(e))
	return e + "." + hex.EncodeToString(m.Sum(nil))
}

func (s *Server) validToken(tok string) bool {
	e, _, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(tok), []byte(s.sign(exp)))
}

// page applies n (capped by the page-size fault) and last to a sorted list
// and sets the Link header when more remain.
func (s *Server) page(w http.ResponseWriter, r *http.Request, all []string, defaultN int) ([]string, error) {
	q := r.URL.Query()
	n := defaultN
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return nil, fmt.Errorf("n %q: want a number >= 0", v)
		}
	}
	if ps := s.faults.Faults().PageSize; ps > 0 && (n <= 0 || n > ps) {
		n = ps
	}
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if q.Has("n") && n == 0 {
		return []string{}, nil
	}
	if n > 0 && len(all) > n {
		all = all[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {all[len(all)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	return all, nil
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	if s.o.NoCatalog {
		regError(w, http.StatusNotFound, "NOT_FOUND", "the catalog is not offered")
		return
	}
	repos, err := s.page(w, r, s.Repositories(), DefaultCatalogPageSize)
	if err != nil {
		regError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", err.Error())
		return
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"repositories": repos})
}

// tags serves tags/list from the inner registry's full list, paged here.
func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	in := r.Clone(r.Context())
	in.URL.RawQuery = ""
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, in)
	if rec.Code != http.StatusOK {
		copyRecorder(w, rec)
		return
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		regError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	slices.Sort(body.Tags)
	tags, err := s.page(w, r, body.Tags, 0)
	if err != nil {
		regError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", err.Error())
		return
	}
	emulator.WriteJSON(w, http.StatusOK, emulator.ContentJSON, map[string]any{"name": body.Name, "tags": tags})
}

func copyRecorder(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// regError writes a distribution-spec error body.
func regError(w http.ResponseWriter, status int, code, msg string) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	w.Header().Set("Content-Type", emulator.ContentJSON)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// SetFaults replaces the injected faults (tests change them mid-run).
func (s *Server) SetFaults(f emulator.Faults) { s.faults.Set(f) }

// Calls counts the API calls served, by operation.
func (s *Server) Calls() *emulator.Counter { return &s.calls }
