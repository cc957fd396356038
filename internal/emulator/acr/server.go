// Package acr is a wire-level emulator of the Azure Container Registry data
// plane (api-version 2021-07-01): the 401 challenge and token endpoints, the
// repository catalog, tag listings with their changeableAttributes, tag
// attribute GET/PATCH, Link-header paging, SKU write throttling and fault
// injection. The official azcontainerregistry SDK works against it unchanged.
//
// It serves TLS only, because azcore refuses to send bearer tokens over plain
// HTTP; callers trust the server through CACertPEM or WriteCAFile.
package acr

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/immutag/immutag/internal/emulator"
)

// SKU write limits in write operations per minute (Microsoft's published
// minimum estimates for Basic, Standard and Premium registries).
const (
	BasicWritesPerMinute    = 100
	StandardWritesPerMinute = 500
	PremiumWritesPerMinute  = 2000
)

// DefaultPageSize is the page size used when a listing request has no n.
const DefaultPageSize = 100

// Options configures a Server. The zero value is a Basic registry with no
// users, no accepted AAD tokens and no faults.
type Options struct {
	// SKU is Basic, Standard or Premium (default Basic; any other name is
	// Basic too); it sets the write limit unless WritesPerMinute is set.
	SKU string
	// WritesPerMinute overrides the SKU write limit; negative disables
	// write throttling.
	WritesPerMinute int
	// Faults are injected into every /acr/v1 call.
	Faults emulator.Faults
	// TokenTTL is the lifetime of issued access tokens (default 75 minutes,
	// ACR's own value); refresh tokens live three hours.
	TokenTTL time.Duration
}

// Tag is a snapshot of one tag's state.
type Tag struct {
	Name          string
	Digest        string
	Created       time.Time
	Updated       time.Time
	WriteEnabled  bool
	DeleteEnabled bool
	ReadEnabled   bool
	ListEnabled   bool
}

// Locked reports whether the tag is write-locked (ACR's tag immutability).
func (t Tag) Locked() bool { return !t.WriteEnabled }

// Server is an ACR data-plane emulator.
type Server struct {
	// faults applies latency, error and throttle faults to /acr/v1 calls.
	faults *emulator.Injector
	// calls counts calls by operation ("PATCH tag", "GET tags", ...);
	// answers other than 2xx are counted as "<op> <status>".
	calls *emulator.Counter

	key     []byte
	ttl     time.Duration
	started time.Time

	mu        sync.Mutex
	repos     map[string]*repoState
	repoNames []string
	repoDirty bool
	users     map[string]string
	aad       map[string]bool
	denied    map[string]bool
	writeLim  *rate.Limiter
	firstW    time.Time
	lastW     time.Time

	busyMu sync.Mutex
	busy   int
	idle   *sync.Cond
}

type repoState struct {
	tags    map[string]*tagState
	names   []string
	dirty   bool
	created int64
	updated int64
	attrs   attrs
}

// tagState is kept small because a registry may hold 100,000 tags: the
// digest is derived from (repository, tag, version) on demand.
type tagState struct {
	version uint32
	created int64
	updated int64
	attrs   attrs
}

type attrs struct {
	write, del, read, list bool
}

var allEnabled = attrs{write: true, del: true, read: true, list: true}

// New returns an emulator with no repositories. It serves nothing until the
// caller serves Handler, over TLS as ACR is only reached over HTTPS
// (emulator.ServeLoopbackTLS): the host a request names is the registry's
// login server, its token service and audience.
func New(o Options) *Server {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it crashes the program instead)
	s := &Server{
		faults:  emulator.NewInjector(o.Faults),
		calls:   &emulator.Counter{},
		key:     key,
		ttl:     o.TokenTTL,
		started: time.Now(),
		repos:   map[string]*repoState{},
		users:   map[string]string{},
		aad:     map[string]bool{},
		denied:  map[string]bool{},
	}
	s.idle = sync.NewCond(&s.busyMu)
	if s.ttl <= 0 {
		s.ttl = 75 * time.Minute
	}
	perMin := o.WritesPerMinute
	if perMin == 0 {
		perMin = skuWrites(o.SKU)
	}
	s.SetWritesPerMinute(perMin)
	return s
}

