package ecr

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Image tag mutability settings (the four values of ImageTagMutability).
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

const (
	filterTypeWildcard = "WILDCARD"
	maxFilters         = 5
	defaultPage        = 100
	maxPage            = 1000
)

var (
	// Anchored versions of the model's patterns (the model leaves
	// RepositoryName unanchored, the service does not).
	repoNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	prefixRE   = regexp.MustCompile(`^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)$`)
	filterRE   = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
)

type scopeKey struct{ account, region string }

// registry is one account's registry in one region.
type registry struct {
	repos     map[string]*repository
	ptc       map[string]*ptcRule
	templates map[string]*template
}

type repository struct {
	name       string
	created    time.Time
	mutability string
	exclusions []string
	tags       map[string]string // tag -> digest
	images     map[string]*image // digest -> image
}

type image struct {
	digest    string
	manifest  string
	mediaType string
	pushedAt  time.Time
}

type ptcRule struct {
	prefix      string
	upstreamURL string
	upstream    string
	created     time.Time
}

type template struct {
	prefix      string
	description string
	appliedFor  []string
	mutability  string
	exclusions  []string
	customRole  string
	created     time.Time
	updated     time.Time
}

// RepositoryState is a copy of one repository's settings and tags.
type RepositoryState struct {
	Mutability string
	Exclusions []string
	// Tags maps each tag to the digest it points at.
	Tags map[string]string
}

// TemplateState is a copy of one repository creation template.
type TemplateState struct {
	Prefix      string
	Description string
	AppliedFor  []string
	Mutability  string
	Exclusions  []string
}

// reg returns the registry of account x region, creating it; s.mu must be held.
func (s *Server) reg(account, region string) *registry {
	k := scopeKey{account, region}
	r := s.registries[k]
	if r == nil {
		r = &registry{repos: map[string]*repository{}, ptc: map[string]*ptcRule{}, templates: map[string]*template{}}
		s.registries[k] = r
	}
	return r
}

