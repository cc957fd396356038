package harbor

import (
	"slices"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

func mk(repoDeco, repoPat, tagDeco, tagPat string) rule {
	return rule{
		ID: 1, Action: "immutable", Template: "immutable_template",
		TagSelectors:   []selector{{Kind: "doublestar", Decoration: tagDeco, Pattern: tagPat}},
		ScopeSelectors: map[string][]selector{"repository": {{Kind: "doublestar", Decoration: repoDeco, Pattern: repoPat}}},
	}
}

func disabled(r rule) rule { r.Disabled = true; return r }

func TestEvaluateHarborSemantics(t *testing.T) {
	// Extra selectors beyond the first are ignored by Harbor.
	extra := mk("repoMatches", "nothing-matches", "matches", "v1")
	extra.ScopeSelectors["repository"] = append(extra.ScopeSelectors["repository"], selector{Kind: "doublestar", Decoration: "repoMatches", Pattern: "**"})
	extra.TagSelectors = append(extra.TagSelectors, selector{Kind: "doublestar", Decoration: "matches", Pattern: "**"})
	extraTag := mk("repoMatches", "**", "matches", "v*")
	extraTag.TagSelectors = append(extraTag.TagSelectors, selector{Kind: "doublestar", Decoration: "matches", Pattern: "**"})
	noSel := mk("repoMatches", "**", "matches", "**")
	noSel.TagSelectors = nil
	regexKind := mk("repoMatches", "**", "matches", "**")
	regexKind.TagSelectors[0].Kind = "regularExpression"

	cases := []struct {
		name      string
		rules     []rule
		repo      string
		mode      providers.Mode
		mutable   []string
		immutable []string
	}{
		{"no rules", nil, "app", providers.ModeMutable, nil, nil},
		{"universal", []rule{mk("repoMatches", "**", "matches", "**")}, "team/app", providers.ModeImmutable, nil, nil},
		{"empty patterns are universal", []rule{mk("repoMatches", "", "matches", "")}, "app", providers.ModeImmutable, nil, nil},
		{"single star covers every tag", []rule{mk("repoMatches", "**", "matches", "*")}, "app", providers.ModeImmutable, nil, nil},
		{"disabled ignored", []rule{disabled(mk("repoMatches", "**", "matches", "**"))}, "app", providers.ModeMutable, nil, nil},
		{"disabled ignored beside partial", []rule{disabled(mk("repoMatches", "**", "matches", "**")), mk("repoMatches", "**", "matches", "v*")},
			"app", providers.ModePartial, []string{"*"}, []string{"v*"}},
		{"first repository selector only", []rule{extra}, "app", providers.ModeMutable, nil, nil},
		{"first tag selector only", []rule{extraTag}, "app", providers.ModePartial, []string{"*"}, []string{"v*"}},
		{"no tag selector skipped", []rule{noSel}, "app", providers.ModeMutable, nil, nil},
		{"unknown selector kind protects nothing", []rule{regexKind}, "app", providers.ModeMutable, nil, nil},
		{"repo star does not cross slash", []rule{mk("repoMatches", "*", "matches", "**")}, "team/app", providers.ModeMutable, nil, nil},
		{"repo star matches top level", []rule{mk("repoMatches", "*", "matches", "**")}, "app", providers.ModeImmutable, nil, nil},
		{"repo full match", []rule{mk("repoMatches", "app", "matches", "**")}, "myapp", providers.ModeMutable, nil, nil},
		{"repo excludes selects others", []rule{mk("repoExcludes", "tmp-*", "matches", "**")}, "app", providers.ModeImmutable, nil, nil},
		{"repo excludes skips match", []rule{mk("repoExcludes", "tmp-*", "matches", "**")}, "tmp-1", providers.ModeMutable, nil, nil},
		{"repo braces", []rule{mk("repoMatches", "{api,web}", "matches", "**")}, "web", providers.ModeImmutable, nil, nil},
		{"repo braces miss", []rule{mk("repoMatches", "{api,web}", "matches", "**")}, "worker", providers.ModeMutable, nil, nil},
		{"ns decoration not a repository match", []rule{mk("nsMatches", "**", "matches", "**")}, "app", providers.ModeMutable, nil, nil},
		{"tag excludes", []rule{mk("repoMatches", "**", "excludes", "latest")}, "app", providers.ModePartial, []string{"latest"}, []string{"**"}},
		{"tag excludes brace list", []rule{mk("repoMatches", "**", "excludes", "{latest,dev}")}, "app", providers.ModePartial, []string{"latest", "dev"}, []string{"**"}},
		{"tag excludes wildcard", []rule{mk("repoMatches", "**", "excludes", "dev-*")}, "app", providers.ModePartial, []string{"dev-*"}, []string{"**"}},
		{"tag excludes everything protects nothing", []rule{mk("repoMatches", "**", "excludes", "**")}, "app", providers.ModeMutable, nil, nil},
		{"tag matches brace list", []rule{mk("repoMatches", "**", "matches", "{v*,release-*}")}, "app", providers.ModePartial, []string{"*"}, []string{"v*", "release-*"}},
		{"excluded literal covered by a matches rule", []rule{mk("repoMatches", "**", "excludes", "{latest,dev}"), mk("repoMatches", "**", "matches", "latest")},
			"app", providers.ModePartial, []string{"dev"}, []string{"**", "latest"}},
		{"excluded literals covered by each other", []rule{mk("repoMatches", "**", "excludes", "latest"), mk("repoMatches", "**", "excludes", "dev")},
			"app", providers.ModeImmutable, nil, nil},
		{"excluded wildcard kept", []rule{mk("repoMatches", "**", "excludes", "dev-*"), mk("repoMatches", "**", "matches", "dev-1")},
			"app", providers.ModePartial, []string{"dev-*"}, []string{"**", "dev-1"}},
		{"rule for another repository", []rule{mk("repoMatches", "api", "excludes", "latest"), mk("repoMatches", "web", "matches", "**")},
			"api", providers.ModePartial, []string{"latest"}, []string{"**"}},
		{"nested repository name", []rule{mk("repoMatches", "tools/**", "matches", "**")}, "tools/ci", providers.ModeImmutable, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := evaluate(c.rules, c.repo)
			if im.Mode != c.mode || !slices.Equal(im.MutablePatterns, c.mutable) || !slices.Equal(im.ImmutablePatterns, c.immutable) {
				t.Errorf("got mode %s mutable %q immutable %q; want %s %q %q (native %q)",
					im.Mode, im.MutablePatterns, im.ImmutablePatterns, c.mode, c.mutable, c.immutable, im.Native)
			}
			if im.Native == "" {
				t.Error("native setting not described")
			}
		})
	}
}

