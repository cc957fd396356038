package bench

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers"
)

// The call model: which calls an audit cannot avoid, given what the
// registries hold, and the wall-time lower bound they set.
//
// Unavoidable calls are the list pages at each API's maximum page size plus
// the reads the API forces because its listing does not carry the setting:
//
//	ecr               GetCallerIdentity (own account), per scope one
//	                  DescribePullThroughCacheRules page and ceil(n/1000)
//	                  DescribeRepositories pages
//	artifactregistry  ListLocations per project, ceil(listed/1000)
//	                  ListRepositories pages per location
//	acr               ceil(n/100) catalog pages, per repository its tag
//	                  pages (ceil(tags/100)); token calls are counted apart
//	dockerhub         one token, ceil(n/100) list pages, one GET per
//	                  repository (the listing has no immutable_tags_settings)
//	quay              per namespace the organisation lookup (a user
//	                  namespace needs the user lookup too), the organisation
//	                  policies, ceil(n/100) list pages and one repository
//	                  policy read per repository unless an organisation
//	                  policy already covers every tag or the feature is off
//	harbor            ceil(projects/100) project pages, per project its
//	                  rules and ceil(n/100) repository pages
//	gitlab            ceil(projects/100) pages of the group's projects (those
//	                  with the registry disabled are listed too), per project
//	                  one GraphQL read of its tag rules (at most 5 rules, one
//	                  page) and ceil(n/100) container repository pages; the
//	                  emulator also counts each GraphQL call under its
//	                  operation ("graphql:..."), a breakdown, not a call
//	nexus             one repository list (not paginated), per Docker hosted
//	                  repository its settings and ceil(n/100) catalog pages
//	artifactory       one repository list, the permission target list and
//	                  every target, one lookup per user or group that holds
//	                  Delete/Overwrite (or Manage) where an audited
//	                  repository is covered, and per repository
//	                  ceil(n/100) catalog pages
//	oci               the /v2/ ping and ceil(n/1000) catalog pages (its token
//	                  call is counted apart)
//	ghcr              per owner the owner lookup (organisation or user) and
//	                  ceil(n/100) package pages
//
// Lower bound for one provider whose calls each take at least L and of
// which at most M may be in flight (rate.max_concurrent):
//
//	max( calls*L/M , chain*L )
//
// where chain is the longest run of calls that must follow one another in
// one scope (identity or token, then each list page, then the last
// per-repository read). Providers run side by side with their own limits
// and the engine's --concurrency is set above the number of scopes, so the
// audit's bound is the largest provider bound.

// model is the expectation for one provider.
type model struct {
	Provider string
	Kind     providers.Kind
	Calls    map[string]int64 // unavoidable calls by emulator operation name
	Auth     map[string]int64 // token calls the emulator serves without latency (acr)
	// Detail are counters that break a counted call down further (GitLab's
	// "graphql:<operation>"): shown against the model, never counted.
	Detail map[string]int64
	Chain  int64
	Repos  int
}

func (m *model) total() int64 {
	var n int64
	for _, v := range m.Calls {
		n += v
	}
	return n
}

// bound is the provider's lower bound for latency l and m calls in flight.
func (m *model) bound(l time.Duration, inFlight int) time.Duration {
	through := time.Duration(float64(m.total()) * float64(l) / float64(inFlight))
	return max(through, time.Duration(m.Chain)*l)
}

func pages(n, size int) int64 {
	if n <= 0 {
		return 1
	}
	return int64((n + size - 1) / size)
}

// Facts about the demo data the report alone does not show.
var (
	// The Artifact Registry demo also lists a maven repository, which the
	// adapter skips but the page still carries.
	arUnaudited = map[string]int{"acme-prod/us-central1": 1}
	// The Quay demo's user namespace (the others are organisations).
	quayUsers = []string{"alice"}
	// The GitLab demo's project with its container registry disabled: the
	// group's project pages carry it, but it is no scope.
	gitlabRegistryOff = 1
	// The GitHub Container Registry demo's user (the others are
	// organisations: their packages are listed under /orgs).
	ghcrUsers = []string{"alice"}
)

// universalQuay reports patterns that full-match every tag, as the adapter
// recognises them.
func universalQuay(pattern string) bool {
	return slices.Contains([]string{".*", "^.*$", "(.*)", "^(.*)$", ".+", "^.+$", ".*$", "^.*"}, strings.TrimSpace(pattern))
}

// models derives the unavoidable calls of every provider from the audit
// report (repositories per scope) and the emulators' state.
func models(rep *report, sb *sandbox.Sandbox) map[string]*model {
	return shardModels(rep, sb, nil, nil)
}

