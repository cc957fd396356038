package lint

import (
	"sort"
	"strings"
)

// fixBuilder collects byte-range replacements, line deletions and
// insertions, then turns them into whole-line Edits. It is all or
// nothing: when one requested change cannot be made exactly, the fix has
// no edits (its description still says what to do), because half a fix
// can leave a workflow that pushes an untagged image.
type fixBuilder struct {
	src     *source
	repl    map[int][]replacement
	deleted map[int]bool
	before  map[int][]string
	after   map[int][]string
	failed  bool
}

type replacement struct {
	start, end int
	text       string
}

func newFix(src *source) *fixBuilder {
	return &fixBuilder{src: src, repl: map[int][]replacement{}, deleted: map[int]bool{},
		before: map[int][]string{}, after: map[int][]string{}}
}

func (b *fixBuilder) fail() { b.failed = true }

func (b *fixBuilder) replace(sp span, text string) {
	if b.src.gitlab {
		text = strings.ReplaceAll(text, "GITHUB_SHA", "CI_COMMIT_SHA")
	}
	if !sp.exact || sp.line < 1 || sp.line > len(b.src.lines) || sp.start < 0 || sp.end > len(b.src.line(sp.line)) || sp.start > sp.end {
		b.failed = true
		return
	}
	for _, r := range b.repl[sp.line] {
		if r.start == sp.start && r.end == sp.end {
			if r.text != text {
				b.failed = true
			}
			return
		}
		if sp.start < r.end && r.start < sp.end || sp.start == sp.end && sp.start == r.start {
			b.failed = true
			return
		}
	}
	b.repl[sp.line] = append(b.repl[sp.line], replacement{sp.start, sp.end, text})
}

func (b *fixBuilder) deleteLine(n int) {
	if n < 1 || n > len(b.src.lines) {
		b.failed = true
		return
	}
	b.deleted[n] = true
}

func (b *fixBuilder) insertBefore(n int, lines ...string) {
	if n < 1 || n > len(b.src.lines) {
		b.failed = true
		return
	}
	b.before[n] = append(b.before[n], lines...)
}

func (b *fixBuilder) insertAfter(n int, lines ...string) {
	if n < 1 || n > len(b.src.lines) {
		b.failed = true
		return
	}
	b.after[n] = append(b.after[n], lines...)
}

func (b *fixBuilder) edits() []Edit {
	if b.failed {
		return nil
	}
	touched := map[int]bool{}
	for n := range b.repl {
		touched[n] = true
	}
	for n := range b.deleted {
		touched[n] = true
	}
	for n := range b.before {
		touched[n] = true
	}
	for n := range b.after {
		touched[n] = true
	}
	order := make([]int, 0, len(touched))
	for n := range touched {
		order = append(order, n)
	}
	sort.Ints(order)
	var out []Edit
	for _, n := range order {
		old := b.src.line(n)
		line := old
		rs := append([]replacement(nil), b.repl[n]...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].start > rs[j].start })
		for _, r := range rs {
			line = line[:r.start] + r.text + line[r.end:]
		}
		newLines := append([]string{}, b.before[n]...)
		if !b.deleted[n] {
			newLines = append(newLines, line)
		}
		newLines = append(newLines, b.after[n]...)
		if len(newLines) == 1 && newLines[0] == old {
			continue
		}
		out = append(out, Edit{Line: n, Old: old, New: newLines})
	}
	return out
}

func (b *fixBuilder) fix(desc string) *Fix {
	if b.src.gitlab {
		desc = strings.ReplaceAll(desc, "GITHUB_SHA", "CI_COMMIT_SHA")
	}
	return &Fix{Description: desc, Edits: b.edits()}
}

// indentOf returns the leading spaces of a line.
func indentOf(l string) string {
	return l[:len(l)-len(strings.TrimLeft(l, " "))]
}
