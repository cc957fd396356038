package iac

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/audit"
)

// FileChange is the new content of one file.
type FileChange struct {
	File string
	Old  []byte
	New  []byte
	// Addresses are the resources the change fixes.
	Addresses []string
}

// Diff is the change as a unified diff (paths as git writes them).
func (c FileChange) Diff() string {
	p := c.File
	if wd, err := os.Getwd(); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
				p = rel
			}
		}
	}
	p = strings.TrimPrefix(filepath.ToSlash(p), "/")
	d := udiff.Unified("a/"+p, "b/"+p, string(c.Old), string(c.New))
	if d != "" && !strings.HasSuffix(d, "\n") {
		d += "\n"
	}
	return d
}

// edit is the work for one declaration.
type edit struct {
	block     blockRef
	ops       []op
	addresses []string
}

// Fixable reports whether a finding's edit can be written to its file.
func (f Finding) Fixable() bool {
	ok := f.Status == audit.StatusDrift && !f.Suppressed && f.fixer != nil && !downloaded(f.File) && len(f.overrides) == 0 && f.byHand == "" &&
		(f.Syntax == SyntaxHCL || f.Syntax == SyntaxCFNYAML || f.Syntax == SyntaxCFNJSON || f.Syntax == SyntaxPulumi)
	if ok && f.tg != nil && f.tgVars == nil {
		// A known module's arguments are Terragrunt inputs: fixable
		// when one inputs object sets (or can take) them all.
		_, why := f.tg.inputsTarget(f.fixer(nil))
		return why == ""
	}
	return ok
}

// downloaded reports a file terraform init fetched: an edit there is
// lost on the next init; the module's inputs are what to change.
func downloaded(file string) bool {
	return strings.Contains(filepath.ToSlash(file), "/.terraform/")
}

// PlanFixes computes the file changes for the findings that want one.
// Instances of one declaration (count, for_each, module calls) share one
// edit; when they disagree, the edit that keeps the fewest exclusions
// wins (the most immutable). Files whose edits cannot be made exactly are
// reported and left alone.
func PlanFixes(fs []Finding, p Policy) ([]FileChange, []FileError) {
	allowed := p.MutableTagsAllowed
	byBlock := map[blockRef]*edit{}
	var order []blockRef
	add := func(blk blockRef, ops []op, address string) {
		e, ok := byBlock[blk]
		if !ok {
			e = &edit{block: blk, ops: ops}
			byBlock[blk] = e
			order = append(order, blk)
		} else if keeps(ops) < keeps(e.ops) {
			e.ops = ops
		}
		e.addresses = append(e.addresses, address)
	}
	for _, f := range fs {
		if !f.Fixable() {
			continue
		}
		ops := f.fixer(allowed)
		switch {
		case f.tg != nil && f.tgVars != nil:
			// Each Terragrunt unit the finding holds in edits its own
			// inputs; a unit whose inputs do not set the variable has
			// the declaration edited.
			for _, cfg := range append([]*tgConfig{f.tg}, f.tgMore...) {
				r := f.Resource
				r.tg = cfg
				if tops := r.tgInputOps(ops); tops != nil {
					file, _ := cfg.inputsTarget(tops)
					add(blockRef{file: file, syntax: SyntaxHCL, typ: tgInputsBlock}, tops, f.Address)
				} else {
					add(f.block, ops, f.Address)
				}
			}
		case f.tg != nil:
			file, why := f.tg.inputsTarget(ops)
			if why != "" {
				continue
			}
			add(blockRef{file: file, syntax: SyntaxHCL, typ: tgInputsBlock}, ops, f.Address)
		default:
			add(f.block, ops, f.Address)
		}
	}
	byFile := map[string][]*edit{}
	var files []string
	for _, b := range order {
		if _, ok := byFile[b.file]; !ok {
			files = append(files, b.file)
		}
		byFile[b.file] = append(byFile[b.file], byBlock[b])
	}
	sort.Strings(files)
	var out []FileChange
	var errs []FileError
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, FileError{File: file, Message: err.Error()})
			continue
		}
		es := byFile[file]
		var next []byte
		switch es[0].block.syntax {
		case SyntaxHCL:
			if es[0].block.typ == tgInputsBlock {
				next, err = editTerragrunt(file, src, es)
			} else {
				next, err = editHCL(file, src, es)
			}
		case SyntaxCFNYAML, SyntaxCFNJSON:
			next, err = editCFN(file, src, es, es[0].block.syntax == SyntaxCFNJSON, p)
		case SyntaxPulumi:
			next, err = editPulumi(file, src, es, p)
		default:
			continue
		}
		if err != nil {
			errs = append(errs, FileError{File: file, Message: "no automatic edit: " + err.Error()})
			continue
		}
		if bytes.Equal(next, src) {
			continue
		}
		fc := FileChange{File: file, Old: src, New: next}
		for _, e := range es {
			fc.Addresses = append(fc.Addresses, e.addresses...)
		}
		out = append(out, fc)
	}
	return out, errs
}

