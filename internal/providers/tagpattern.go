package providers

import "strings"

// TagMatches reports whether tag matches one policy.mutable_tags_allowed
// pattern: "*" stands for any run of characters (ECR's wildcard filters),
// everything else is literal, and the whole tag must match.
func TagMatches(pattern, tag string) bool {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return false
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return tag == pattern
	}
	if !strings.HasPrefix(tag, parts[0]) {
		return false
	}
	rest := tag[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return len(rest) >= len(last) && strings.HasSuffix(rest, last)
}

// TagAllowed reports whether tag matches any of the allowed patterns.
func TagAllowed(tag string, allowed []string) bool {
	for _, a := range allowed {
		if TagMatches(a, tag) {
			return true
		}
	}
	return false
}
