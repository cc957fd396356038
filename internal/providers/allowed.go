package providers

import (
	"slices"
	"strings"
)

// AllowedTags is the policy's mutable_tags_allowed as adapters compare and
// write it: trimmed, without empty entries or repeats.
func (p FixPolicy) AllowedTags() []string {
	var out []string
	for _, s := range p.MutableTagsAllowed {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Satisfies reports whether im leaves mutable only patterns in allowed:
// immutable, or partial with every mutable pattern allowed. It mirrors the
// policy, so an adapter's plan and read-back agree with the audit.
func (im Immutability) Satisfies(allowed []string) bool {
	switch im.Mode {
	case ModeImmutable:
		return true
	case ModePartial:
		if len(im.MutablePatterns) == 0 {
			return false
		}
		for _, m := range im.MutablePatterns {
			if !slices.Contains(allowed, strings.TrimSpace(m)) {
				return false
			}
		}
		return true
	}
	return false
}
