package acr

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// Wire shapes (acr-dataplane.json definitions).

type changeable struct {
	DeleteEnabled *bool `json:"deleteEnabled,omitempty"`
	WriteEnabled  *bool `json:"writeEnabled,omitempty"`
	ListEnabled   *bool `json:"listEnabled,omitempty"`
	ReadEnabled   *bool `json:"readEnabled,omitempty"`
}

type tagBase struct {
	Name                 string     `json:"name"`
	Digest               string     `json:"digest"`
	CreatedTime          string     `json:"createdTime"`
	LastUpdateTime       string     `json:"lastUpdateTime"`
	ChangeableAttributes changeable `json:"changeableAttributes"`
}

type tagList struct {
	Registry  string    `json:"registry"`
	ImageName string    `json:"imageName"`
	Tags      []tagBase `json:"tags"`
}

type tagAttributes struct {
	Registry  string  `json:"registry"`
	ImageName string  `json:"imageName"`
	Tag       tagBase `json:"tag"`
}

type repositoryAttributes struct {
	Registry             string     `json:"registry"`
	ImageName            string     `json:"imageName"`
	CreatedTime          string     `json:"createdTime"`
	LastUpdateTime       string     `json:"lastUpdateTime"`
	ManifestCount        int        `json:"manifestCount"`
	TagCount             int        `json:"tagCount"`
	ChangeableAttributes changeable `json:"changeableAttributes"`
}

type acrError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func (a attrs) wire() changeable {
	return changeable{DeleteEnabled: ptr(a.del), WriteEnabled: ptr(a.write), ListEnabled: ptr(a.list), ReadEnabled: ptr(a.read)}
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func (s *Server) writeJSON(w http.ResponseWriter, op string, status int, v any) {
	s.count(op, status)
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	emulator.WriteJSON(w, status, emulator.ContentJSONUTF8, v)
}

func (s *Server) writeError(w http.ResponseWriter, op string, status int, code, msg string, detail any) {
	s.writeJSON(w, op, status, map[string][]acrError{"errors": {{Code: code, Message: msg, Detail: detail}}})
}

func (s *Server) count(op string, status int) {
	if status >= 200 && status < 300 {
		s.calls.Inc(op)
		return
	}
	s.calls.Inc(op + " " + strconv.Itoa(status))
}

func (s *Server) serveHTTP(w http.ResponseWriter, req *http.Request) {
	s.enter()
	defer s.leave()
	p := req.URL.EscapedPath()
	switch {
	case p == "/oauth2/exchange":
		s.handleExchange(w, req)
	case p == "/oauth2/token":
		s.handleToken(w, req)
	case p == "/v2/" || p == "/v2":
		s.handleV2(w, req)
	case strings.HasPrefix(p, "/acr/v1/"):
		s.handleACR(w, req, strings.TrimPrefix(p, "/acr/v1/"))
	default:
		s.writeError(w, req.Method+" other", http.StatusNotFound, "NOT_FOUND", "the emulator does not serve "+p, nil)
	}
}

// handleV2 is the docker API version check: 401 challenge, then 200.
func (s *Server) handleV2(w http.ResponseWriter, req *http.Request) {
	const op = "GET v2"
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		if _, valid := s.verify(req.Host, tok, "access"); valid {
			s.writeJSON(w, op, http.StatusOK, map[string]any{})
			return
		}
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, req.Host, req.Host))
	s.writeError(w, op, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
}

