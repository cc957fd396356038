package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/providers"
)

// Decode turns a config file into a validated Config.
//
// raw is the file as read (it gives line numbers, the strict key check and
// SHA256); settings, when not nil, are values laid over the file, key by key
// (a mapping is merged, anything else replaces what the file says), such as
// the file with environment overrides applied; their scalars may be strings
// ("1" for version, "latest,dev" for a list). Keys are strict: an unknown
// key, a key the provider's kind does not use, or a key that looks like an
// inline secret is an error. Decode runs Validate too, so a nil error means
// the Config is ready to use; File, SHA256 and each Provider.Line are set.
//
// kinds are the registry kinds this build supports (catalog.Kinds()): each
// decodes and validates its own provider keys into Provider.Settings.
//
// A relative tls.ca_file is resolved against the config file's directory,
// as kubeconfig does, so the same file works from any working directory.
func Decode(file string, raw []byte, settings map[string]any, kinds Kinds) (*Config, error) {
	doc, err := Parse(file, raw)
	if err != nil {
		return nil, err
	}
	var over *value
	if settings != nil {
		over = fromAny(settings)
	}
	return doc.decode(over, kinds)
}

// Doc is a config file parsed once: its keys tell the caller which
// environment overrides to look for, and Decode lays them over it.
type Doc struct {
	file  string
	raw   []byte
	root  *value
	lines map[string]int
}

// Parse parses raw, the config file as read, without decoding it; errors
// are located like Decode's.
func Parse(file string, raw []byte) (*Doc, error) {
	lines := map[string]int{}
	root, err := parseYAML(file, raw, lines)
	if err != nil {
		return nil, err
	}
	return &Doc{file: file, raw: raw, root: root, lines: lines}, nil
}

// Keys are the dotted paths of the file's values outside lists (version,
// policy.mutable_tags_allowed, providers as a whole): what an environment
// override can replace, the keys viper's AllKeys gives for the same file.
func (doc *Doc) Keys() []string {
	var out []string
	var walk func(v *value, path string)
	walk = func(v *value, path string) {
		if v.kind == vMap {
			for _, e := range v.keys {
				walk(e.val, join(path, e.key))
			}
			return
		}
		if path != "" {
			out = append(out, path)
		}
	}
	walk(doc.root, "")
	return out
}

