package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FileError says why a file could not be linted, with a position when the
// YAML parser gives one.
type FileError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

func (e *FileError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
}

// source is one file being linted: its text split in lines, for positions
// and exact line edits.
type source struct {
	file  string
	lines []string // without line terminators
	// budget bounds the work spent following aliases and merge keys, so a
	// hostile file (an alias cycle, a billion-laughs merge tree) cannot
	// hang the linter.
	budget int
	// gitlab: fixes name GitLab's commit sha variable, not GitHub's.
	gitlab bool
}

func newSource(file string, src []byte) *source {
	text := strings.TrimSuffix(string(src), "\n")
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	// Ample for any real workflow (the walk visits each mapping entry a few
	// times), small enough that an alias/merge bomb stops in milliseconds.
	return &source{file: file, lines: lines, budget: 1_000_000 + 64*len(src)}
}

func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return s.lines[n-1]
}

// byteOffset converts a 1-based rune column on line n to a byte offset.
func (s *source) byteOffset(n, col int) int {
	l := s.line(n)
	off := 0
	for c := 1; c < col && off < len(l); c++ {
		_, size := utf8.DecodeRuneInString(l[off:])
		off += size
	}
	return off
}

// column converts a byte offset on line n to a 1-based rune column.
func (s *source) column(n, off int) int {
	l := s.line(n)
	if off > len(l) {
		off = len(l)
	}
	if off < 0 {
		off = 0
	}
	return utf8.RuneCountInString(l[:off]) + 1
}