func keeps(ops []op) int {
	n := 0
	for _, o := range ops {
		n += len(o.keep)
		if l, ok := o.value.([]any); ok && o.kind == opSet {
			n += len(l)
		}
	}
	return n
}

// WriteChanges writes each change atomically (temporary file, rename),
// keeping the file's mode.
func WriteChanges(cs []FileChange) error {
	for _, c := range cs {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(c.File); err == nil {
			mode = st.Mode().Perm()
		}
		tmp, err := os.CreateTemp(filepath.Dir(c.File), ".immutag-iac-*")
		if err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		_, werr := tmp.Write(c.New)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), mode)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), c.File)
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("%s: %w", c.File, werr)
		}
	}
	return nil
}

// editHCL applies edits with hclwrite, which rewrites only the tokens
// that change: formatting and comments elsewhere stay as they are.
func editHCL(file string, src []byte, es []*edit) ([]byte, error) {
	f, diags := hclwrite.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var extra []string
	for _, e := range es {
		blk := f.Body().FirstMatchingBlock("resource", []string{e.block.typ, e.block.name})
		if e.block.typ == "module" {
			blk = f.Body().FirstMatchingBlock("module", []string{e.block.name})
		}
		if blk == nil {
			return nil, fmt.Errorf("%s %s.%s not found", "resource", e.block.typ, e.block.name)
		}
		body := blk.Body()
		for _, o := range e.ops {
			switch o.kind {
			case opSet:
				if err := setHCL(body, o.path, o.value); err != nil {
					return nil, fmt.Errorf("%s.%s: %w", e.block.typ, e.block.name, err)
				}
			case opRemove:
				removeHCL(body, o)
			case opAddResource:
				extra = append(extra, o.text)
			}
		}
	}
	out := f.Bytes()
	if kept := keepUntouchedLines(file, src, out); kept != nil {
		out = kept
	}
	for _, t := range extra {
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		out = append(out, '\n')
		out = append(out, t...)
	}
	if _, d := hclwrite.ParseConfig(out, file, hcl.InitialPos); d.HasErrors() {
		return nil, fmt.Errorf("the edited file does not parse: %s", d.Error())
	}
	return out, nil
}

func setHCL(body *hclwrite.Body, path []string, v any) error {
	if len(path) == 1 {
		if m, ok := v.(map[string]any); ok {
			// A nested setting written as a block keeps its block form.
			if blk := firstBlock(body, path[0]); blk != nil {
				for _, k := range sortedKeys(m) {
					blk.Body().SetAttributeValue(k, toCty(m[k]))
				}
				return nil
			}
		}
		body.SetAttributeValue(path[0], toCty(v))
		return nil
	}
	blk := firstBlock(body, path[0])
	if blk == nil {
		if dyn := dynamicBlock(body, path[0]); dyn != nil {
			// A dynamic block of that type would render next to a new
			// static one (Terraform refuses a second docker_config).
			// It can give way only when its content sets nothing else.
			content := firstBlock(dyn.Body(), "content")
			if content == nil || len(content.Body().Blocks()) > 0 {
				return fmt.Errorf("%s is a dynamic block: set %s in it by hand", path[0], strings.Join(path[1:], "."))
			}
			for n, a := range content.Body().Attributes() {
				if len(path) != 2 || n != path[1] {
					return fmt.Errorf("%s is a dynamic block that also sets %s: set %s in it by hand", path[0], n, strings.Join(path[1:], "."))
				}
				// Only a switch for this one setting (content sets a
				// literal) gives way; a for_each that also selects on
				// the repository's format or mode is the module's
				// logic, not the setting's.
				if refs, ok := exprVariables(a); !ok || len(refs) > 0 {
					return fmt.Errorf("%s is a dynamic block whose %s is computed: set it in the block by hand", path[0], n)
				}
			}
			body.RemoveBlock(dyn)
		}
		if a := body.GetAttribute(path[0]); a != nil {
			// Written as an attribute ({ ... } or [{ ... }]): replace it
			// with a block carrying only the setting would drop the
			// others, so set the whole object.
			body.RemoveAttribute(path[0])
		}
		blk = body.AppendNewBlock(path[0], nil)
	}
	return setHCL(blk.Body(), path[1:], v)
}