// Decode is the package's Decode for the parsed file. overrides map dotted
// keys (Keys, or keys the file does not set) to values given as text, as
// the environment gives them: "1" for version, "latest,dev-*" for a list.
func (doc *Doc) Decode(overrides map[string]string, kinds Kinds) (*Config, error) {
	var over *value
	if len(overrides) > 0 {
		tree := map[string]any{}
		for k, v := range overrides {
			m := tree
			parts := strings.Split(k, ".")
			for _, p := range parts[:len(parts)-1] {
				sub, ok := m[p].(map[string]any)
				if !ok {
					sub = map[string]any{}
					m[p] = sub
				}
				m = sub
			}
			m[parts[len(parts)-1]] = v
		}
		over = fromAny(tree)
	}
	c, err := doc.decode(over, kinds)
	if err != nil || len(overrides) == 0 {
		return c, err
	}
	// The digest stands for the policy the run applied: an
	// IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED="*" must not leave the report with
	// the digest of the file alone (report merge joins shards by it, and an
	// auditor compares it with the reviewed file).
	c.Overrides = slices.Sorted(maps.Keys(overrides))
	if doc.raw != nil {
		h := sha256.New()
		h.Write(doc.raw)
		for _, k := range c.Overrides {
			fmt.Fprintf(h, "\x00override %s=%s", k, overrides[k])
		}
		c.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	return c, nil
}

func (doc *Doc) decode(over *value, kinds Kinds) (*Config, error) {
	d := &decoder{file: doc.file, lines: doc.lines, kinds: kinds}
	// The file as written is always checked, even when overrides replace
	// some of its values: "Regions" or a misplaced key is wrong regardless.
	c, err := d.config(doc.root)
	if err != nil {
		return nil, err
	}
	if over != nil {
		if c, err = d.config(overlay(doc.root, over)); err != nil {
			return nil, err
		}
	}
	c.File = doc.file
	if doc.raw != nil {
		sum := sha256.Sum256(doc.raw)
		c.SHA256 = hex.EncodeToString(sum[:])
	}
	c.namesCredentials = namesCredentials(doc.root)
	for i := range c.Providers {
		c.Providers[i].Line = doc.lines[index("providers", i)]
		if ca := c.Providers[i].TLS.CAFile; ca != "" && doc.file != "" && !filepath.IsAbs(ca) {
			c.Providers[i].TLS.CAFile = filepath.Join(filepath.Dir(doc.file), ca)
		}
	}
	if err := c.validate(d.lineOf, kinds); err != nil {
		return nil, err
	}
	return c, nil
}

// overlay lays over on base: mappings are merged key by key, anything else
// in over replaces base. Neither tree is changed.
func overlay(base, over *value) *value {
	if over.kind != vMap || base == nil || base.kind != vMap {
		return over
	}
	out := &value{kind: vMap, line: base.line, keys: slices.Clone(base.keys)}
	for _, e := range over.keys {
		i := slices.IndexFunc(out.keys, func(b entry) bool { return b.key == e.key })
		if i < 0 {
			out.keys = append(out.keys, e)
			continue
		}
		out.keys[i].val = overlay(out.keys[i].val, e.val)
	}
	return out
}

// value is one node of the config tree, from the YAML file (with lines) or
// from viper's settings map (without).
type value struct {
	kind  valueKind
	line  int
	tag   string // scalars: !!str, !!int, !!float, !!bool, !!timestamp
	text  string // scalars: the literal text
	keys  []entry
	items []*value
	// lenient is set on values laid over the file (environment
	// overrides), whose scalars arrive as strings: "1" for version,
	// "latest,dev" for a list.
	lenient bool
}

type valueKind int

const (
	vNull valueKind = iota
	vScalar
	vMap
	vList
)

type entry struct {
	key  string
	line int
	val  *value
}

func (k valueKind) String() string {
	switch k {
	case vScalar:
		return "a single value"
	case vMap:
		return "a mapping"
	case vList:
		return "a list"
	}
	return "nothing"
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses raw into a value tree, recording the line of every key
// path in lines. Empty input is a null tree.
func parseYAML(file string, raw []byte, lines map[string]int) (*value, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &value{}, nil
		}
		return nil, yamlError(file, raw, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "yaml: a second document (---) is not supported; keep one config per file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, raw, err)
	}
	p := &nodeParser{file: file, lines: lines}
	return p.node(&doc, "", 0)
}

// yamlError turns a yaml.v3 error into a located one-line Error.
func yamlError(file string, raw []byte, err error) error {
	msg := oneLine(err.Error())
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		// yaml.v3 adds one to scanner error lines but reports parser errors
		// with libyaml's 0-based line; put those back on the right line.
		if parserError(m[2]) {
			n++
		}
		// A tab in the indentation is reported at the line of the node
		// being scanned, which is the line before the tab: name the tab's.
		if strings.Contains(m[2], "found a tab character") {
			if t := tabIndentLine(raw, n); t > 0 {
				n = t
			}
		}
		return &Error{File: file, Line: n, Msg: "yaml: " + m[2]}
	}
	return &Error{File: file, Msg: msg}
}

