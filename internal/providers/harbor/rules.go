package harbor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/immutag/immutag/internal/providers"
)

// Selector is Harbor's ImmutableSelector.
type selector struct {
	Kind       string `json:"kind"`
	Decoration string `json:"decoration"`
	Pattern    string `json:"pattern"`
	Extras     string `json:"extras,omitempty"`
}

// rule is Harbor's ImmutableRule. disabled and priority may be absent in
// list answers (go-swagger drops zero values); their zero values are the
// right defaults. Params is carried through unchanged on a toggle PUT.
type rule struct {
	ID             int64                 `json:"id,omitempty"`
	Priority       int64                 `json:"priority"`
	Disabled       bool                  `json:"disabled"`
	Action         string                `json:"action"`
	Template       string                `json:"template"`
	Params         map[string]any        `json:"params,omitempty"`
	TagSelectors   []selector            `json:"tag_selectors"`
	ScopeSelectors map[string][]selector `json:"scope_selectors"`
}

// Decorations Harbor's doublestar selector understands.
const (
	decoMatches      = "matches"
	decoExcludes     = "excludes"
	decoRepoMatches  = "repoMatches"
	decoRepoExcludes = "repoExcludes"
)

// match is Harbor's doublestar selector match: full match, empty pattern
// matches everything, a malformed pattern matches nothing.
func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := doublestar.Match(pattern, s)
	return err == nil && ok
}

// allTags reports whether a tag pattern matches every possible tag. Tags
// never contain "/", so "*" is as wide as "**".
func allTags(pattern string) bool {
	switch strings.TrimSpace(pattern) {
	case "", "*", "**":
		return true
	}
	return false
}

// allRepos reports whether a repository selector selects every repository.
func allRepos(s selector) bool {
	return s.Kind == "doublestar" && s.Decoration == decoRepoMatches && (s.Pattern == "" || s.Pattern == "**")
}