// Handler serves the emulated data-plane API. The caller owns the
// listener, as with go-containerregistry's registry.New.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func skuWrites(sku string) int {
	switch sku {
	case "", "Basic", "basic", "Classic", "classic":
		return BasicWritesPerMinute
	case "Standard", "standard":
		return StandardWritesPerMinute
	case "Premium", "premium":
		return PremiumWritesPerMinute
	}
	return BasicWritesPerMinute
}

// SetWritesPerMinute changes the write throttle; n < 0 disables it. The
// bucket refills continuously and holds at most ten seconds' worth of writes,
// so a client that paces itself at the limit is never throttled.
func (s *Server) SetWritesPerMinute(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		s.writeLim = nil
		return
	}
	perSec := float64(n) / 60
	s.writeLim = rate.NewLimiter(rate.Limit(perSec), max(1, int(math.Ceil(perSec*10))))
}

func (s *Server) enter() {
	s.busyMu.Lock()
	s.busy++
	s.busyMu.Unlock()
}

func (s *Server) leave() {
	s.busyMu.Lock()
	s.busy--
	if s.busy == 0 {
		s.idle.Broadcast()
	}
	s.busyMu.Unlock()
}

// WaitIdle blocks until no request is being handled. A client that gave up
// on a request (cancelled context) may still see it applied afterwards;
// tests call this before comparing their view with the registry's.
func (s *Server) WaitIdle() {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	for s.busy > 0 {
		s.idle.Wait()
	}
}

// AddUser accepts username/password on GET /oauth2/token (admin user or
// repository-scoped token credentials).
func (s *Server) AddUser(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[user] = password
}

// AcceptAADToken makes POST /oauth2/exchange accept tok as a valid Entra ID
// access token.
func (s *Server) AcceptAADToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aad[tok] = true
}

// Deny answers 403 DENIED to authenticated calls on resource: a repository
// name, or "registry:catalog" for the catalog.
func (s *Server) Deny(resource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[resource] = true
}

// AddRepository creates an empty repository (no-op when it exists).
func (s *Server) AddRepository(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repoLocked(name)
}

func (s *Server) repoLocked(name string) *repoState {
	r := s.repos[name]
	if r == nil {
		now := time.Now().UnixNano()
		r = &repoState{tags: map[string]*tagState{}, created: now, updated: now, attrs: allEnabled}
		s.repos[name] = r
		s.repoNames = append(s.repoNames, name)
		s.repoDirty = true
	}
	return r
}

// AddTag seeds a tag (creating the repository if needed). locked sets
// writeEnabled=false and deleteEnabled=false, as `az acr repository update
// --write-enabled false --delete-enabled false` would. An existing tag is
// overwritten regardless of its lock: this is seeding, not a push.
func (s *Server) AddTag(repo, tag string, locked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	now := time.Now().UnixNano()
	t := r.tags[tag]
	if t == nil {
		t = &tagState{created: now}
		r.tags[tag] = t
		r.names = append(r.names, tag)
		r.dirty = true
	}
	t.version++
	t.updated = now
	t.attrs = allEnabled
	if locked {
		t.attrs.write, t.attrs.del = false, false
	}
	r.updated = now
}

// DeleteTag removes a tag regardless of its locks (test helper, like an
// administrator purge); it reports whether the tag existed.
func (s *Server) DeleteTag(repo, tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil || r.tags[tag] == nil {
		return false
	}
	delete(r.tags, tag)
	r.names = slices.DeleteFunc(r.names, func(n string) bool { return n == tag })
	return true
}