func TestDesiredRuleAndHelpers(t *testing.T) {
	for _, c := range []struct {
		allowed []string
		deco    string
		pattern string
	}{
		{nil, "matches", "**"},
		{[]string{"latest"}, "excludes", "latest"},
		{[]string{" latest ", "dev", "latest"}, "excludes", "{latest,dev}"},
		// Patterns a brace list cannot carry, or that would exclude every
		// tag, are dropped: the rule only gets stricter.
		{[]string{"*", "a,b", "{x}", ""}, "matches", "**"},
	} {
		r := desiredRule(expressible(c.allowed))
		_, ts, _ := r.selectors()
		if ts.Decoration != c.deco || ts.Pattern != c.pattern || !allRepos(r.ScopeSelectors["repository"][0]) {
			t.Errorf("allowed %q: got %s %q", c.allowed, ts.Decoration, ts.Pattern)
		}
	}
	a, b := desiredRule(nil), desiredRule(nil)
	b.ID, b.Disabled, b.Priority = 9, true, 3
	if !sameRule(a, b) {
		t.Error("id, disabled and priority must not matter")
	}
	if sameRule(a, desiredRule([]string{"latest"})) {
		t.Error("different tag selectors are not the same rule")
	}
	two := desiredRule(nil)
	two.TagSelectors = append(two.TagSelectors, selector{Kind: "doublestar", Decoration: "matches", Pattern: "x"})
	if sameRule(a, two) {
		t.Error("extra selectors serialise differently")
	}
	if !satisfied([]rule{desiredRule([]string{"latest", "dev"})}, []string{"dev", "latest"}) {
		t.Error("an enabled rule excluding only allowed patterns satisfies the policy")
	}
	if satisfied([]rule{desiredRule([]string{"latest", "dev"})}, []string{"latest"}) {
		t.Error("excluding a pattern the policy does not allow is not enough")
	}
	if satisfied([]rule{disabled(desiredRule(nil))}, nil) {
		t.Error("a disabled rule satisfies nothing")
	}
	if satisfied([]rule{mk("repoMatches", "app*", "matches", "**")}, nil) {
		t.Error("a rule for some repositories does not cover the project")
	}
	if got := splitBraces("{a,{b,c}}"); !slices.Equal(got, []string{"{a,{b,c}}"}) {
		t.Errorf("nested braces split: %q", got)
	}
}