// handleACR routes /acr/v1/... . Repository names arrive percent-escaped
// (team%2Fapp) from the SDK; unescaped slashes are accepted too, so the
// name is everything before the _tags or _manifests segment.
func (s *Server) handleACR(w http.ResponseWriter, req *http.Request, rest string) {
	if rest == "_catalog" {
		if req.Method != http.MethodGet {
			s.writeError(w, req.Method+" catalog", http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
			return
		}
		s.handleCatalog(w, req)
		return
	}
	segs := strings.Split(rest, "/")
	kind, ref := "", ""
	switch {
	case len(segs) >= 2 && segs[len(segs)-1] == "_tags":
		kind, segs = "tags", segs[:len(segs)-1]
	case len(segs) >= 3 && segs[len(segs)-2] == "_tags":
		kind, ref, segs = "tag", segs[len(segs)-1], segs[:len(segs)-2]
	case len(segs) >= 2 && (segs[len(segs)-1] == "_manifests" || segs[len(segs)-2] == "_manifests"):
		s.writeError(w, req.Method+" manifests", http.StatusNotFound, "NOT_FOUND", "manifest operations are not emulated", nil)
		return
	default:
		kind = "repository"
	}
	name, err := url.PathUnescape(strings.Join(segs, "/"))
	if err == nil && ref != "" {
		ref, err = url.PathUnescape(ref)
	}
	if err != nil || name == "" {
		s.writeError(w, req.Method+" "+kind, http.StatusBadRequest, "NAME_INVALID", "invalid repository name", nil)
		return
	}
	switch kind + " " + req.Method {
	case "tags GET":
		s.handleListTags(w, req, name)
	case "tag GET":
		s.handleGetTag(w, req, name, ref)
	case "tag PATCH":
		s.handlePatchTag(w, req, name, ref)
	case "repository GET":
		s.handleRepository(w, req, name, false)
	case "repository PATCH":
		s.handleRepository(w, req, name, true)
	default:
		s.writeError(w, req.Method+" "+kind, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
	}
}

// admit runs the checks every data-plane call goes through, in the order a
// client sees them: authentication (401), injected faults, RBAC (403), and
// for writes the SKU throttle (429). It writes the answer and returns false
// when the call must stop.
func (s *Server) admit(w http.ResponseWriter, req *http.Request, op string, r resource, write bool) bool {
	if !s.authorize(w, req, op, r) {
		return false
	}
	switch s.faults.Before(req.Context()) {
	case emulator.Throttle:
		s.throttled(w, op, s.faults.Faults().RetryAfter)
		return false
	case emulator.Fail:
		s.writeError(w, op, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "injected failure", nil)
		return false
	}
	s.mu.Lock()
	denied := s.denied[r.denyKey()]
	lim := s.writeLim
	s.mu.Unlock()
	if denied {
		s.writeError(w, op, http.StatusForbidden, "DENIED", "requested access to the resource is denied", nil)
		return false
	}
	if write && lim != nil {
		now := time.Now()
		res := lim.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			s.throttled(w, op, d)
			return false
		}
	}
	return true
}

// throttled answers 429. Retry-After carries whole seconds as ACR does;
// sub-second injected delays also go out as retry-after-ms (which azcore
// prefers) so tests need not sleep a full second.
func (s *Server) throttled(w http.ResponseWriter, op string, d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	w.Header().Set("Retry-After", emulator.RetryAfter(d))
	if d%time.Second != 0 {
		w.Header().Set("retry-after-ms", strconv.FormatInt(max(1, d.Milliseconds()), 10))
	}
	s.writeError(w, op, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests, retry later", nil)
}

// pageSize reads n, capped by the injected page size.
func (s *Server) pageSize(q url.Values) (int, bool) {
	n := DefaultPageSize
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			return 0, false
		}
	}
	if ps := s.faults.Faults().PageSize; ps > 0 && n > ps {
		n = ps
	}
	return n, true
}