// tabIndentLine is the first line at or after from (1-based) whose
// indentation holds a tab, or 0.
func tabIndentLine(raw []byte, from int) int {
	for i, l := range strings.Split(string(raw), "\n") {
		if i+1 < from {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return 0
}

// parserError reports whether a yaml.v3 message comes from libyaml's parser
// (as opposed to its scanner); the messages are fixed strings in parserc.go.
func parserError(msg string) bool {
	if strings.HasPrefix(msg, "did not find expected") {
		return true
	}
	switch msg {
	case "found undefined tag handle", "found duplicate %YAML directive",
		"found incompatible YAML document", "found duplicate %TAG directive":
		return true
	}
	return false
}

type nodeParser struct {
	file  string
	lines map[string]int
	nodes int // values built so far, aliases expanded
	// aliased: an alias was expanded, the likely cause of a limit reached
	// by a small file; without one the file itself is too big or deep.
	aliased bool
}

// maxNodes bounds the expanded tree: a few nested aliases ("billion
// laughs") would otherwise turn a 300-byte file into millions of values and
// minutes of work. Real configs are a few thousand values at most.
const maxNodes = 100_000

// maxDepth bounds recursion: the config is four levels deep, and an alias
// that refers to its own ancestor would otherwise never end.
const maxDepth = 32

func (p *nodeParser) node(n *yaml.Node, path string, depth int) (*value, error) {
	if depth > maxDepth {
		msg := fmt.Sprintf("yaml: nested more than %d levels deep (a config is four)", maxDepth)
		if p.aliased {
			msg += ": an alias that contains itself?"
		}
		return nil, &Error{File: p.file, Line: n.Line, Key: path, Msg: msg}
	}
	if p.nodes++; p.nodes > maxNodes {
		msg := fmt.Sprintf("yaml: more than %d values (a config has a few thousand at most)", maxNodes)
		if p.aliased {
			msg = fmt.Sprintf("yaml: more than %d values once aliases are expanded", maxNodes)
		}
		return nil, &Error{File: p.file, Line: n.Line, Key: path, Msg: msg}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &value{}, nil
		}
		return p.node(n.Content[0], path, depth+1)
	case yaml.AliasNode:
		p.aliased = true
		v, err := p.node(n.Alias, path, depth+1)
		if err == nil {
			v.line = n.Line
		}
		return v, err
	case yaml.ScalarNode:
		tag := n.ShortTag()
		if tag == "!!null" {
			return &value{line: n.Line}, nil
		}
		return &value{kind: vScalar, line: n.Line, tag: tag, text: n.Value}, nil
	case yaml.SequenceNode:
		v := &value{kind: vList, line: n.Line}
		for i, c := range n.Content {
			ip := index(path, i)
			p.lines[ip] = c.Line
			cv, err := p.node(c, ip, depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, cv)
		}
		return v, nil
	case yaml.MappingNode:
		return p.mapping(n, path, depth)
	}
	return &value{line: n.Line}, nil
}

// keyRE is the shape of every key immutag's config has.
var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

func (p *nodeParser) mapping(n *yaml.Node, path string, depth int) (*value, error) {
	v := &value{kind: vMap, line: n.Line}
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			return nil, &Error{File: p.file, Line: kn.Line, Key: path, Msg: "keys must be plain names"}
		}
		// Every config key is a short snake_case name. Anything else is
		// not a config at all (a symlink to /etc/shadow parses as YAML
		// keys), so the text is never echoed: it may be a secret.
		if !keyRE.MatchString(kn.Value) {
			return nil, &Error{File: p.file, Line: kn.Line, Key: path, Msg: "not an immutag config: a key is not a plain name (text not shown)"}
		}
		kp := join(path, kn.Value)
		if first, dup := seen[kn.Value]; dup {
			return nil, &Error{File: p.file, Line: kn.Line, Key: kp, Msg: fmt.Sprintf("duplicate key (first set at line %d)", first)}
		}
		seen[kn.Value] = kn.Line
		p.lines[kp] = kn.Line
		cv, err := p.node(vn, kp, depth+1)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, entry{key: kn.Value, line: kn.Line, val: cv})
	}
	// Merge keys (<<: *defaults) fill in what the mapping does not set itself,
	// which is what viper's decoder does with the same file.
	for _, m := range merges {
		mv, err := p.node(m, path, depth+1)
		if err != nil {
			return nil, err
		}
		srcs := []*value{mv}
		if mv.kind == vList {
			srcs = mv.items
		}
		for _, s := range srcs {
			if s.kind != vMap {
				return nil, &Error{File: p.file, Line: m.Line, Key: path, Msg: "yaml: a merge key (<<) needs a mapping"}
			}
			for _, e := range s.keys {
				if _, ok := seen[e.key]; ok {
					continue
				}
				seen[e.key] = e.line
				if _, ok := p.lines[join(path, e.key)]; !ok {
					p.lines[join(path, e.key)] = e.line
				}
				v.keys = append(v.keys, e)
			}
		}
	}
	return v, nil
}

// fromAny converts settings (map[string]any trees) to lenient values.
func fromAny(x any) *value {
	v := fromAnyStrict(x)
	v.lenient = true
	return v
}

