package dockerhub

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

// The complement rule must match exactly the tags no allowed pattern
// matches: checked against providers.TagAllowed on many tags, hand-picked
// near the patterns' edges and random ones.
func TestComplementRuleOnManyTags(t *testing.T) {
	sets := [][]string{
		{"latest"},
		{"latest", "dev-*"},
		{"main", "main-*", "ma"},
		{"v1.2", "v1.2.*", "v1.20"},
		{"a", "ab", "abc*", "b*"},
		{"nightly-*", "latest", "stable", "edge_1"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdelmnstv0129._-"
	for _, set := range sets {
		rule := complementRule(set)
		if strings.Contains(rule, ",") {
			t.Errorf("%v: rule %q has a comma", set, rule)
		}
		re := regexp.MustCompile(rule)
		// Hub may match unanchored; the rule is anchored, so the same.
		var tags []string
		for _, p := range set {
			lit := strings.TrimSuffix(p, "*")
			tags = append(tags, lit, lit+"x", lit+"-", lit[:len(lit)-1], "x"+lit, lit+lit, strings.ToUpper(lit))
		}
		tags = append(tags, "v1.0.0", "release-2026", "latest2", "1.2.3", "sha-abcdef", "Latest")
		for range 3000 {
			n := 1 + rng.IntN(9)
			var b strings.Builder
			for range n {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
			tags = append(tags, b.String())
		}
		for _, tag := range tags {
			if tag == "" {
				continue
			}
			want := !providers.TagAllowed(tag, set)
			if got := re.MatchString(tag); got != want {
				t.Errorf("%v: rule %q on %q = %v, want immutable=%v", set, rule, tag, got, want)
			}
		}
	}
}

func TestSplitAllowed(t *testing.T) {
	ok, not := splitAllowed([]string{" latest ", "dev-*", "*", "*-rc", "a*b", "latest", "x,y"})
	if fmt.Sprint(ok) != "[latest dev-*]" || fmt.Sprint(not) != "[*-rc a*b x,y]" {
		t.Errorf("ok %v not %v", ok, not)
	}
}

func TestMayMatch(t *testing.T) {
	for _, tc := range []struct {
		rule, pattern string
		want          bool
	}{
		{"^latest$", "latest", true}, {"latest", "latest", true}, {"lat", "latest", true}, {"^v.*", "latest", false},
		{"^v.*", "v*", true}, {"^v.*", "dev-*", false}, {"^(dev|rel)-.*$", "dev-*", true}, {"^rel-", "dev-*", false},
		{"^d", "dev-*", true}, {"^dev-x$", "dev-*", true}, {"^de$", "dev-*", false},
		// Unanchored, a rule can match after any prefix.
		{"v[0-9]+", "dev-*", true},
		// A rule Hub stores but RE2 cannot read: assume it may match.
		{"(?<=x)", "dev-*", true}, {"(?<=x)", "latest", true},
		{complementRule([]string{"latest", "dev-*"}), "dev-*", false},
		{complementRule([]string{"latest", "dev-*"}), "latest", false},
		{complementRule([]string{"latest"}), "dev-*", true},
	} {
		if got := mayMatch(tc.rule, tc.pattern); got != tc.want {
			t.Errorf("mayMatch(%q, %q) = %v, want %v", tc.rule, tc.pattern, got, tc.want)
		}
	}
}
