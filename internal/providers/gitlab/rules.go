package gitlab

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/immutag/immutag/internal/providers"
)

// Limits GitLab enforces on protection tag rules (model validations of
// ContainerRegistry::Protection::TagRule): five rules per project, counting
// immutable and push/delete protection rules together, and a pattern of at
// most 100 characters.
const (
	maxRulesPerProject = 5
	maxPatternLen      = 100
)

// rule is one protection tag rule as the GraphQL API returns it. A nil
// access level means "nobody" only on an immutable rule; Immutable is the
// server's own flag, so the adapter never infers it from the levels.
type rule struct {
	ID          string  `json:"id"`
	Pattern     string  `json:"tagNamePattern"`
	PushLevel   *string `json:"minimumAccessLevelForPush"`
	DeleteLevel *string `json:"minimumAccessLevelForDelete"`
	Immutable   bool    `json:"immutable"`
}

// tagChars is the alphabet of tag names (distribution-spec: tags match
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}).
const tagChars = "-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// universal reports whether an RE2 pattern, applied the way GitLab applies
// it (an unanchored search), matches every possible tag. It is sound, not
// complete: a pattern it cannot prove universal is treated as partial,
// which can only make the verdict stricter.
func universal(pattern string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	anchoredStart, anchoredEnd := false, false
	if len(subs) > 0 && (subs[0].Op == syntax.OpBeginText || subs[0].Op == syntax.OpBeginLine) {
		anchoredStart, subs = true, subs[1:]
	}
	if len(subs) > 0 && (subs[len(subs)-1].Op == syntax.OpEndText || subs[len(subs)-1].Op == syntax.OpEndLine) {
		anchoredEnd, subs = true, subs[:len(subs)-1]
	}
	for _, s := range subs {
		if hasAnchor(s) {
			return false
		}
	}
	if !anchoredStart && !anchoredEnd {
		// A search that can match the empty string matches every string.
		body := &syntax.Regexp{Op: syntax.OpConcat, Sub: subs}
		if len(subs) == 0 || matchesEmpty(body) {
			return true
		}
		// One tag character is a substring of every (non-empty) tag.
		if len(subs) != 1 {
			return false
		}
		x := subs[0]
		if x.Op == syntax.OpPlus || (x.Op == syntax.OpRepeat && x.Min == 1 && x.Max == -1) {
			x = x.Sub[0]
		}
		return coversAlphabet(x)
	}
	// Anchored: the body must be X* or X+ over the whole tag alphabet.
	if len(subs) != 1 {
		return len(subs) == 0 && !anchoredStart // "$" alone
	}
	s := subs[0]
	switch s.Op {
	case syntax.OpStar, syntax.OpPlus:
		return coversAlphabet(s.Sub[0])
	case syntax.OpRepeat:
		return s.Min <= 1 && s.Max == -1 && coversAlphabet(s.Sub[0])
	}
	if !anchoredStart || !anchoredEnd {
		// ^X or X$ with X one tag character: the first (last) character
		// of every tag matches.
		return coversAlphabet(s)
	}
	return false
}

func hasAnchor(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	return slices.ContainsFunc(re.Sub, hasAnchor)
}

func matchesEmpty(re *syntax.Regexp) bool {
	r, err := regexp.Compile("^(?:" + re.String() + ")$")
	return err == nil && r.MatchString("")
}

// coversAlphabet reports whether re is a single-character matcher that
// accepts every tag character.
func coversAlphabet(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpCharClass:
		for _, c := range tagChars {
			in := false
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if c >= re.Rune[i] && c <= re.Rune[i+1] {
					in = true
					break
				}
			}
			if !in {
				return false
			}
		}
		return true
	}
	return false
}

// ---- the immutable rule set a fix writes ----
//
// GitLab patterns are RE2, which has no negative lookahead, so "every tag
// except latest and dev-*" cannot be written as "^(?!latest$)". It is
// written instead as the complement of a trie of the allowed patterns:
// for each trie node w that is not itself allowed, the exact tag w; for
// each node, w followed by any character that leads to no allowed
// pattern; and the same below each child that is not covered by a
// trailing "*". Only literal tags and "prefix*" patterns can be expressed
// this way; the alternatives are packed into as few rules of at most 100
// characters as possible.

type trieNode struct {
	kids    map[byte]*trieNode
	literal bool // the tag ending here is allowed
	star    bool // every tag starting here is allowed
}

func (n *trieNode) child(c byte) *trieNode {
	if n.kids == nil {
		n.kids = map[byte]*trieNode{}
	}
	k, ok := n.kids[c]
	if !ok {
		k = &trieNode{}
		n.kids[c] = k
	}
	return k
}

