package dockerhub

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
)

// Docker Hub rules name the tags that are immutable; there is no rule that
// exempts a tag, and RE2 has no negative look-ahead. To keep the policy's
// allowed tags mutable the fix writes one rule that matches every tag
// except them: the complement of the allowed patterns, built from a trie
// of their literal prefixes. It is anchored (^...$) so it means the same
// whether or not Hub anchors rules (undocumented), and it is one rule, well
// within Hub's limit of five.

// expressible reports whether an allowed pattern can be left out of the
// complement rule: a tag literal, optionally ending in one "*" (a prefix).
var expressibleRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+\*?$`)

// splitAllowed separates the patterns a complement rule can leave mutable
// from those it cannot (a "*" inside or first, other characters). A
// pattern of only "*" is dropped: it would leave every tag mutable.
func splitAllowed(allowed []string) (ok, not []string) {
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		switch {
		case a == "" || strings.Trim(a, "*") == "":
		case expressibleRE.MatchString(a):
			if !slices.Contains(ok, a) {
				ok = append(ok, a)
			}
		default:
			not = append(not, a)
		}
	}
	return ok, not
}

type trieNode struct {
	children map[byte]*trieNode
	end      bool // a literal pattern ends here
	prefix   bool // a "prefix*" pattern ends here: everything below is allowed
}

// complementRule returns the rule matching exactly the tags that match
// none of patterns (all expressible).
func complementRule(patterns []string) string {
	root := &trieNode{}
	for _, p := range patterns {
		n := root
		lit := strings.TrimSuffix(p, "*")
		for i := 0; i < len(lit); i++ {
			if n.children == nil {
				n.children = map[byte]*trieNode{}
			}
			c := n.children[lit[i]]
			if c == nil {
				c = &trieNode{}
				n.children[lit[i]] = c
			}
			n = c
		}
		if strings.HasSuffix(p, "*") {
			n.prefix = true
		} else {
			n.end = true
		}
	}
	return "^(?:" + complementOf(root) + ")$"
}

// complementOf is a regular expression for the strings that, read from n,
// match no pattern below n. It never returns "" for a non-prefix node: at
// least the "leave the trie" branch exists.
func complementOf(n *trieNode) string {
	var alts []string
	if !n.end {
		alts = append(alts, "") // the string ends here and no literal ends here
	}
	keys := make([]byte, 0, len(n.children))
	for k := range n.children {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	// Any next character that leaves the trie starts a tag no pattern allows.
	if len(keys) == 0 {
		alts = append(alts, ".+")
	} else {
		var cls strings.Builder
		cls.WriteString("[^")
		for _, k := range keys {
			cls.WriteString(classEscape(k))
		}
		cls.WriteString("].*")
		alts = append(alts, cls.String())
	}
	for _, k := range keys {
		c := n.children[k]
		if c.prefix {
			continue // everything from here on is allowed
		}
		alts = append(alts, regexp.QuoteMeta(string(k))+"(?:"+complementOf(c)+")")
	}
	return strings.Join(alts, "|")
}

func classEscape(c byte) string {
	switch c {
	case '\\', ']', '[', '^', '-':
		return `\` + string(c)
	}
	return string(c)
}

// anyMayMatch reports whether one of rules may match a tag of pattern.
func anyMayMatch(rules []string, pattern string) bool {
	for _, r := range rules {
		if mayMatch(r, pattern) {
			return true
		}
	}
	return false
}

// mayMatch reports whether rule (RE2, as Hub stores it) can match some tag
// of pattern (a tag name, or a name prefix ending in "*") under either
// reading of Hub's undocumented anchoring: whole tag or anywhere in it. It
// errs towards true (a rule it cannot read, an unanchored rule against a
// prefix), since its answer decides what a fix may leave unlocked.
func mayMatch(rule, pattern string) bool {
	prefix, isPrefix := strings.CutSuffix(pattern, "*")
	if !isPrefix {
		// A search finds every whole-tag match too.
		m, err := regexp.MatchString(rule, pattern)
		return err != nil || m
	}
	re, err := syntax.Parse(rule, syntax.Perl)
	if err != nil {
		return true
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return true
	}
	if prog.StartCond()&syntax.EmptyBeginText == 0 {
		// Searched for anywhere, it can match after the prefix.
		return true
	}
	// Walk the program over the prefix (empty-width conditions pass, except
	// the end of the text inside it), then ask whether a match is still
	// reachable with any continuation.
	var closure func(set map[uint32]bool, pc uint32)
	closure = func(set map[uint32]bool, pc uint32) {
		if set[pc] {
			return
		}
		set[pc] = true
		switch in := prog.Inst[pc]; in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			closure(set, in.Out)
			closure(set, in.Arg)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&(syntax.EmptyEndText|syntax.EmptyEndLine) == 0 {
				closure(set, in.Out)
			}
		case syntax.InstCapture, syntax.InstNop:
			closure(set, in.Out)
		}
	}
	cur := map[uint32]bool{}
	closure(cur, uint32(prog.Start))
	for _, r := range prefix {
		for pc := range cur {
			if prog.Inst[pc].Op == syntax.InstMatch {
				// Searched for, it matches the start of every such tag.
				return true
			}
		}
		next := map[uint32]bool{}
		for pc := range cur {
			in := prog.Inst[pc]
			switch in.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				if in.MatchRune(r) {
					closure(next, in.Out)
				}
			}
		}
		if len(next) == 0 {
			return false
		}
		cur = next
	}
	seen := map[uint32]bool{}
	stack := make([]uint32, 0, len(cur))
	for pc := range cur {
		stack = append(stack, pc)
	}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		in := prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			return true
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		default:
			stack = append(stack, in.Out)
		}
	}
	return false
}