// dynamicBlock returns the dynamic block generating blocks of typ.
func dynamicBlock(body *hclwrite.Body, typ string) *hclwrite.Block {
	for _, b := range body.Blocks() {
		if b.Type() == "dynamic" && len(b.Labels()) == 1 && b.Labels()[0] == typ {
			return b
		}
	}
	return nil
}

func firstBlock(body *hclwrite.Body, typ string) *hclwrite.Block {
	for _, b := range body.Blocks() {
		if b.Type() == typ {
			return b
		}
	}
	return nil
}

func removeHCL(body *hclwrite.Body, o op) {
	name := o.path[0]
	body.RemoveAttribute(name)
	for _, b := range body.Blocks() {
		switch {
		case b.Type() == name:
			if o.keyAttr != "" && len(o.keep) > 0 {
				if a := b.Body().GetAttribute(o.keyAttr); a != nil {
					v := strings.Trim(strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes())), `"`)
					if contains(o.keep, v) {
						continue
					}
				}
			}
			body.RemoveBlock(b)
		case b.Type() == "dynamic" && len(b.Labels()) == 1 && b.Labels()[0] == name:
			body.RemoveBlock(b)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// lineEdits changes a file line by line on its original text, so
// everything the edits do not touch stays byte for byte.
type lineEdits struct {
	lines   []string
	repl    map[int][]lineRepl
	deleted map[int]bool
	before  map[int][]string
	failed  error
}

func newLineEdits(src []byte) *lineEdits {
	return &lineEdits{lines: strings.Split(string(src), "\n"), repl: map[int][]lineRepl{}, deleted: map[int]bool{}, before: map[int][]string{}}
}

// lineRepl replaces bytes start:end of a line.
type lineRepl struct {
	start, end int
	text       string
}

// replace records a replacement; overlapping ones fail the edit.
func (le *lineEdits) replace(line, start, end int, text string) {
	for _, r := range le.repl[line] {
		if start < r.end && r.start < end || start == r.start {
			le.fail("two edits overlap on line %d", line)
			return
		}
	}
	le.repl[line] = append(le.repl[line], lineRepl{start, end, text})
}

func (le *lineEdits) fail(format string, args ...any) {
	if le.failed == nil {
		le.failed = fmt.Errorf(format, args...)
	}
}

func (le *lineEdits) line(n int) string {
	if n < 1 || n > len(le.lines) {
		return ""
	}
	return le.lines[n-1]
}

func (le *lineEdits) render() []byte {
	var out []string
	for i, l := range le.lines {
		n := i + 1
		out = append(out, le.before[n]...)
		if le.deleted[n] {
			continue
		}
		rs := append([]lineRepl(nil), le.repl[n]...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].start > rs[j].start })
		for _, r := range rs {
			l = l[:r.start] + r.text + l[r.end:]
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

// byteCol converts a 1-based character column to a byte offset.
func byteCol(line string, col int) int {
	off := 0
	for i := 1; i < col && off < len(line); i++ {
		_, size := utf8.DecodeRuneInString(line[off:])
		off += size
	}
	return off
}

func indentOf(line string) string {
	return line[:len(line)-len(strings.TrimLeft(line, " \t"))]
}

// editCFN edits templates on their text: a value replaced in place, a
// property line inserted with the indentation of its siblings, a property
// removed with the lines its value spans. The result is parsed and graded
// again; an edit that does not leave the resource compliant is refused.
func editCFN(file string, src []byte, es []*edit, isJSON bool, p Policy) ([]byte, error) {
	t, rs, ok, err := parseCFN(file, src, isJSON)
	if err != nil || !ok {
		return nil, fmt.Errorf("template does not parse")
	}
	_ = t
	le := newLineEdits(src)
	for _, e := range es {
		var cr *cfnResource
		for i := range rs {
			if rs[i].ref == e.block.name {
				cr = &rs[i]
			}
		}
		if cr == nil {
			return nil, fmt.Errorf("resource %s not found", e.block.name)
		}
		for _, o := range e.ops {
			switch o.kind {
			case opSet:
				setCFN(le, cr, o.path[0], o.value, isJSON)
			case opRemove:
				removeCFN(le, cr, o.path[0], isJSON)
			}
		}
	}
	if le.failed != nil {
		return nil, le.failed
	}
	out := le.render()
	if isJSON && !json.Valid(out) {
		return nil, fmt.Errorf("the edited template is not valid JSON")
	}
	// Grade the edited resources again: the edit must make them compliant.
	t2, rs2, ok, err := parseCFN(file, out, isJSON)
	if err != nil || !ok {
		return nil, fmt.Errorf("the edited template does not parse")
	}
	ap := p.auditPolicy()
	for _, e := range es {
		for _, cr := range rs2 {
			if cr.ref != e.block.name {
				continue
			}
			r := Resource{Type: cr.typ, File: file}
			classify(&r, t2.attrs(cr))
			r.NameKnown = true
			if g := grade(r, ap); g.Status != audit.StatusCompliant && g.Status != audit.StatusExempt {
				return nil, fmt.Errorf("%s would still be %s after the edit", cr.id, g.Status)
			}
		}
	}
	return out, nil
}

func cfnScalar(v any, isJSON bool) string {
	switch x := v.(type) {
	case string:
		if isJSON {
			b, _ := json.Marshal(x)
			return string(b)
		}
		if x == "" || strings.ContainsAny(x, ":#{}[],&*!|>'\"%@`") || strings.TrimSpace(x) != x {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = cfnScalar(e, isJSON)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case map[string]any:
		ks := sortedKeys(x)
		s := make([]string, len(ks))
		for i, k := range ks {
			key := k
			if isJSON {
				key = cfnScalar(k, true)
			}
			s[i] = key + ": " + cfnScalar(x[k], isJSON)
		}
		return "{" + strings.Join(s, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func cfnLine(indent, key string, v any, isJSON bool) string {
	if isJSON {
		return indent + cfnScalar(key, true) + ": " + cfnScalar(v, true) + ","
	}
	return indent + key + ": " + cfnScalar(v, false)
}

func setCFN(le *lineEdits, cr *cfnResource, key string, v any, isJSON bool) {
	if cr.props == nil {
		// No Properties: add them next to Type.
		tk := cr.typeKey
		line := le.line(tk.Line)
		indent := indentOf(line)
		if strings.TrimSpace(line[:byteCol(line, tk.Column)]) != "" {
			le.fail("Type of %s does not start its line", cr.id)
			return
		}
		if isJSON {
			le.before[tk.Line] = append(le.before[tk.Line], indent+`"Properties": {`+cfnScalar(key, true)+": "+cfnScalar(v, true)+"},")
			return
		}
		props := "Properties"
		if cr.propsName != "" {
			props = cr.propsName
		}
		le.before[tk.Line] = append(le.before[tk.Line], indent+props+":", cfnLine(indent+"  ", key, v, false))
		return
	}
	if cr.props.Kind != yaml.MappingNode || len(cr.props.Content) == 0 {
		le.fail("Properties of %s is not a mapping with entries", cr.id)
		return
	}
	k, val := mapGet(cr.props, key)
	if k == nil || le.deleted[k.Line] {
		first := cr.props.Content[0]
		line := le.line(first.Line)
		if first.Line == cr.propsKey.Line || strings.TrimSpace(line[:byteCol(line, first.Column)]) != "" && !isJSON {
			le.fail("properties of %s are not one per line", cr.id)
			return
		}
		if isJSON && strings.TrimSpace(line[:byteCol(line, first.Column)]) != "" {
			le.fail("properties of %s are not one per line", cr.id)
			return
		}
		le.before[first.Line] = append(le.before[first.Line], cfnLine(indentOf(line), key, v, isJSON))
		return
	}
	if val.Line != k.Line || lastLine(val) != val.Line || val.Kind == yaml.MappingNode && !isJSON {
		le.fail("%s.%s spans lines", cr.id, key)
		return
	}
	line := le.line(val.Line)
	start := byteCol(line, val.Column)
	end := scalarEnd(line, start, val, isJSON)
	if end < 0 {
		le.fail("%s.%s: value not found on its line", cr.id, key)
		return
	}
	le.replace(val.Line, start, end, cfnScalar(v, isJSON))
}

// scalarEnd finds where a one-line value ends: a quoted string at its
// closing quote, a flow collection at its closing bracket, anything else
// before a comment or (JSON) a comma.
func scalarEnd(line string, start int, n *yaml.Node, isJSON bool) int {
	if start > len(line) {
		return -1
	}
	rest := line[start:]
	switch {
	case strings.HasPrefix(rest, `"`):
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '"' {
				return start + i + 1
			}
		}
		return -1
	case strings.HasPrefix(rest, `'`):
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start + i + 1
			}
		}
		return -1
	case strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, "["):
		depth := 0
		inStr := false
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			switch {
			case inStr && c == '\\':
				i++
			case c == '"':
				inStr = !inStr
			case !inStr && (c == '{' || c == '['):
				depth++
			case !inStr && (c == '}' || c == ']'):
				depth--
				if depth == 0 {
					return start + i + 1
				}
			}
		}
		return -1
	}
	end := len(rest)
	if i := strings.Index(rest, " #"); i >= 0 {
		end = i
	}
	if isJSON {
		if i := strings.IndexAny(rest, ",}"); i >= 0 && i < end {
			end = i
		}
	}
	return start + len(strings.TrimRight(rest[:end], " \t"))
}

func removeCFN(le *lineEdits, cr *cfnResource, key string, isJSON bool) {
	if cr.props == nil || cr.props.Kind != yaml.MappingNode {
		return
	}
	var idx = -1
	for i := 0; i+1 < len(cr.props.Content); i += 2 {
		if cr.props.Content[i].Value == key {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	k, v := cr.props.Content[idx], cr.props.Content[idx+1]
	line := le.line(k.Line)
	if strings.TrimSpace(line[:byteCol(line, k.Column)]) != "" {
		le.fail("%s.%s does not start its line", cr.id, key)
		return
	}
	last := lastLine(v)
	if isJSON {
		// The closing bracket of a collection is on the line after its
		// last element.
		for l := last; l <= len(le.lines); l++ {
			t := strings.TrimSpace(le.line(l))
			if strings.HasPrefix(t, "]") || strings.HasPrefix(t, "}") || l == k.Line && (v.Kind == yaml.ScalarNode) {
				last = l
				break
			}
			if l > last && t != "" {
				break
			}
		}
	}
	if idx+2 < len(cr.props.Content) && cr.props.Content[idx+2].Line <= last {
		le.fail("%s.%s shares a line with the next property", cr.id, key)
		return
	}
	isLast := idx+2 >= len(cr.props.Content)
	if !isJSON && v.Kind != yaml.ScalarNode {
		// A block collection ends before the next line indented no deeper
		// than the key.
		ind := len(indentOf(line))
		for l := last + 1; l <= len(le.lines); l++ {
			t := le.line(l)
			if strings.TrimSpace(t) == "" || strings.HasPrefix(strings.TrimSpace(t), "#") {
				break
			}
			if len(indentOf(t)) <= ind {
				break
			}
			last = l
		}
	}
	for l := k.Line; l <= last; l++ {
		le.deleted[l] = true
	}
	if isJSON && isLast {
		// The entry before now ends the object: drop its comma.
		for l := k.Line - 1; l >= 1; l-- {
			t := strings.TrimRight(le.line(l), " \t\r")
			if strings.TrimSpace(t) == "" || le.deleted[l] {
				continue
			}
			if strings.HasSuffix(t, ",") {
				le.replace(l, len(t)-1, len(t), "")
			}
			break
		}
	}
}

// exprVariables are the references an attribute's expression makes.
func exprVariables(a *hclwrite.Attribute) ([]hcl.Traversal, bool) {
	e, d := hclsyntax.ParseExpression(a.Expr().BuildTokens(nil).Bytes(), "", hcl.InitialPos)
	if d.HasErrors() {
		return nil, false
	}
	return e.Variables(), true
}

// keepUntouchedLines undoes hclwrite's formatting of the whole file: the
// edited file (formatted) is compared line by line with the original
// formatted the same way, and only the lines that differ take the
// edited text; every other line stays byte for byte as written (its own
// alignment, its own spacing). Formatting never adds or removes lines,
// so a line of the formatted original is the same line of the original.
// nil when that does not hold or the result would not read as the edit.
func keepUntouchedLines(file string, src, edited []byte) []byte {
	f0, d := hclwrite.ParseConfig(src, file, hcl.InitialPos)
	if d.HasErrors() {
		return nil
	}
	formatted := f0.Bytes()
	orig := strings.SplitAfter(string(src), "\n")
	if len(orig) != len(strings.SplitAfter(string(formatted), "\n")) {
		return nil
	}
	var b strings.Builder
	line := 0
	for _, e := range udiff.Lines(string(formatted), string(edited)) {
		start := strings.Count(string(formatted[:e.Start]), "\n")
		end := strings.Count(string(formatted[:e.End]), "\n")
		if start < line || end > len(orig) {
			return nil
		}
		b.WriteString(strings.Join(orig[line:start], ""))
		b.WriteString(e.New)
		line = end
	}
	b.WriteString(strings.Join(orig[line:], ""))
	out := []byte(b.String())
	// The result must be the edit: formatted, it is the edited file.
	f1, d := hclwrite.ParseConfig(out, file, hcl.InitialPos)
	if d.HasErrors() || !bytes.Equal(f1.Bytes(), edited) {
		return nil
	}
	return out
}