// parseDocuments decodes every YAML document in src. Documents decoded
// before an error are returned with it.
func parseDocuments(file string, src []byte) (docs []*yaml.Node, ferr *FileError) {
	defer func() {
		// The YAML parser should never panic; if it does on some input,
		// that file is reported unparseable instead of killing the run.
		if r := recover(); r != nil {
			ferr = &FileError{File: file, Message: fmt.Sprintf("yaml parser failed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, yamlError(file, src, err)
		}
		docs = append(docs, &n)
	}
}

// oddLineBreak finds the first line break other than LF or CRLF: a lone CR
// or one of NEL, U+2028 and U+2029, which YAML 1.1 parsers treat as line
// breaks.
func oddLineBreak(file string, src []byte) *FileError {
	line := 1
	for i := 0; i < len(src); i++ {
		var what string
		switch {
		case src[i] == '\n':
			line++
			continue
		case src[i] == '\r' && (i+1 == len(src) || src[i+1] != '\n'):
			what = "a lone carriage return (CR)"
		case bytes.HasPrefix(src[i:], []byte("\u0085")):
			what = "a NEL (U+0085)"
		case bytes.HasPrefix(src[i:], []byte("\u2028")):
			what = "a LINE SEPARATOR (U+2028)"
		case bytes.HasPrefix(src[i:], []byte("\u2029")):
			what = "a PARAGRAPH SEPARATOR (U+2029)"
		default:
			continue
		}
		return &FileError{File: file, Line: line, Message: what + " is used as a line break; " +
			"YAML counts it as a new line but editors do not, so positions would be wrong: convert the file to LF or CRLF line endings"}
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(?:, column (\d+)|: column (\d+))?`)

// yamlError turns a parser error into a FileError with a line. Some parser
// messages carry no line ("mapping values are not allowed in this
// context", "unknown anchor"); for those the first line at which a prefix of
// the file fails the same way is found by bisection.
func yamlError(file string, src []byte, err error) *FileError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FileError{File: file, Message: "invalid YAML: " + msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			fe.Column, _ = strconv.Atoi(m[2])
		} else if m[3] != "" {
			fe.Column, _ = strconv.Atoi(m[3])
		}
		rest := strings.TrimLeft(strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, "")), ": ")
		fe.Message = "invalid YAML: " + rest
		// "unexpected end of stream" and the like may point one past the
		// text; report the last line instead of one the file does not have.
		if n := bytes.Count(bytes.TrimSuffix(src, []byte("\n")), []byte("\n")) + 1; fe.Line > n {
			fe.Line, fe.Column = n, 0
		}
		return fe
	}
	fe.Line = bisectErrorLine(src, err.Error())
	return fe
}

func bisectErrorLine(src []byte, want string) int {
	lines := bytes.SplitAfter(src, []byte("\n"))
	if len(lines) > 100000 {
		return 0
	}
	fails := func(k int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(bytes.Join(lines[:k], nil)))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			return !errors.Is(err, io.EOF) && err.Error() == want
		}
	}
	lo, hi := 1, len(lines)
	if !safeFails(fails, hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if safeFails(fails, mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func safeFails(f func(int) bool, k int) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(k)
}

// deref follows aliases and unwraps a document node. It returns nil for a
// nil node or when the alias budget is spent.
func (s *source) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 32; i++ {
		switch n.Kind {
		case yaml.AliasNode:
			if s.budget--; s.budget < 0 {
				return nil
			}
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's entries with YAML merge keys (<<) applied: the
// mapping's own keys win over merged ones, earlier merged maps over later.
func (s *source) pairs(n *yaml.Node) []pair {
	return s.pairsDepth(n, 0)
}

func (s *source) pairsDepth(n *yaml.Node, depth int) []pair {
	n = s.deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 8 {
		return nil
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if s.budget--; s.budget < 0 {
			return own
		}
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag != "!!str" {
			vv := s.deref(v)
			if vv == nil {
				continue
			}
			var srcs []*yaml.Node
			if vv.Kind == yaml.SequenceNode {
				srcs = vv.Content
			} else {
				srcs = []*yaml.Node{vv}
			}
			for _, m := range srcs {
				merged = append(merged, s.pairsDepth(m, depth+1)...)
			}
			continue
		}
		own = append(own, pair{k, v})
		seen[k.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			own = append(own, p)
			seen[p.key.Value] = true
		}
	}
	return own
}

// get returns the key and value nodes of key in mapping n (value dereferenced).
func (s *source) get(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for _, p := range s.pairs(n) {
		if p.key.Value == key {
			return p.key, s.deref(p.value)
		}
	}
	return nil, nil
}

// str returns a scalar's value; ok is false for anything but a scalar.
func (s *source) str(n *yaml.Node) (string, bool) {
	n = s.deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// items returns a sequence's elements (dereferenced; nil entries dropped).
func (s *source) items(n *yaml.Node) []*yaml.Node {
	n = s.deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if s.budget--; s.budget < 0 {
			break
		}
		if d := s.deref(c); d != nil {
			out = append(out, d)
		}
	}
	return out
}

// valueLine is one line of a scalar's value and where it sits in the file.
type valueLine struct {
	text  string
	line  int // 1-based file line
	off   int // byte offset of text in that line
	exact bool
	// segs map a value line folded from several source lines (a plain
	// multi-line or > scalar: the lines joined by spaces) back to them;
	// the line is then not exact as a whole, but a range within one
	// segment is.
	segs []foldSeg
}

// foldSeg is one source line's part of a folded value line.
type foldSeg struct {
	vstart, n int // range in the value line
	line, off int // where it sits in the file
}

// scalar is a scalar value with a map back to the source, so findings
// point at the right column and fixes edit the right bytes.
type scalar struct {
	node  *yaml.Node
	value string
	lines []valueLine
}

// scalarOf maps every line of a scalar value to its source line. Literal
// blocks map one to one; single-line plain and quoted scalars map when the
// text appears verbatim (no escapes); anything else (folded blocks,
// multi-line flow scalars) is located by searching the source, and marked
// inexact when not found, which disables edits for it.
func (s *source) scalarOf(n *yaml.Node) *scalar {
	n = s.deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil
	}
	sc := &scalar{node: n, value: n.Value}
	parts := strings.Split(n.Value, "\n")
	if n.Style&yaml.LiteralStyle != 0 {
		// Trailing newline (clip/keep chomping) leaves an empty last part.
		if len(parts) > 1 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		indent := -1
		for i := range parts {
			ln := n.Line + 1 + i
			src := s.line(ln)
			if parts[i] == "" {
				sc.lines = append(sc.lines, valueLine{text: "", line: ln, off: len(src), exact: strings.TrimSpace(src) == ""})
				continue
			}
			if indent < 0 {
				// The first content line may be indented beyond the block
				// indent (an explicit indentation indicator); align on it.
				if strings.HasSuffix(src, parts[i]) {
					indent = len(src) - len(parts[i])
				} else {
					indent = len(src) - len(strings.TrimLeft(src, " "))
				}
			}
			exact := indent >= 0 && indent <= len(src) && src[indent:] == parts[i]
			sc.lines = append(sc.lines, valueLine{text: parts[i], line: ln, off: min(indent, len(src)), exact: exact})
		}
		return sc
	}
	if segs := s.foldSegments(n); segs != nil {
		sc.lines = []valueLine{{text: strings.TrimSuffix(n.Value, "\n"), line: segs[0].line, off: segs[0].off, segs: segs}}
		return sc
	}
	if len(parts) == 1 && n.Style&(yaml.FoldedStyle) == 0 {
		src := s.line(n.Line)
		off := s.byteOffset(n.Line, n.Column)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			off++
		}
		exact := off <= len(src) && strings.HasPrefix(src[off:], n.Value)
		if exact && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			// A quote character inside would have been escaped or doubled:
			// the verbatim match must end at the closing quote.
			q := byte('"')
			if n.Style&yaml.SingleQuotedStyle != 0 {
				q = '\''
			}
			end := off + len(n.Value)
			exact = end < len(src) && src[end] == q && !strings.ContainsRune(n.Value, rune(q)) && !strings.Contains(n.Value, `\`)
		}
		sc.lines = []valueLine{{text: n.Value, line: n.Line, off: off, exact: exact}}
		return sc
	}
	// Search fallback: locate each value line's text, in order.
	cur := n.Line
	for _, p := range parts {
		vl := valueLine{text: p, line: n.Line, off: s.byteOffset(n.Line, n.Column)}
		if strings.TrimSpace(p) != "" {
			for ln := cur; ln <= len(s.lines) && ln < cur+200; ln++ {
				line := s.line(ln)
				from := 0
				if ln == n.Line {
					from = min(s.byteOffset(n.Line, n.Column), len(line))
				}
				if i := strings.Index(line[from:], p); i >= 0 {
					vl = valueLine{text: p, line: ln, off: from + i, exact: true}
					cur = ln + 1
					break
				}
			}
		}
		sc.lines = append(sc.lines, vl)
	}
	return sc
}

// span is a byte range on one source line.
type span struct {
	line       int
	start, end int
	exact      bool
}

// spanAt maps a byte range within value line i of the scalar to the file.
func (sc *scalar) spanAt(i, start, end int) span {
	if i < 0 || i >= len(sc.lines) {
		return span{line: sc.node.Line}
	}
	vl := sc.lines[i]
	if !vl.exact && len(vl.segs) > 0 {
		for _, g := range vl.segs {
			if start >= g.vstart && end <= g.vstart+g.n {
				return span{line: g.line, start: g.off + start - g.vstart, end: g.off + end - g.vstart, exact: true}
			}
		}
		return span{line: vl.line, start: vl.off, end: vl.off}
	}
	if !vl.exact {
		// Only the scalar's own position is known (folded or escaped text).
		return span{line: vl.line, start: vl.off, end: vl.off}
	}
	return span{line: vl.line, start: vl.off + start, end: vl.off + end, exact: true}
}

// foldSegments maps a plain multi-line or folded (>) scalar holding one
// paragraph to the source lines it was folded from, or returns nil when
// the value is not exactly those lines joined by single spaces (escapes,
// blank lines, comments, more-indented lines).
func (s *source) foldSegments(n *yaml.Node) []foldSeg {
	val := n.Value
	first, from := n.Line, s.byteOffset(n.Line, n.Column)
	switch {
	case n.Style == 0:
	case n.Style&yaml.FoldedStyle != 0:
		val = strings.TrimSuffix(val, "\n")
		first, from = n.Line+1, -1
	default:
		return nil
	}
	if strings.Contains(val, "\n") || val == "" {
		return nil
	}
	var segs []foldSeg
	pos := 0
	for ln := first; ln <= len(s.lines) && ln < first+200 && pos < len(val); ln++ {
		line := s.line(ln)
		start := 0
		if ln == first && from >= 0 {
			start = min(from, len(line))
		}
		text := strings.TrimSpace(line[start:])
		if n.Style == 0 {
			// In a plain scalar, # after a space starts a comment (the
			// scalar's last line: "--destination $IMAGE  # why").
			if i := strings.IndexAny(text, " \t"); i >= 0 {
				if k := strings.Index(text, " #"); k >= 0 {
					text = strings.TrimSpace(text[:k])
				} else if k := strings.Index(text, "\t#"); k >= 0 {
					text = strings.TrimSpace(text[:k])
				}
			}
		}
		if text == "" {
			return nil
		}
		off := start + strings.Index(line[start:], text)
		if pos > 0 {
			if val[pos] != ' ' {
				return nil
			}
			pos++
		}
		if !strings.HasPrefix(val[pos:], text) {
			return nil
		}
		segs = append(segs, foldSeg{vstart: pos, n: len(text), line: ln, off: off})
		pos += len(text)
	}
	if pos != len(val) || len(segs) < 2 {
		return nil
	}
	return segs
}

// nodeSpan is the position of a node itself (for step-level findings).
func (s *source) nodeSpan(n *yaml.Node) span {
	if n == nil {
		return span{line: 1}
	}
	off := s.byteOffset(n.Line, n.Column)
	end := off + len(n.Value)
	if end > len(s.line(n.Line)) || n.Kind != yaml.ScalarNode {
		end = off
	}
	return span{line: n.Line, start: off, end: end}
}
