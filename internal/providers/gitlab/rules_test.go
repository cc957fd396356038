package gitlab

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

func TestUniversal(t *testing.T) {
	yes := []string{".*", "^.*$", ".+", "^.+$", "^(?:.+)$", "", ".", "^.*", ".*$", "[\\s\\S]*", "(?s).*", "^[a-zA-Z0-9_.-]+$", "x*"}
	no := []string{"^v.*", "latest", "^v[0-9]+", "^$", "^[a-z]+$", "\\bv", "^(?:[^l].*|l)$", "a|b", "^.$"}
	for _, p := range yes {
		if !universal(p) {
			t.Errorf("universal(%q) = false, want true", p)
		}
	}
	for _, p := range no {
		if universal(p) {
			t.Errorf("universal(%q) = true, want false", p)
		}
	}
}

// randomTag draws tags biased towards the allowed patterns' prefixes so
// the boundaries (exact literal, one character more, prefix) are hit.
func randomTag(r *rand.Rand, seeds []string) string {
	var b strings.Builder
	if len(seeds) > 0 && r.IntN(3) > 0 {
		s := strings.TrimSuffix(seeds[r.IntN(len(seeds))], "*")
		b.WriteString(s[:r.IntN(len(s)+1)])
	}
	for n := r.IntN(4); n > 0 || b.Len() == 0; n-- {
		b.WriteByte(tagChars[r.IntN(len(tagChars))])
	}
	return b.String()
}

func allowedBy(tag string, allowed []string) bool {
	for _, a := range allowed {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(tag, p) {
				return true
			}
		} else if tag == a {
			return true
		}
	}
	return false
}

// TestRulePatternsExactComplement checks the written rules against their
// meaning: a tag is matched by some rule exactly when no allowed pattern
// allows it, for many random tags.
func TestRulePatternsExactComplement(t *testing.T) {
	cases := [][]string{
		nil,
		{"latest"},
		{"latest", "dev-*"},
		{"latest", "lat*", "main", "v1.0.0-rc*"},
		{"a", "ab", "abc*", "b*", "stable", "edge", "nightly-*", "pr-*"},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, allowed := range cases {
		pats, err := rulePatterns(allowed)
		if err != nil {
			t.Fatalf("%v: %v", allowed, err)
		}
		var res []*regexp.Regexp
		for _, p := range pats {
			if len(p) > maxPatternLen {
				t.Errorf("%v: pattern %q longer than %d", allowed, p, maxPatternLen)
			}
			res = append(res, regexp.MustCompile(p))
		}
		tags := append([]string{"latest", "latest1", "lates", "dev-", "dev", "dev-x", "main", "v1.0.0-rc", "v1.0.0-rc2", "v1.0.0"}, allowed...)
		for range 3000 {
			tags = append(tags, randomTag(r, allowed))
		}
		for _, tg := range tags {
			tg = strings.TrimSuffix(tg, "*")
			if tg == "" {
				continue
			}
			matched := slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(tg) })
			if matched == allowedBy(tg, allowed) {
				t.Fatalf("allowed %v, rules %q: tag %q immutable=%v, allowed=%v", allowed, pats, tg, matched, allowedBy(tg, allowed))
			}
		}
		got, ok := decodeAllowed(pats)
		switch {
		case len(allowed) == 0:
			// ".+" alone is universal; decoding gives the empty list.
			if !ok || len(got) != 0 {
				t.Errorf("decode(%q) = %v, %v; want [] true", pats, got, ok)
			}
		case !ok:
			t.Errorf("decode(%q) failed", pats)
		default:
			want := canonical(allowed)
			if !slices.Equal(got, want) {
				t.Errorf("decode(%q) = %v, want %v", pats, got, want)
			}
		}
	}
}

// canonical drops patterns covered by a prefix* of the list.
func canonical(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		covered := slices.ContainsFunc(allowed, func(b string) bool {
			p, ok := strings.CutSuffix(b, "*")
			return ok && b != a && strings.HasPrefix(strings.TrimSuffix(a, "*"), p)
		})
		if !covered {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func TestDecodeRejectsHandWrittenRules(t *testing.T) {
	for _, pats := range [][]string{
		{"^v[0-9]+"},
		{"^(?:[^l].*|l)$"},                  // incomplete complement of "latest"
		{"^(?:[^l].*|l[^a].*|la.+)$", ".*"}, // mixed with a universal rule
		{"^(?:.+|.+)$"},
	} {
		if got, ok := decodeAllowed(pats); ok {
			t.Errorf("decode(%q) = %v, true; want failure", pats, got)
		}
	}
}

func TestExpressible(t *testing.T) {
	for p, want := range map[string]bool{"latest": true, "dev-*": true, "*": true, "*-rc": false, "v*.x": false, "a/b": false, "[abc]": false} {
		if got := expressible(p); got != want {
			t.Errorf("expressible(%q) = %v, want %v", p, got, want)
		}
	}
	if _, _, err := desired([]string{"*-rc"}); err == nil || !strings.Contains(err.Error(), "*-rc") {
		t.Errorf("desired(*-rc) error = %v, want one naming the pattern", err)
	}
	long := strings.Repeat("a", 120)
	if _, _, err := desired([]string{long}); err == nil {
		t.Error("desired(120-character tag): want an error (GitLab patterns are at most 100 characters)")
	}
}

func TestEvaluateModes(t *testing.T) {
	m := "MAINTAINER"
	cases := []struct {
		name  string
		rules []rule
		mode  providers.Mode
		check func(providers.Immutability) string
	}{
		{"none", nil, providers.ModeMutable, nil},
		{"universal immutable", []rule{{Pattern: ".*", Immutable: true}}, providers.ModeImmutable, nil},
		{"some immutable", []rule{{Pattern: "^v[0-9]+", Immutable: true}}, providers.ModePartial, func(im providers.Immutability) string {
			if len(im.MutablePatterns) != 0 || im.Note == "" {
				return "want no mutable patterns (unknown) and a note"
			}
			return ""
		}},
		{"written by a fix", immutableRules(mustPatterns(t, []string{"latest"})), providers.ModePartial, func(im providers.Immutability) string {
			if !slices.Equal(im.MutablePatterns, []string{"latest"}) {
				return "want mutable [latest]"
			}
			return ""
		}},
		{"fix beside a hand-written rule", append(immutableRules(mustPatterns(t, []string{"latest"})), rule{Pattern: "^v[0-9]+", Immutable: true}), providers.ModePartial, func(im providers.Immutability) string {
			if !slices.Equal(im.MutablePatterns, []string{"latest"}) || len(im.ImmutablePatterns) != 2 {
				return "want mutable [latest] and both patterns listed"
			}
			return ""
		}},
		{"protection only", []rule{{Pattern: "^v.*", PushLevel: &m, DeleteLevel: &m}}, providers.ModePartial, func(im providers.Immutability) string {
			if !slices.Equal(im.MutablePatterns, []string{"*"}) || !strings.Contains(im.Note, "Maintainer, Owner and administrators") {
				return "want mutable [*] and the roles named"
			}
			return ""
		}},
	}
	for _, c := range cases {
		im := evaluate(c.rules)
		if im.Mode != c.mode {
			t.Errorf("%s: mode %s, want %s (%+v)", c.name, im.Mode, c.mode, im)
			continue
		}
		if c.check != nil {
			if msg := c.check(im); msg != "" {
				t.Errorf("%s: %s: %+v", c.name, msg, im)
			}
		}
	}
}

func mustPatterns(t *testing.T, allowed []string) []string {
	t.Helper()
	p, err := rulePatterns(allowed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