// shardModels is models for the report of one shard of a split audit. The
// scopes of kinds split by repository (ACR, Docker Hub, Quay) are paged in
// full by every shard, so their list pages follow totals (repositories of
// the scope over all shards, by "provider/scope"), while the reads per
// repository follow the shard's own. sh nil is an unsharded audit.
func shardModels(rep *report, sb *sandbox.Sandbox, sh *audit.Shard, totals map[string]int) map[string]*model {
	// Which providers' scopes are split by repository, by the engine's
	// rule: ACR, Docker Hub and Quay always, others with fewer than two
	// scopes per shard (every shard's report lists their scopes).
	split := map[string]bool{}
	if sh != nil {
		nscopes := map[string]int{}
		for k := range totals {
			p, _, _ := strings.Cut(k, "/")
			nscopes[p]++
		}
		for _, s := range rep.Scopes {
			switch s.Kind {
			case providers.KindACR, providers.KindDockerHub, providers.KindQuay:
				split[s.Provider] = true
			default:
				split[s.Provider] = split[s.Provider] || nscopes[s.Provider] < 2*sh.Count
			}
		}
	}
	listed := func(provider, scope string, n int) int {
		if !split[provider] {
			return n
		}
		return totals[provider+"/"+scope]
	}
	out := map[string]*model{}
	get := func(provider string, kind providers.Kind) *model {
		m := out[provider]
		if m == nil {
			m = &model{Provider: provider, Kind: kind, Calls: map[string]int64{}, Auth: map[string]int64{}, Detail: map[string]int64{}}
			out[provider] = m
		}
		return m
	}
	featureOff := map[string]bool{}
	for _, w := range rep.Warnings {
		if w.Code == "quay-immutable-tags-off" {
			featureOff[w.Provider+"/"+w.Scope] = true
		}
	}
	harborProjects := map[string]int{}
	arProjects := map[string]bool{}
	gitlabProjects := map[string]int{}
	afScopes := map[string][]string{}
	for _, s := range rep.Scopes {
		m := get(s.Provider, s.Kind)
		m.Repos += s.Repositories
		n := s.Repositories
		switch s.Kind {
		case providers.KindECR:
			m.Calls["GetCallerIdentity"] = 1
			m.Calls["DescribePullThroughCacheRules"]++
			p := pages(listed(s.Provider, s.Scope, n), 1000)
			m.Calls["DescribeRepositories"] += p
			m.Chain = max(m.Chain, 1+p)
		case providers.KindArtifactRegistry:
			project, _, _ := strings.Cut(s.Scope, "/")
			if !arProjects[s.Provider+"/"+project] {
				arProjects[s.Provider+"/"+project] = true
				m.Calls["ListLocations"]++
			}
			p := pages(listed(s.Provider, s.Scope, n)+arUnaudited[s.Scope], 1000)
			m.Calls["ListRepositories"] += p
			m.Chain = max(m.Chain, 1+p)
		case providers.KindACR:
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["GET catalog"] += p
			m.Chain = max(m.Chain, p+1)
			if srv := acrServer(sb); srv != nil {
				for _, repo := range srv.Repositories() {
					if sh != nil && !sh.OwnsRepository(s.Provider, s.Scope, repo) {
						continue
					}
					total, _ := srv.Counts(repo)
					m.Calls["GET tags"] += pages(total, 100)
				}
			}
		case providers.KindDockerHub:
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["auth.token"] = 1
			m.Calls["repositories.list"] += p
			m.Calls["repository.get"] += int64(n)
			m.Chain = max(m.Chain, 1+p+1)
		case providers.KindQuay:
			m.Calls["getOrganization"]++
			user := slices.Contains(quayUsers, s.Scope)
			if user {
				m.Calls["getUserInformation"]++
			} else {
				m.Calls["listOrgImmutabilityPolicies"]++
			}
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["listRepos"] += p
			reads := int64(n)
			if featureOff[s.Provider+"/"+s.Scope] {
				reads = 0
			} else if srv := quayServer(sb); srv != nil && !user {
				for _, pl := range srv.OrgPolicies(s.Scope) {
					if pl.TagPatternMatches && universalQuay(pl.TagPattern) {
						reads = 0
					}
				}
			}
			m.Calls["listRepositoryImmutabilityPolicies"] += reads
			chain := 1 + p
			if reads > 0 {
				chain++
			}
			m.Chain = max(m.Chain, chain)
		case providers.KindHarbor:
			harborProjects[s.Provider]++
			m.Calls["ListImmuRules"]++
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["listRepositories"] += p
			m.Chain = max(m.Chain, 1+p)
		case providers.KindGitLab:
			gitlabProjects[s.Provider]++
			m.Calls["graphql"]++
			m.Detail["graphql:containerProtectionTagRules"]++
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["listRegistryRepositories"] += p
			// The project pages come first (added below).
			m.Chain = max(m.Chain, 1+p)
		case providers.KindNexus:
			m.Calls["getRepositories"] = 1
			m.Calls["getDockerHostedRepository"]++
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["catalog"] += p
			m.Chain = max(m.Chain, 2+p)
		case providers.KindArtifactory:
			m.Calls["getRepositories"] = 1
			m.Calls["getPermissionTargets"] = 1
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls["dockerCatalog"] += p
			if n > 0 {
				afScopes[s.Provider] = append(afScopes[s.Provider], s.Scope)
			}
			// The repository list, the target list, one target (the targets
			// can be read side by side), then the pages, the lookups of
			// their holders alongside.
			m.Chain = max(m.Chain, 3+p)
		case providers.KindOCI:
			m.Calls["ping"] = 1
			p := pages(listed(s.Provider, s.Scope, n), 1000)
			m.Calls["catalog"] += p
			m.Chain = max(m.Chain, 1+p)
		case providers.KindGHCR:
			m.Calls["getUser"]++
			op := "listOrgPackages"
			if slices.Contains(ghcrUsers, s.Scope) {
				op = "listUserPackages"
			}
			p := pages(listed(s.Provider, s.Scope, n), 100)
			m.Calls[op] += p
			m.Chain = max(m.Chain, 1+p)
		}
	}
	for prov, n := range gitlabProjects {
		m := out[prov]
		if sh != nil {
			// Every shard lists the group's projects in full.
			n = 0
			for k := range totals {
				if p, _, _ := strings.Cut(k, "/"); p == prov {
					n++
				}
			}
		}
		pp := pages(n+gitlabRegistryOff, 100)
		m.Calls["listGroupProjects"] = pp
		m.Chain += pp
	}
	if srv := artifactoryServer(sb); srv != nil {
		for prov, scopes := range afScopes {
			m := out[prov]
			targets := srv.Targets()
			m.Calls["getPermissionTarget"] = int64(len(targets))
			users, groups := afHolders(targets, scopes)
			m.Calls["getUser"], m.Calls["getGroup"] = int64(users), int64(groups)
		}
	}
	for prov, n := range harborProjects {
		m := out[prov]
		pp := pages(n, 100)
		m.Calls["listProjects"] = pp
		m.Chain += pp - 1
	}
	return out
}