// splitBraces turns a top-level brace list ("{latest,dev}", as the Harbor
// UI writes comma-separated input) into its alternatives; any other pattern
// is returned as is.
func splitBraces(p string) []string {
	p = strings.TrimSpace(p)
	if len(p) > 2 && p[0] == '{' && p[len(p)-1] == '}' && !strings.ContainsAny(p[1:len(p)-1], "{}\\") {
		var out []string
		for _, a := range strings.Split(p[1:len(p)-1], ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []string{p}
}

func literal(p string) bool { return !strings.ContainsAny(p, "*?[]{}\\") }

// selectors returns the only selectors Harbor consults: the first
// repository scope selector and the first tag selector. ok is false when a
// rule has neither (Harbor skips it).
func (r rule) selectors() (repo, tag selector, ok bool) {
	rs := r.ScopeSelectors["repository"]
	if len(rs) == 0 || len(r.TagSelectors) == 0 {
		return selector{}, selector{}, false
	}
	return rs[0], r.TagSelectors[0], true
}

// appliesTo reports whether the rule's repository selector selects repo
// (the name without the project prefix).
func (r rule) appliesTo(repo string) bool {
	rs, _, ok := r.selectors()
	if !ok || rs.Kind != "doublestar" {
		return false
	}
	switch rs.Decoration {
	case decoRepoMatches:
		return match(rs.Pattern, repo)
	case decoRepoExcludes:
		return !match(rs.Pattern, repo)
	}
	return false
}

func (r rule) describe() string {
	rs, ts, ok := r.selectors()
	s := fmt.Sprintf("rule %d", r.ID)
	if r.Disabled {
		s += " (disabled)"
	}
	if !ok {
		return s + ": no selectors"
	}
	return fmt.Sprintf("%s: %s %q, %s %q", s, rs.Decoration, rs.Pattern, ts.Decoration, ts.Pattern)
}

// evaluate computes one repository's immutability from its project's
// rules with Harbor's semantics: enabled rules OR-ed; only the first
// repository and tag selectors count; doublestar full match.
func evaluate(rules []rule, repo string) providers.Immutability {
	var native, immutable, mutable []string
	var matchRules []string
	var excludeSets [][]string
	universal, disabledOnly := false, false
	for _, r := range rules {
		if !r.appliesTo(repo) {
			continue
		}
		native = append(native, r.describe())
		if r.Disabled {
			disabledOnly = true
			continue
		}
		_, ts, _ := r.selectors()
		if ts.Kind != "doublestar" {
			continue // Harbor cannot evaluate it either: it protects nothing
		}
		switch ts.Decoration {
		case decoMatches:
			if allTags(ts.Pattern) {
				universal = true
				continue
			}
			matchRules = append(matchRules, ts.Pattern)
			immutable = append(immutable, splitBraces(ts.Pattern)...)
		case decoExcludes:
			if allTags(ts.Pattern) {
				continue // excludes every tag: protects nothing
			}
			excludeSets = append(excludeSets, splitBraces(ts.Pattern))
		}
	}
	im := providers.Immutability{Native: strings.Join(native, "; ")}
	if len(native) == 0 {
		im.Native = "no immutability rule selects this repository"
	}
	if universal {
		im.Mode = providers.ModeImmutable
		return im
	}
	if len(excludeSets) > 0 {
		// A tag stays mutable only if every applicable rule leaves it so.
		// For a literal excluded tag that is exact; a wildcard is kept
		// (over-reporting mutability is the safe side).
		covered := func(tag string) bool {
			for _, m := range matchRules {
				if match(m, tag) {
					return true
				}
			}
			for _, set := range excludeSets {
				if !slices.ContainsFunc(set, func(p string) bool { return match(p, tag) }) {
					return true
				}
			}
			return false
		}
		for _, set := range excludeSets {
			for _, p := range set {
				if (!literal(p) || !covered(p)) && !slices.Contains(mutable, p) {
					mutable = append(mutable, p)
				}
			}
		}
		if len(mutable) == 0 {
			im.Mode = providers.ModeImmutable
			return im
		}
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = append([]string{"**"}, immutable...)
		im.MutablePatterns = mutable
		im.Note = "every tag is immutable except those matching " + strings.Join(mutable, ", ")
		return im
	}
	if len(immutable) > 0 {
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = immutable
		im.MutablePatterns = []string{"*"}
		im.Note = "only tags matching " + strings.Join(immutable, ", ") + " are immutable; every other tag stays mutable"
		return im
	}
	im.Mode = providers.ModeMutable
	if disabledOnly {
		im.Note = "the rules selecting this repository are disabled; Harbor ignores disabled rules"
	}
	return im
}

// desiredRule is the project rule a fix creates: every repository, every
// tag, with the allowed mutable patterns as tag excludes.
func desiredRule(excludes []string) rule {
	ts := selector{Kind: "doublestar", Decoration: decoMatches, Pattern: "**"}
	switch len(excludes) {
	case 0:
	case 1:
		ts = selector{Kind: "doublestar", Decoration: decoExcludes, Pattern: excludes[0]}
	default:
		ts = selector{Kind: "doublestar", Decoration: decoExcludes, Pattern: "{" + strings.Join(excludes, ",") + "}"}
	}
	return rule{
		Action: "immutable", Template: "immutable_template",
		TagSelectors: []selector{ts},
		ScopeSelectors: map[string][]selector{"repository": {
			{Kind: "doublestar", Decoration: decoRepoMatches, Pattern: "**"},
		}},
	}
}

// expressible keeps the allowed patterns a brace list can carry and that
// exclude something less than every tag; the rest are dropped, which only
// makes the fix stricter.
func expressible(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" || allTags(a) || strings.ContainsAny(a, "{},/") || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// sameRule reports whether two rules serialise alike for Harbor's duplicate
// check, as far as a fix cares: same action, template and single selectors.
func sameRule(a, b rule) bool {
	ar, at, aok := a.selectors()
	br, bt, bok := b.selectors()
	return aok && bok && a.Action == b.Action && a.Template == b.Template &&
		len(a.TagSelectors) == 1 && len(b.TagSelectors) == 1 &&
		len(a.ScopeSelectors) == 1 && len(b.ScopeSelectors) == 1 &&
		len(a.ScopeSelectors["repository"]) == 1 && len(b.ScopeSelectors["repository"]) == 1 &&
		sameSel(ar, br) && sameSel(at, bt)
}

func sameSel(a, b selector) bool {
	return a.Kind == b.Kind && a.Decoration == b.Decoration && a.Pattern == b.Pattern && a.Extras == b.Extras
}

// satisfied reports whether the project already has an enabled rule that
// makes every repository immutable except, at most, allowed patterns.
func satisfied(rules []rule, allowed []string) bool {
	for _, r := range rules {
		rs, ts, ok := r.selectors()
		if r.Disabled || !ok || !allRepos(rs) || ts.Kind != "doublestar" {
			continue
		}
		switch ts.Decoration {
		case decoMatches:
			if allTags(ts.Pattern) {
				return true
			}
		case decoExcludes:
			if allTags(ts.Pattern) {
				continue
			}
			ok := true
			for _, p := range splitBraces(ts.Pattern) {
				ok = ok && slices.Contains(allowed, p)
			}
			if ok {
				return true
			}
		}
	}
	return false
}
