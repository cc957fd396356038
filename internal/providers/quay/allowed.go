package quay

import (
	"regexp"
	"slices"
	"strings"
)

// Keeping policy.mutable_tags_allowed mutable on Quay: one policy with
// tagPatternMatches false whose pattern matches exactly the allowed tags
// makes every other tag immutable. Quay full-matches the pattern (Python
// re.fullmatch), so "latest|dev-.*" leaves latest and dev-* movable.

// allowedPatterns are the policy's patterns a Quay policy can leave
// mutable: trimmed, deduplicated, never one that is only "*" (that would
// leave every tag mutable).
func allowedPatterns(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" || strings.Trim(a, "*") == "" || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// wildcardRegex turns one allowed pattern ("*" = any run of characters)
// into the regular expression Quay full-matches.
func wildcardRegex(p string) string {
	parts := strings.Split(p, "*")
	for i, s := range parts {
		parts[i] = regexp.QuoteMeta(s)
	}
	return strings.Join(parts, ".*")
}

// allowedRegex is the tagPattern of the inverted policy for allowed.
func allowedRegex(allowed []string) string {
	alts := make([]string, len(allowed))
	for i, a := range allowed {
		alts[i] = wildcardRegex(a)
	}
	return strings.Join(alts, "|")
}

// regexWildcards reads a tagPattern written by allowedRegex back into the
// allowed patterns. ok is false for any other regular expression: an
// inverted policy immutag cannot read leaves every tag possibly mutable.
func regexWildcards(re string) (out []string, ok bool) {
	re = strings.TrimSpace(re)
	re = strings.TrimPrefix(strings.TrimSuffix(re, ")"), "(?:")
	if re == "" {
		return nil, false
	}
	for _, alt := range strings.Split(re, "|") {
		w, ok := unquote(alt)
		if !ok || w == "" || strings.Trim(w, "*") == "" {
			return nil, false
		}
		out = append(out, w)
	}
	// Round trip: only what allowedRegex would have written is accepted.
	if allowedRegex(out) != re {
		return nil, false
	}
	return out, true
}

// unquote undoes regexp.QuoteMeta with ".*" read as "*".
func unquote(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '.' && i+1 < len(s) && s[i+1] == '*':
			i++
			b.WriteByte('*')
		case strings.IndexByte(`.+?()|[]{}^$\`, c) >= 0:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}
