package audit

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/immutag/immutag/internal/providers"
)

// Shard is one deterministic part of the work when an audit or fix is split
// over several processes (Kubernetes Indexed Jobs): Index counts from 0, as
// JOB_COMPLETION_INDEX does.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want INDEX/COUNT, for example 0/4", s)
	}
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: INDEX and COUNT must be whole numbers", s)
	}
	sh := Shard{Index: idx, Count: cnt}
	return sh, sh.Validate()
}

// Validate checks 0 <= Index < Count.
func (s Shard) Validate() error {
	if s.Count < 1 || s.Count > 10000 {
		return fmt.Errorf("shard count %d: want 1..10000", s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard index %d: want 0..%d for %d shards (indexes count from 0, as JOB_COMPLETION_INDEX)", s.Index, s.Count-1, s.Count)
	}
	return nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Sharded says whether s splits the work at all.
func (s *Shard) Sharded() bool { return s != nil && s.Count > 1 }

// RepositorySharder is implemented by adapters whose scopes are cheap to
// page but cost one or more calls per repository (ACR tag lists, Docker Hub
// and Quay settings). Their scopes are split between shards by repository
// name, so one large registry or namespace does not land on one shard; every
// shard pages the scope's catalog and reads only its own repositories. The
// scopes of other adapters, whose listing already carries the setting, go
// whole to one shard.
type RepositorySharder interface {
	ShardByRepository() bool
}

// splitScopes reports whether the scopes of p, which has n of them, are
// split between the shards by repository: always for RepositorySharder
// adapters, and for any provider with fewer than two scopes per shard,
// where whole scopes would leave some shards with most of its repositories
// (one large account or project) and others with none. Every shard then
// pages those scopes' listings, which for such providers are a handful of
// pages. The rule depends only on the config and the scopes enumerated, so
// every shard decides alike without talking to the others.
func splitScopes(p providers.Provider, n int, sh Shard) bool {
	if rs, ok := p.(RepositorySharder); ok && rs.ShardByRepository() {
		return true
	}
	return n < 2*sh.Count
}

// owner is the shard a key belongs to. FNV-1a is fixed by its definition,
// so every process (and every version) agrees without coordination.
func (s Shard) owner(key string) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum64() % uint64(s.Count))
}

// OwnsScope says whether this shard lists scope of provider as a whole.
func (s Shard) OwnsScope(provider, scope string) bool {
	return s.owner("scope\x00"+provider+"\x00"+scope) == s.Index
}

// OwnsRepository says whether this shard reads repository of a split scope.
func (s Shard) OwnsRepository(provider, scope, repository string) bool {
	return s.owner("repo\x00"+provider+"\x00"+scope+"\x00"+repository) == s.Index
}

// Add counts one status (report merge recomputes summaries with it).
func (c *Counts) Add(s Status) { c.add(s) }

// CompareFindings is the one stable order of findings in every report and
// format: provider, scope, repository (then id, so equal names still sort
// the same way), whatever the concurrency of the scan.
func CompareFindings(a, b Finding) int {
	return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope),
		cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.ID, b.ID))
}

// CompareChanges orders change records like findings, then by target.
func CompareChanges(a, b ChangeRecord) int {
	return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope),
		cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Target, b.Target))
}

// CompareWarnings orders warnings by provider, scope, code and message.
func CompareWarnings(a, b providers.Warning) int {
	return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope),
		cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
}