// ErrRepositoryLocked is returned by PushTag when the repository itself has
// writeEnabled=false (which blocks every push, new tags included).
var ErrRepositoryLocked = errors.New("repository is write-locked")

// PushTag pushes tag to repo as a new image, the way `docker push` would:
// a new tag starts unlocked, an unlocked tag is re-pointed, and a locked tag
// (writeEnabled=false) is refused with an error wrapping
// emulator.ErrTagImmutable.
func (s *Server) PushTag(repo, tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	if !r.attrs.write {
		return fmt.Errorf("push %s:%s: %w", repo, tag, ErrRepositoryLocked)
	}
	now := time.Now().UnixNano()
	t := r.tags[tag]
	if t != nil && !t.attrs.write {
		return fmt.Errorf("push %s:%s: tag is write-locked: %w", repo, tag, emulator.ErrTagImmutable)
	}
	if t == nil {
		t = &tagState{created: now, attrs: allEnabled}
		r.tags[tag] = t
		r.names = append(r.names, tag)
		r.dirty = true
	}
	t.version++
	t.updated = now
	r.updated = now
	return nil
}

// SetRepositoryWritable sets the repository-level writeEnabled flag (the
// whole-repository lock that blocks every push).
func (s *Server) SetRepositoryWritable(repo string, writable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repoLocked(repo).attrs.write = writable
}

// RepositoryWritable reports the repository-level writeEnabled flag.
func (s *Server) RepositoryWritable(repo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	return r == nil || r.attrs.write
}

// Tag returns the state of one tag.
func (s *Server) Tag(repo, tag string) (Tag, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		return Tag{}, false
	}
	t := r.tags[tag]
	if t == nil {
		return Tag{}, false
	}
	return tagView(repo, tag, t), true
}

// RangeTags calls fn for every tag of repo in name order until fn returns
// false. fn must not call back into the Server.
func (s *Server) RangeTags(repo string, fn func(Tag) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		return
	}
	for _, n := range r.sortedNames() {
		if !fn(tagView(repo, n, r.tags[n])) {
			return
		}
	}
}

// Counts returns how many tags repo holds and how many are write-locked.
func (s *Server) Counts(repo string) (total, locked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		return 0, 0
	}
	for _, t := range r.tags {
		total++
		if !t.attrs.write {
			locked++
		}
	}
	return total, locked
}

// Repositories returns the repository names in catalog order.
func (s *Server) Repositories() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sortedRepos())
}

// WriteWindow returns when the first and the last successful tag or
// repository PATCH were served (zero times when none was).
func (s *Server) WriteWindow() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstW, s.lastW
}

func (s *Server) sortedRepos() []string {
	if s.repoDirty {
		slices.Sort(s.repoNames)
		s.repoDirty = false
	}
	return s.repoNames
}

func (r *repoState) sortedNames() []string {
	if r.dirty {
		slices.Sort(r.names)
		r.dirty = false
	}
	return r.names
}

func tagView(repo, name string, t *tagState) Tag {
	return Tag{
		Name:          name,
		Digest:        digest(repo, name, t.version),
		Created:       time.Unix(0, t.created).UTC(),
		Updated:       time.Unix(0, t.updated).UTC(),
		WriteEnabled:  t.attrs.write,
		DeleteEnabled: t.attrs.del,
		ReadEnabled:   t.attrs.read,
		ListEnabled:   t.attrs.list,
	}
}

func digest(repo, tag string, version uint32) string {
	h := sha256.New()
	h.Write([]byte(repo))
	h.Write([]byte{0})
	h.Write([]byte(tag))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatUint(uint64(version), 10)))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (s *Server) sign(b []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// SetFaults replaces the injected faults (tests change them mid-run).
func (s *Server) SetFaults(f emulator.Faults) { s.faults.Set(f) }

// Calls counts the API calls served, by operation.
func (s *Server) Calls() *emulator.Counter { return s.calls }