func fromAnyStrict(x any) *value {
	switch t := x.(type) {
	case nil:
		return &value{}
	case map[string]any:
		v := &value{kind: vMap}
		for _, k := range slices.Sorted(maps.Keys(t)) {
			v.keys = append(v.keys, entry{key: k, val: fromAny(t[k])})
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = e
		}
		return fromAny(m)
	case []any:
		v := &value{kind: vList}
		for _, e := range t {
			v.items = append(v.items, fromAny(e))
		}
		return v
	case []string:
		v := &value{kind: vList}
		for _, e := range t {
			v.items = append(v.items, fromAny(e))
		}
		return v
	case string:
		return &value{kind: vScalar, tag: "!!str", text: t}
	case bool:
		return &value{kind: vScalar, tag: "!!bool", text: strconv.FormatBool(t)}
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return &value{kind: vScalar, tag: "!!int", text: fmt.Sprint(t)}
	case float32:
		return &value{kind: vScalar, tag: "!!float", text: strconv.FormatFloat(float64(t), 'g', -1, 32)}
	case float64:
		return &value{kind: vScalar, tag: "!!float", text: strconv.FormatFloat(t, 'g', -1, 64)}
	case time.Time:
		return &value{kind: vScalar, tag: "!!timestamp", text: t.Format(time.RFC3339Nano)}
	}
	return &value{kind: vScalar, tag: "!!str", text: fmt.Sprint(x)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// decoder converts a value tree to a Config, failing on the first mistake.
type decoder struct {
	file  string
	lines map[string]int
	kinds Kinds
}

// lineOf is the line of path in the file, or of its nearest ancestor that
// has one (a missing key points at the entry that lacks it).
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if n, ok := d.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// errAt builds a located error. The key's own line wins over the value's
// (for a block value they differ: "providers:" vs its first entry), then
// the nearest ancestor's.
func (d *decoder) errAt(path string, line int, format string, args ...any) error {
	if n, ok := d.lines[path]; ok && path != "" {
		line = n
	} else if line == 0 {
		line = d.lineOf(path)
	}
	return &Error{File: d.file, Line: line, Key: path, Msg: fmt.Sprintf(format, clipArgs(args)...)}
}

func (d *decoder) typeErr(path string, v *value, want string) error {
	return d.errAt(path, v.line, "want %s, got %s", want, v.kind)
}

// walk checks a mapping's keys against known, in file order, and calls fn
// for each. kind is the provider kind for inline-secret hints ("" outside a
// provider); for names the block relative to a provider ("credentials") so
// the kind applicability of its keys can be checked.
func (d *decoder) walk(v *value, path string, known []string, kind providers.Kind, rel string, fn func(key, kpath string, v *value) error) error {
	if v.kind == vNull {
		return nil
	}
	if v.kind != vMap {
		return d.typeErr(path, v, "a mapping")
	}
	for _, e := range v.keys {
		kp := join(path, e.key)
		line := e.line
		if !slices.Contains(known, e.key) {
			if block := parentBlock(e.key, known); block != "" {
				return d.errAt(kp, line, "unknown key here (did you mean %s.%s?)", block, e.key)
			}
			if s := suggest(e.key, known); s != "" {
				return d.errAt(kp, line, "unknown key (did you mean %s?)", s)
			}
			return d.errAt(kp, line, "unknown key (known here: %s)", strings.Join(known, ", "))
		}
		if s := d.kinds.Lookup(kind); s != nil && !s.applies(join(rel, e.key)) {
			return d.errAt(kp, line, "not used by kind %s", kind)
		}
		if err := fn(e.key, kp, e.val); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) config(root *value) (*Config, error) {
	c := &Config{}
	if root.kind != vNull && root.kind != vMap {
		return nil, d.errAt("", root.line, "want a mapping with version, providers and policy at the top level, got %s", root.kind)
	}
	// Inline secrets are looked for first and everywhere, so the refusal
	// wins over whatever else is wrong around them (a credentials block
	// on a kind that ignores it, an unknown parent key).
	if err := d.secrets(root, "", ""); err != nil {
		return nil, err
	}
	err := d.walk(root, "", topKeys, "", "", func(key, kp string, v *value) (err error) {
		switch key {
		case "version":
			c.Version, err = d.integer(kp, v)
		case "providers":
			c.Providers, err = d.providers(kp, v)
		case "policy":
			c.Policy, err = d.policy(kp, v)
		case "ledger":
			c.Ledger, err = d.ledger(kp, v)
		}
		return err
	})
	return c, err
}

// secrets refuses any key that looks like it holds a secret inline. No
// contract key looks like one (secrets go in *_env keys naming a variable),
// so the check needs no schema. kind is the enclosing provider's, for the hint.
func (d *decoder) secrets(v *value, path string, kind providers.Kind) error {
	switch v.kind {
	case vMap:
		for _, e := range v.keys {
			kp := join(path, e.key)
			if secretLike(e.key) {
				return d.errAt(kp, e.line, "inline secrets are refused; %s", secretHint(e.key, d.kinds.Lookup(kind)))
			}
			if err := d.secrets(e.val, kp, kind); err != nil {
				return err
			}
		}
	case vList:
		for i, it := range v.items {
			k := kind
			if path == "providers" {
				k = providerKind(it)
			}
			if err := d.secrets(it, index(path, i), k); err != nil {
				return err
			}
		}
	}
	return nil
}

// providerKind is the kind an entry declares, wherever the key sits in it.
func providerKind(v *value) providers.Kind {
	for _, e := range v.keys {
		if e.key == "kind" && e.val.kind == vScalar {
			return providers.Kind(e.val.text)
		}
	}
	return ""
}

func (d *decoder) providers(path string, v *value) ([]Provider, error) {
	if v.kind == vNull {
		return nil, nil
	}
	if v.kind != vList {
		return nil, d.typeErr(path, v, "a list of provider entries")
	}
	out := make([]Provider, 0, len(v.items))
	for i, it := range v.items {
		p, err := d.provider(index(path, i), it)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (d *decoder) provider(path string, v *value) (Provider, error) {
	var p Provider
	if v.kind != vMap {
		return p, d.typeErr(path, v, "a mapping (name, kind, ...)")
	}
	// The kind decides which keys apply, wherever it sits in the entry.
	kind := providerKind(v)
	spec := d.kinds.Lookup(kind)
	if spec != nil && spec.Settings != nil {
		p.Settings = spec.Settings()
	}
	err := d.walk(v, path, d.kinds.providerKeys(), kind, "", func(key, kp string, v *value) (err error) {
		switch key {
		case "name":
			p.Name, err = d.str(kp, v)
		case "kind":
			var k string
			k, err = d.str(kp, v)
			p.Kind = providers.Kind(k)
			if err == nil && p.Kind != "" && d.kinds.Lookup(p.Kind) == nil {
				err = d.errAt(kp, v.line, "unknown kind %q (want one of %s)", p.Kind, d.kinds.list())
			}
		case "endpoint":
			p.Endpoint, err = d.str(kp, v)
		case "credentials":
			err = d.walk(v, kp, credKeys, kind, "credentials", func(key, kp string, v *value) (err error) {
				switch key {
				case "username_env":
					p.Credentials.UsernameEnv, err = d.str(kp, v)
				case "password_env":
					p.Credentials.PasswordEnv, err = d.str(kp, v)
				case "token_env":
					p.Credentials.TokenEnv, err = d.str(kp, v)
				}
				return err
			})
		case "tls":
			err = d.walk(v, kp, tlsKeys, kind, "tls", func(key, kp string, v *value) (err error) {
				switch key {
				case "ca_file":
					p.TLS.CAFile, err = d.str(kp, v)
				case "insecure_skip_verify":
					p.TLS.InsecureSkipVerify, err = d.boolean(kp, v)
				}
				return err
			})
		case "rate":
			err = d.walk(v, kp, rateKeys, kind, "rate", func(key, kp string, v *value) (err error) {
				switch key {
				case "requests_per_second":
					p.Rate.RequestsPerSecond, err = d.number(kp, v)
				case "max_concurrent":
					p.Rate.MaxConcurrent, err = d.integer(kp, v)
				}
				return err
			})
		default:
			// A kind's own key. Without a usable kind there is nothing to
			// decode it into; the kind key's own error follows.
			if p.Settings != nil {
				if f, ok := settingsField(p.Settings, key); ok {
					err = d.field(f, kp, v)
				}
			}
		}
		return err
	})
	return p, err
}

// field decodes v into one field of a kind's settings struct.
func (d *decoder) field(f reflect.Value, path string, v *value) error {
	switch f.Interface().(type) {
	case string:
		s, err := d.str(path, v)
		f.SetString(s)
		return err
	case []string:
		l, err := d.list(path, v)
		f.Set(reflect.ValueOf(l))
		return err
	case bool:
		b, err := d.boolean(path, v)
		f.SetBool(b)
		return err
	case int:
		n, err := d.integer(path, v)
		f.SetInt(int64(n))
		return err
	case float64:
		n, err := d.number(path, v)
		f.SetFloat(n)
		return err
	}
	return d.errAt(path, v.line, "internal error: settings field of type %s cannot be decoded", f.Type())
}

func (d *decoder) policy(path string, v *value) (Policy, error) {
	var p Policy
	err := d.walk(v, path, policyKeys, "", "", func(key, kp string, v *value) (err error) {
		switch key {
		case "mutable_tags_allowed":
			p.MutableTagsAllowed, err = d.list(kp, v)
		case "exemptions":
			if v.kind == vNull {
				return nil
			}
			if v.kind != vList {
				return d.typeErr(kp, v, "a list of exemptions")
			}
			for i, it := range v.items {
				e, err := d.exemption(index(kp, i), it)
				if err != nil {
					return err
				}
				p.Exemptions = append(p.Exemptions, e)
			}
		}
		return err
	})
	return p, err
}

func (d *decoder) exemption(path string, v *value) (Exemption, error) {
	var e Exemption
	if v.kind != vMap {
		return e, d.typeErr(path, v, "a mapping (provider, scope, repository, reason, expires)")
	}
	err := d.walk(v, path, exemptionKeys, "", "", func(key, kp string, v *value) (err error) {
		switch key {
		case "provider":
			e.Provider, err = d.str(kp, v)
		case "scope":
			e.Scope, err = d.str(kp, v)
		case "repository":
			e.Repository, err = d.str(kp, v)
		case "reason":
			e.Reason, err = d.str(kp, v)
		case "expires":
			e.Expires, err = d.date(kp, v)
		}
		return err
	})
	return e, err
}

// str accepts any scalar as text: YAML reads "name: 2024" as an integer,
// but the user meant the string.
func (d *decoder) str(path string, v *value) (string, error) {
	switch v.kind {
	case vNull:
		return "", nil
	case vScalar:
		return v.text, nil
	}
	return "", d.typeErr(path, v, "a string")
}

func (d *decoder) list(path string, v *value) ([]string, error) {
	switch v.kind {
	case vNull:
		return nil, nil
	case vList:
		out := make([]string, 0, len(v.items))
		for i, it := range v.items {
			s, err := d.str(index(path, i), it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case vScalar:
		// An environment override of a list arrives as one string.
		if v.lenient {
			return strings.FieldsFunc(v.text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }), nil
		}
	}
	return nil, d.typeErr(path, v, "a list of strings")
}

func (d *decoder) boolean(path string, v *value) (bool, error) {
	if v.kind == vNull {
		return false, nil
	}
	if v.kind == vScalar && (v.tag == "!!bool" || v.lenient) {
		if b, err := strconv.ParseBool(v.text); err == nil {
			return b, nil
		}
	}
	return false, d.errAt(path, v.line, "want true or false")
}

func (d *decoder) number(path string, v *value) (float64, error) {
	if v.kind == vNull {
		return 0, nil
	}
	if v.kind == vScalar && (v.tag == "!!int" || v.tag == "!!float" || v.lenient) {
		if f, err := strconv.ParseFloat(strings.ReplaceAll(v.text, "_", ""), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
		if n, err := strconv.ParseInt(v.text, 0, 64); err == nil {
			return float64(n), nil
		}
	}
	return 0, d.errAt(path, v.line, "want a number")
}

func (d *decoder) integer(path string, v *value) (int, error) {
	if v.kind == vNull {
		return 0, nil
	}
	if v.kind == vScalar && (v.tag == "!!int" || v.lenient) {
		if n, err := strconv.ParseInt(v.text, 0, 0); err == nil {
			return int(n), nil
		}
	}
	// viper hands integers from the file back unchanged, but be lenient with
	// a float that is whole (1.0) when it comes through settings.
	if v.kind == vScalar && v.tag == "!!float" && v.lenient {
		if f, err := strconv.ParseFloat(v.text, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<31 {
			return int(f), nil
		}
	}
	return 0, d.errAt(path, v.line, "want a whole number")
}

// date reads YYYY-MM-DD (the documented form) or RFC 3339.
func (d *decoder) date(path string, v *value) (time.Time, error) {
	if v.kind == vNull {
		// "expires:" left empty must not read as "never expires".
		return time.Time{}, d.errAt(path, v.line, "no value: write the last day as YYYY-MM-DD, or remove the key for an exemption that never expires")
	}
	if v.kind == vScalar {
		s := strings.TrimSpace(v.text)
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			// An instant ends the exemption then: its last whole day is the
			// UTC day that finishes by that instant. Taking the instant's
			// own UTC date kept it up to a day (and a time zone) longer.
			y, m, dd := t.UTC().Date()
			return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1), nil
		}
		return time.Time{}, d.errAt(path, v.line, "want a date as YYYY-MM-DD (or RFC 3339), got %q", s)
	}
	return time.Time{}, d.typeErr(path, v, "a date as YYYY-MM-DD")
}