// expressible reports whether an allowed pattern can be kept mutable by an
// immutable rule set: a literal tag, or a literal prefix followed by one
// trailing "*".
func expressible(p string) bool {
	body := strings.TrimSuffix(p, "*")
	if body == "" {
		return p == "*"
	}
	for i := 0; i < len(body); i++ {
		if !strings.ContainsRune(tagChars, rune(body[i])) {
			return false
		}
	}
	return true
}

// alternatives returns the alternatives of the complement of allowed (all
// expressible), sorted. No allowed pattern gives the single alternative
// ".+" (every tag); "*" gives none (nothing to make immutable).
func alternatives(allowed []string) []string {
	root := &trieNode{}
	for _, p := range allowed {
		n := root
		body, star := strings.CutSuffix(p, "*")
		for i := 0; i < len(body); i++ {
			n = n.child(body[i])
		}
		if star {
			n.star = true
		} else {
			n.literal = true
		}
	}
	var out []string
	var walk func(n *trieNode, w string)
	walk = func(n *trieNode, w string) {
		if n.star {
			return
		}
		lit := regexp.QuoteMeta(w)
		if w != "" && !n.literal {
			out = append(out, lit)
		}
		keys := make([]byte, 0, len(n.kids))
		for k := range n.kids {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) == 0 {
			out = append(out, lit+".+")
		} else {
			var cls strings.Builder
			for _, k := range keys {
				if k == '-' || k == ']' || k == '\\' || k == '^' {
					cls.WriteByte('\\')
				}
				cls.WriteByte(k)
			}
			out = append(out, lit+"[^"+cls.String()+"].*")
		}
		for _, k := range keys {
			walk(n.kids[k], w+string(k))
		}
	}
	walk(root, "")
	sort.Strings(out)
	return out
}

// rulePatterns packs the alternatives of the complement of allowed into
// anchored patterns of at most maxPatternLen characters each.
func rulePatterns(allowed []string) ([]string, error) {
	alts := alternatives(allowed)
	if len(alts) == 0 {
		return nil, nil
	}
	const wrap = len("^(?:") + len(")$")
	var out []string
	var cur []string
	size := wrap
	flush := func() {
		if len(cur) > 0 {
			out = append(out, "^(?:"+strings.Join(cur, "|")+")$")
			cur, size = nil, wrap
		}
	}
	for _, a := range alts {
		if wrap+len(a) > maxPatternLen {
			return nil, fmt.Errorf("the pattern needed to keep an allowed tag mutable (%q) is longer than GitLab's %d characters", a, maxPatternLen)
		}
		extra := len(a)
		if len(cur) > 0 {
			extra++
		}
		if size+extra > maxPatternLen {
			flush()
			extra = len(a)
		}
		cur = append(cur, a)
		size += extra
	}
	flush()
	return out, nil
}

// parseAlternatives splits one pattern written by rulePatterns back into
// its alternatives; ok is false for any other pattern.
func parseAlternatives(pattern string) (alts []string, ok bool) {
	inner, ok := strings.CutPrefix(pattern, "^(?:")
	if !ok {
		return nil, false
	}
	if inner, ok = strings.CutSuffix(inner, ")$"); !ok || inner == "" {
		return nil, false
	}
	return strings.Split(inner, "|"), true
}

// splitAlternative reads one alternative: its literal prefix w and its
// tail: "" (exactly w), ".+" or "[^S].*" with the class characters S.
func splitAlternative(a string) (w, tail string, class []byte, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(a) {
		c := a[i]
		switch {
		case c == '\\' && i+1 < len(a) && a[i+1] == '.':
			b.WriteByte('.')
			i += 2
			continue
		case c == '.' || c == '[':
		case strings.IndexByte(tagChars, c) >= 0:
			b.WriteByte(c)
			i++
			continue
		default:
			return "", "", nil, false
		}
		break
	}
	w, rest := b.String(), a[i:]
	switch {
	case rest == "":
		return w, "", nil, w != ""
	case rest == ".+":
		return w, rest, nil, true
	case strings.HasPrefix(rest, "[^") && strings.HasSuffix(rest, "].*"):
		body := rest[2 : len(rest)-3]
		for j := 0; j < len(body); j++ {
			if body[j] == '\\' && j+1 < len(body) {
				j++
			}
			class = append(class, body[j])
		}
		return w, "[^]", class, len(class) > 0
	}
	return "", "", nil, false
}