// afHolders counts the distinct users and groups that hold Delete/Overwrite
// or Manage in a permission target covering one of scopes: the adapter
// looks each up once to tell administrators (and everyone-groups) apart.
func afHolders(targets []afemu.Target, scopes []string) (users, groups int) {
	overwrites := func(actions []string) bool {
		return slices.ContainsFunc(actions, func(a string) bool {
			a = strings.ToLower(a)
			return a == "delete" || a == "d" || a == "manage" || a == "m"
		})
	}
	seenU, seenG := map[string]bool{}, map[string]bool{}
	for _, t := range targets {
		covers := slices.ContainsFunc(t.Repos, func(r string) bool {
			return slices.Contains(scopes, r) || strings.EqualFold(r, "ANY") || strings.EqualFold(r, "ANY LOCAL")
		})
		if !covers {
			continue
		}
		for u, a := range t.Users {
			if overwrites(a) {
				seenU[u] = true
			}
		}
		for g, a := range t.Groups {
			if overwrites(a) {
				seenG[g] = true
			}
		}
	}
	return len(seenU), len(seenG)
}

// compare sets actual calls against the model: redundant are calls above
// the unavoidable ones (per operation), auth the calls outside the model.
type comparison struct {
	Actual    int64
	Redundant int64
	Extra     map[string]int64 // operation -> calls above the model
	Auth      int64
}

// authOps are token calls: needed, but not data reads, and (ACR) served
// without the injected latency, so they are reported apart.
// The distribution registry's token endpoint (oci) is one too.
var authOps = map[string]bool{"GET oauth2/token": true, "POST oauth2/token": true, "POST oauth2/exchange": true, "token": true}

// breakdown reports a counter that details another counted call
// ("graphql:containerProtectionTagRules" of "graphql").
func breakdown(op string, calls map[string]int64) bool {
	parent, _, ok := strings.Cut(op, ":")
	_, counted := calls[parent]
	return ok && counted
}

func compare(m *model, calls map[string]int64) comparison {
	c := comparison{Extra: map[string]int64{}}
	for op, n := range calls {
		if authOps[op] {
			c.Auth += n
			continue
		}
		if breakdown(op, calls) {
			continue
		}
		c.Actual += n
		if extra := n - m.Calls[op]; extra > 0 {
			c.Extra[op] = extra
			c.Redundant += extra
		}
	}
	return c
}

// callTable renders calls by operation, actual against the model.
func callTable(m *model, calls map[string]int64) string {
	ops := slices.Sorted(maps.Keys(calls))
	for op := range m.Calls {
		if _, ok := calls[op]; !ok {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	var b strings.Builder
	for _, op := range ops {
		exp := "-"
		if v, ok := m.Calls[op]; ok {
			exp = fmt.Sprint(v)
		} else if v, ok := m.Detail[op]; ok {
			exp = fmt.Sprintf("%d, a breakdown", v)
		}
		fmt.Fprintf(&b, "    %-14s %-36s %8d  (unavoidable %s)\n", m.Provider, op, calls[op], exp)
	}
	return b.String()
}