func (s *Server) handleCatalog(w http.ResponseWriter, req *http.Request) {
	const op = "GET catalog"
	if !s.admit(w, req, op, resource{"registry", "catalog", "*"}, false) {
		return
	}
	q := req.URL.Query()
	n, ok := s.pageSize(q)
	if !ok {
		s.writeError(w, op, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", nil)
		return
	}
	last := q.Get("last")
	s.mu.Lock()
	names := s.sortedRepos()
	i := sort.SearchStrings(names, last)
	if last != "" && i < len(names) && names[i] == last {
		i++
	}
	page := slices.Clone(names[i:min(len(names), i+n)])
	more := i+n < len(names)
	s.mu.Unlock()
	if more {
		w.Header().Set("Link", fmt.Sprintf(`</acr/v1/_catalog?last=%s&n=%d&orderby=>; rel="next"`, url.QueryEscape(page[len(page)-1]), n))
	}
	s.writeJSON(w, op, http.StatusOK, map[string][]string{"repositories": page})
}

func (s *Server) handleListTags(w http.ResponseWriter, req *http.Request, name string) {
	const op = "GET tags"
	if !s.admit(w, req, op, resource{"repository", name, "metadata_read"}, false) {
		return
	}
	q := req.URL.Query()
	n, ok := s.pageSize(q)
	if !ok {
		s.writeError(w, op, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", nil)
		return
	}
	last, orderby, dig := q.Get("last"), q.Get("orderby"), q.Get("digest")
	switch orderby {
	case "", "none", "timeasc", "timedesc":
	default:
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "invalid orderby "+orderby, nil)
		return
	}
	s.mu.Lock()
	r := s.repos[name]
	if r == nil {
		s.mu.Unlock()
		s.nameUnknown(w, op, name)
		return
	}
	order := r.sortedNames()
	start := 0
	if orderby == "timeasc" || orderby == "timedesc" {
		// Time orders are rebuilt per request: fine for an emulator, and
		// the lexical order (what the adapter uses) stays O(page).
		order = slices.Clone(order)
		slices.SortStableFunc(order, func(a, b string) int {
			c := cmp.Compare(r.tags[a].updated, r.tags[b].updated)
			if orderby == "timedesc" {
				c = -c
			}
			return c
		})
		if last != "" {
			if k := slices.Index(order, last); k >= 0 {
				start = k + 1
			}
		}
	} else if last != "" {
		start = sort.SearchStrings(order, last)
		if start < len(order) && order[start] == last {
			start++
		}
	}
	out := tagList{Registry: req.Host, ImageName: name, Tags: []tagBase{}}
	more := false
	for _, tn := range order[start:] {
		t := r.tags[tn]
		if !t.attrs.list {
			continue // listEnabled=false hides a tag from listings
		}
		d := digest(name, tn, t.version)
		if dig != "" && d != dig {
			continue
		}
		if len(out.Tags) == n {
			more = true
			break
		}
		out.Tags = append(out.Tags, tagBase{Name: tn, Digest: d, CreatedTime: stamp(t.created), LastUpdateTime: stamp(t.updated), ChangeableAttributes: t.attrs.wire()})
	}
	s.mu.Unlock()
	if more {
		link := fmt.Sprintf("/acr/v1/%s/_tags?last=%s&n=%d&orderby=%s", url.PathEscape(name),
			url.QueryEscape(out.Tags[len(out.Tags)-1].Name), n, url.QueryEscape(orderby))
		if dig != "" {
			link += "&digest=" + url.QueryEscape(dig)
		}
		w.Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	s.writeJSON(w, op, http.StatusOK, out)
}

// tagLocked finds tag ref of repository name; s.mu must be held. When the
// tag is missing, repoKnown says whether the repository exists.
func (s *Server) tagLocked(name, ref string) (t *tagState, repoKnown bool) {
	r := s.repos[name]
	if r == nil {
		return nil, false
	}
	return r.tags[ref], true
}

// tagView is the tag attributes body for one tag; s.mu must be held.
func (s *Server) tagView(host, name, ref string, t *tagState) tagAttributes {
	return tagAttributes{Registry: host, ImageName: name, Tag: tagBase{Name: ref, Digest: digest(name, ref, t.version),
		CreatedTime: stamp(t.created), LastUpdateTime: stamp(t.updated), ChangeableAttributes: t.attrs.wire()}}
}

// nameUnknown answers 404 NAME_UNKNOWN for a repository the registry does
// not have.
func (s *Server) nameUnknown(w http.ResponseWriter, op, name string) {
	s.writeError(w, op, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry", map[string]string{"name": name})
}

func (s *Server) tagNotFound(w http.ResponseWriter, op, name, ref string, repoKnown bool) {
	if !repoKnown {
		s.nameUnknown(w, op, name)
		return
	}
	s.writeError(w, op, http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist", map[string]string{"name": name, "tag": ref})
}

func (s *Server) handleGetTag(w http.ResponseWriter, req *http.Request, name, ref string) {
	const op = "GET tag"
	if !s.admit(w, req, op, resource{"repository", name, "metadata_read"}, false) {
		return
	}
	s.mu.Lock()
	t, repoKnown := s.tagLocked(name, ref)
	if t == nil {
		s.mu.Unlock()
		s.tagNotFound(w, op, name, ref, repoKnown)
		return
	}
	out := s.tagView(req.Host, name, ref, t)
	s.mu.Unlock()
	s.writeJSON(w, op, http.StatusOK, out)
}

func (s *Server) handlePatchTag(w http.ResponseWriter, req *http.Request, name, ref string) {
	const op = "PATCH tag"
	if !s.admit(w, req, op, resource{"repository", name, "metadata_write"}, true) {
		return
	}
	body, err := decodeChangeable(req)
	if err != nil {
		s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "invalid tag attributes body", nil)
		return
	}
	s.mu.Lock()
	t, repoKnown := s.tagLocked(name, ref)
	if t == nil {
		s.mu.Unlock()
		s.tagNotFound(w, op, name, ref, repoKnown)
		return
	}
	if !t.attrs.write {
		// Counted apart so tests can assert a lock loop never touches a
		// tag that was already locked.
		s.calls.Inc("PATCH locked tag")
	}
	body.apply(&t.attrs)
	s.noteWrite()
	out := s.tagView(req.Host, name, ref, t)
	s.mu.Unlock()
	s.writeJSON(w, op, http.StatusOK, out)
}

// noteWrite records the write window; s.mu must be held.
func (s *Server) noteWrite() {
	now := time.Now()
	if s.firstW.IsZero() {
		s.firstW = now
	}
	s.lastW = now
}

// decodeChangeable reads a partial attributes body; an empty body changes
// nothing, as on ACR.
func decodeChangeable(req *http.Request) (changeable, error) {
	var c changeable
	err := json.NewDecoder(req.Body).Decode(&c)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return c, err
}

func (c changeable) apply(a *attrs) {
	if c.WriteEnabled != nil {
		a.write = *c.WriteEnabled
	}
	if c.DeleteEnabled != nil {
		a.del = *c.DeleteEnabled
	}
	if c.ListEnabled != nil {
		a.list = *c.ListEnabled
	}
	if c.ReadEnabled != nil {
		a.read = *c.ReadEnabled
	}
}

func (s *Server) handleRepository(w http.ResponseWriter, req *http.Request, name string, patch bool) {
	op, action := "GET repository", "metadata_read"
	if patch {
		op, action = "PATCH repository", "metadata_write"
	}
	if !s.admit(w, req, op, resource{"repository", name, action}, patch) {
		return
	}
	var body changeable
	if patch {
		var err error
		if body, err = decodeChangeable(req); err != nil {
			s.writeError(w, op, http.StatusBadRequest, "BAD_REQUEST", "invalid repository attributes body", nil)
			return
		}
	}
	s.mu.Lock()
	r := s.repos[name]
	if r == nil {
		s.mu.Unlock()
		s.nameUnknown(w, op, name)
		return
	}
	if patch {
		body.apply(&r.attrs)
		s.noteWrite()
	}
	out := repositoryAttributes{Registry: req.Host, ImageName: name, CreatedTime: stamp(r.created), LastUpdateTime: stamp(r.updated),
		ManifestCount: len(r.tags), TagCount: len(r.tags), ChangeableAttributes: r.attrs.wire()}
	s.mu.Unlock()
	s.writeJSON(w, op, http.StatusOK, out)
}