// CreateRepository seeds a repository; mutability "" means MUTABLE and
// exclusions are WILDCARD filters. It validates like the API does.
func (s *Server) CreateRepository(account, region, name, mutability string, exclusions ...string) error {
	if mutability == "" {
		mutability = Mutable
	}
	fs := make([]exclusionFilter, len(exclusions))
	for i, x := range exclusions {
		fs[i] = exclusionFilter{FilterType: filterTypeWildcard, Filter: x}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.createRepository(s.acct(account), region, name, mutability, fs); e != nil {
		return fmt.Errorf("create repository %s in %s/%s: %w", name, s.acct(account), region, e)
	}
	return nil
}

// createRepository validates and stores a repository; s.mu must be held.
func (s *Server) createRepository(account, region, name, mutability string, fs []exclusionFilter) (*repository, *apiError) {
	if e := validateRepoName(name); e != nil {
		return nil, e
	}
	if mutability == "" {
		mutability = Mutable
	}
	ex, e := validateMutability(mutability, fs)
	if e != nil {
		return nil, e
	}
	g := s.reg(account, region)
	if _, dup := g.repos[name]; dup {
		return nil, newErr(400, "RepositoryAlreadyExistsException", fmt.Sprintf(
			"The repository with name '%s' already exists in the registry with id '%s'", name, account))
	}
	r := &repository{name: name, created: s.now(), mutability: mutability, exclusions: ex,
		tags: map[string]string{}, images: map[string]*image{}}
	g.repos[name] = r
	return r, nil
}

// PutImage points tag at digest in a repository, as a push would. The error
// wraps emulator.ErrTagImmutable when the repository's setting refuses to
// move an existing tag. Re-pushing the same digest is a no-op.
func (s *Server) PutImage(account, region, repo, tag, digest string) error {
	account = s.acct(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reg(account, region).repos[repo]
	if r == nil {
		return fmt.Errorf("push %s:%s in %s/%s: %w", repo, tag, account, region, repoNotFound(repo, account))
	}
	if r.tags[tag] == digest {
		return nil
	}
	if e := r.checkTag(tag, digest); e != nil {
		return fmt.Errorf("push %s:%s in %s/%s: %w", repo, tag, account, region, e)
	}
	r.store(&image{digest: digest, pushedAt: s.now()}, tag)
	return nil
}

// checkTag refuses to move an existing tag that the setting makes immutable.
func (r *repository) checkTag(tag, digest string) *apiError {
	old, exists := r.tags[tag]
	if !exists || old == digest || !tagImmutable(r.mutability, r.exclusions, tag) {
		return nil
	}
	return newErr(400, "ImageTagAlreadyExistsException", fmt.Sprintf(
		"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", tag, r.name))
}

// store records an image and (if tag != "") points tag at it.
func (r *repository) store(im *image, tag string) {
	if _, ok := r.images[im.digest]; !ok {
		r.images[im.digest] = im
	}
	if tag != "" {
		r.tags[tag] = im.digest
	}
}

// CreatePullThroughCacheRule seeds a pull-through-cache rule.
func (s *Server) CreatePullThroughCacheRule(account, region, prefix, upstreamURL string) error {
	account = s.acct(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.createPTC(account, region, prefix, upstreamURL, ""); e != nil {
		return fmt.Errorf("create pull-through-cache rule %s in %s/%s: %w", prefix, account, region, e)
	}
	return nil
}

// createPTC validates and stores a rule; s.mu must be held.
func (s *Server) createPTC(account, region, prefix, upstreamURL, upstream string) (*ptcRule, *apiError) {
	if len(prefix) < 2 || len(prefix) > 30 || !prefixRE.MatchString(prefix) {
		return nil, newErr(400, "InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: 'must match %s'", prefixRE))
	}
	if upstreamURL == "" {
		return nil, newErr(400, "InvalidParameterException", "Invalid parameter at 'upstreamRegistryUrl': must not be empty")
	}
	g := s.reg(account, region)
	if _, dup := g.ptc[prefix]; dup {
		return nil, newErr(400, "PullThroughCacheRuleAlreadyExistsException", fmt.Sprintf(
			"A pull through cache rule with prefix '%s' already exists in the registry with id '%s'", prefix, account))
	}
	p := &ptcRule{prefix: prefix, upstreamURL: upstreamURL, upstream: upstream, created: s.now()}
	g.ptc[prefix] = p
	return p, nil
}

// Repository returns a copy of one repository's state.
func (s *Server) Repository(account, region, name string) (RepositoryState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.registries[scopeKey{s.acct(account), region}]
	if g == nil || g.repos[name] == nil {
		return RepositoryState{}, false
	}
	r := g.repos[name]
	return RepositoryState{Mutability: r.mutability, Exclusions: slices.Clone(r.exclusions), Tags: maps.Clone(r.tags)}, true
}

// Template returns a copy of one repository creation template.
func (s *Server) Template(account, region, prefix string) (TemplateState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.registries[scopeKey{s.acct(account), region}]
	if g == nil || g.templates[prefix] == nil {
		return TemplateState{}, false
	}
	t := g.templates[prefix]
	return TemplateState{Prefix: t.prefix, Description: t.description, AppliedFor: slices.Clone(t.appliedFor),
		Mutability: t.mutability, Exclusions: slices.Clone(t.exclusions)}, true
}

// newDigest returns a fresh, unique sha256 digest for synthetic pushes.
func (s *Server) newDigest(label string) string {
	s.mu.Lock()
	s.digestSeq++
	n := s.digestSeq
	s.mu.Unlock()
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d#%d", label, n, time.Now().UnixNano()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func repoNotFound(name, account string) *apiError {
	return newErr(400, "RepositoryNotFoundException", fmt.Sprintf(
		"The repository with name '%s' does not exist in the registry with id '%s'", name, account))
}

func validateRepoName(name string) *apiError {
	if len(name) < 2 || len(name) > 256 || !repoNameRE.MatchString(name) {
		return newErr(400, "InvalidParameterException", fmt.Sprintf(
			"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repoNameRE))
	}
	return nil
}

// validateMutability checks a setting and its exclusion filters and returns
// the filter values. Filters are required with the *_WITH_EXCLUSION modes and
// refused with the plain ones (the model is silent; AWS documents filters as
// belonging to the exclusion modes, so the emulator is strict).
func validateMutability(mode string, fs []exclusionFilter) ([]string, *apiError) {
	invalid := func(format string, a ...any) *apiError {
		return newErr(400, "InvalidParameterException", fmt.Sprintf(format, a...))
	}
	switch mode {
	case Mutable, Immutable:
		if len(fs) > 0 {
			return nil, invalid("Invalid parameter at 'imageTagMutabilityExclusionFilters': exclusion filters can only be used with %s or %s", ImmutableWithExclusion, MutableWithExclusion)
		}
		return nil, nil
	case ImmutableWithExclusion, MutableWithExclusion:
	default:
		return nil, invalid("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [%s, %s, %s, %s]'",
			Mutable, Immutable, ImmutableWithExclusion, MutableWithExclusion)
	}
	if len(fs) < 1 || len(fs) > maxFilters {
		return nil, invalid("Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'Member must have length between 1 and %d' for %s", maxFilters, mode)
	}
	out := make([]string, 0, len(fs))
	for i, f := range fs {
		if f.FilterType != filterTypeWildcard {
			return nil, invalid("Invalid parameter at 'imageTagMutabilityExclusionFilters.%d.member.filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [%s]'", i+1, filterTypeWildcard)
		}
		if !filterRE.MatchString(f.Filter) {
			return nil, invalid("Invalid parameter at 'imageTagMutabilityExclusionFilters.%d.member.filter' failed to satisfy constraint: 'Member must satisfy regular expression pattern: %s'", i+1, filterRE)
		}
		out = append(out, f.Filter)
	}
	return out, nil
}

// tagImmutable says whether an existing tag may not be moved under a setting.
func tagImmutable(mode string, exclusions []string, tag string) bool {
	switch mode {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !matchAny(exclusions, tag)
	case MutableWithExclusion:
		return matchAny(exclusions, tag)
	}
	return false
}

func matchAny(patterns []string, tag string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return wildcardMatch(p, tag) })
}

// wildcardMatch matches the whole of s against p, where '*' stands for any
// run of characters (possibly empty) and everything else is literal. AWS does
// not publish the semantics; anchored glob is the documented intent.
func wildcardMatch(p, s string) bool {
	// Greedy matching with backtracking to the last star: linear in practice.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Page tokens are opaque to clients: base64 of the operation and the key of
// the last item returned. Resuming after a key keeps pages stable when items
// are added between calls.
func encodeToken(op, lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(op + "\x00" + lastKey))
}

func decodeToken(op, tok string) (string, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	gotOp, key, ok := strings.Cut(string(b), "\x00")
	if err != nil || !ok || gotOp != op || key == "" {
		return "", newErr(400, "InvalidParameterException", "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'")
	}
	return key, nil
}

// pageLimit resolves maxResults (1..1000, default 100) and the injected cap.
func (s *Server) pageLimit(maxResults *int) (int, *apiError) {
	n := defaultPage
	if maxResults != nil {
		n = *maxResults
		if n < 1 || n > maxPage {
			return 0, newErr(400, "InvalidParameterException", fmt.Sprintf(
				"Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and %d'", maxPage))
		}
	}
	if c := s.inj.Faults().PageSize; c > 0 && c < n {
		n = c
	}
	return n, nil
}

// paginate returns one page of keys (sorted ascending) after the token.
func paginate(op string, keys []string, token *string, limit int) (page []string, next *string, e *apiError) {
	slices.Sort(keys)
	start := 0
	if token != nil {
		after, e := decodeToken(op, *token)
		if e != nil {
			return nil, nil, e
		}
		start, _ = slices.BinarySearch(keys, after)
		if start < len(keys) && keys[start] == after {
			start++
		}
	}
	end := min(start+limit, len(keys))
	page = keys[start:end]
	if end < len(keys) && len(page) > 0 {
		t := encodeToken(op, page[len(page)-1])
		next = &t
	}
	return page, next, nil
}