// decodeAllowed recovers the allowed patterns a set of rule patterns
// written by rulePatterns leaves mutable. ok is false unless the patterns
// are exactly what rulePatterns writes for the decoded list, so a
// hand-written rule is never misread as an allow-list.
func decodeAllowed(patterns []string) (allowed []string, ok bool) {
	var alts []string
	for _, p := range patterns {
		as, ok := parseAlternatives(p)
		if !ok {
			return nil, false
		}
		alts = append(alts, as...)
	}
	visited := map[string][]byte{}
	exact := map[string]bool{}
	for _, a := range alts {
		w, tail, class, ok := splitAlternative(a)
		if !ok {
			return nil, false
		}
		switch tail {
		case "":
			exact[w] = true
		default:
			if _, dup := visited[w]; dup {
				return nil, false
			}
			visited[w] = class
		}
	}
	if _, ok := visited[""]; !ok {
		return nil, false
	}
	for w, class := range visited {
		if w != "" && !exact[w] {
			allowed = append(allowed, w)
		}
		for _, c := range class {
			if _, deeper := visited[w+string(c)]; !deeper {
				allowed = append(allowed, w+string(c)+"*")
			}
		}
	}
	sort.Strings(allowed)
	want := alternatives(allowed)
	got := slices.Clone(alts)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		return nil, false
	}
	return allowed, true
}

// roleNames lists the roles at or above a minimum access level, for
// messages ("Maintainer, Owner and administrators").
func roleNames(level *string) string {
	if level == nil {
		return "nobody"
	}
	switch strings.ToUpper(*level) {
	case "MAINTAINER":
		return "Maintainer, Owner and administrators"
	case "OWNER":
		return "Owner and administrators"
	case "ADMIN":
		return "administrators"
	}
	return "roles at or above " + *level
}

// remediation is what a gitlab finding tells the user to do.
const remediation = "add an immutable tag rule covering every tag (GraphQL createContainerProtectionTagRule with both access levels null; " +
	"needs GitLab Ultimate 18.2+ and the Owner role): immutag fix --apply, or Settings > Packages and registries > Protected container tags"

// evaluate turns a project's protection tag rules into its immutability.
func evaluate(rules []rule) providers.Immutability {
	im := evaluateRules(rules)
	if im.Mode != providers.ModeImmutable {
		im.Remediation = remediation
	}
	return im
}

func evaluateRules(rules []rule) providers.Immutability {
	var immutable, protected []rule
	for _, r := range rules {
		if r.Immutable {
			immutable = append(immutable, r)
		} else {
			protected = append(protected, r)
		}
	}
	for _, r := range immutable {
		if universal(r.Pattern) {
			return providers.Immutability{Mode: providers.ModeImmutable, Native: "immutable rule " + quote(r.Pattern)}
		}
	}
	if len(immutable) > 0 {
		pats := make([]string, 0, len(immutable))
		for _, r := range immutable {
			pats = append(pats, r.Pattern)
		}
		im := providers.Immutability{Mode: providers.ModePartial, Native: "immutable rules " + strings.Join(quoteAll(pats), ", "),
			ImmutablePatterns: pats}
		// Rules written by a fix decode to the tags they leave mutable;
		// other immutable rules can only make more tags immutable, so
		// the decoded list is a safe (never looser) statement of what
		// stays mutable.
		var ours []string
		for _, p := range pats {
			if _, ok := parseAlternatives(p); ok {
				ours = append(ours, p)
			}
		}
		if allowed, ok := decodeAllowed(ours); ok && len(ours) > 0 {
			im.MutablePatterns = allowed
		} else {
			im.Note = "tags matching none of the immutable rules' patterns stay mutable; which ones cannot be derived from the patterns"
		}
		if len(protected) > 0 {
			im.Note = joinNote(im.Note, protectionNote(protected))
		}
		return im
	}
	if len(protected) > 0 {
		pats := make([]string, 0, len(protected))
		for _, r := range protected {
			pats = append(pats, r.Pattern)
		}
		// Protection only restricts who may push: some role can still
		// overwrite every tag, so no tag is immutable.
		return providers.Immutability{Mode: providers.ModePartial, Native: "protection rules " + strings.Join(quoteAll(pats), ", "),
			MutablePatterns: []string{"*"}, Note: protectionNote(protected)}
	}
	return providers.Immutability{Mode: providers.ModeMutable, Native: "no protection tag rules"}
}

func protectionNote(rules []rule) string {
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("tags matching %s can still be overwritten by %s", quote(r.Pattern), roleNames(r.PushLevel)))
	}
	return strings.Join(parts, "; ") + "; other tags by Developer and above"
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
