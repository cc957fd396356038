package iac

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"go.yaml.in/yaml/v3"
)

// Terraform functions go-cty's stdlib lacks that configurations use to
// compute names, for_each collections and settings. Each is a plain
// reading of Terraform's documented behaviour; anything they cannot
// decide (an unknown argument) stays unknown, so grading fails closed.

// maxReadFile bounds what file() and friends read.
const maxReadFile = 1 << 20

var strPairToBool = func(f func(a, b string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "other", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// replaceFunc is Terraform's replace: a substring wrapped in slashes is
// a regular expression (go-cty's replace is literal only).
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}, {Name: "replace", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		sub := args[1].AsString()
		if len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/' {
			return stdlib.RegexReplace(args[0], cty.StringVal(sub[1:len(sub)-1]), args[2])
		}
		return stdlib.Replace(args[0], args[1], args[2])
	},
})

// lookupFunc is Terraform's lookup, whose default is optional (a
// missing key without one is an error); go-cty's requires it.
var lookupFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "inputMap", Type: cty.DynamicPseudoType}, {Name: "key", Type: cty.String}},
	VarParam: &function.Parameter{Name: "default", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true},
	Type: func(args []cty.Value) (cty.Type, error) {
		if len(args) > 3 {
			return cty.NilType, errors.New("lookup takes at most three arguments")
		}
		if len(args) == 3 {
			return stdlib.LookupFunc.ReturnType([]cty.Type{args[0].Type(), args[1].Type(), args[2].Type()})
		}
		return cty.DynamicPseudoType, nil
	},
	Impl: func(args []cty.Value, rt cty.Type) (cty.Value, error) {
		if len(args) == 3 {
			return stdlib.LookupFunc.Call(args)
		}
		m, key := args[0], args[1].AsString()
		if !m.IsKnown() {
			return cty.DynamicVal, nil
		}
		if m.IsNull() || !(m.Type().IsMapType() || m.Type().IsObjectType()) {
			return cty.NilVal, errors.New("the first argument must be a map")
		}
		if m.Type().IsObjectType() {
			if !m.Type().HasAttribute(key) {
				return cty.NilVal, fmt.Errorf("the given key %q does not exist in the map", key)
			}
			return m.GetAttr(key), nil
		}
		has := m.HasIndex(cty.StringVal(key))
		if !has.IsKnown() {
			return cty.DynamicVal, nil
		}
		if !has.True() {
			return cty.NilVal, fmt.Errorf("the given key %q does not exist in the map", key)
		}
		return m.Index(cty.StringVal(key)), nil
	},
})

var startsWithFunc = strPairToBool(strings.HasPrefix)
var endsWithFunc = strPairToBool(strings.HasSuffix)
var strContainsFunc = strPairToBool(strings.Contains)

// boolsFunc is alltrue/anytrue over a list or set of bools.
func boolsFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if !args[0].IsWhollyKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			acc := all
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if v.IsNull() {
					if all {
						acc = false
					}
					continue
				}
				if all {
					acc = acc && v.True()
				} else {
					acc = acc || v.True()
				}
			}
			return cty.BoolVal(acc), nil
		},
	})
}

var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if !args[0].IsWhollyKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if args[0].LengthInt() == 0 {
			return cty.NilVal, errors.New("cannot sum an empty list")
		}
		acc := new(big.Float)
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			if v.IsNull() {
				return cty.NilVal, errors.New("argument must be list of numbers, not null")
			}
			acc.Add(acc, v.AsBigFloat())
		}
		return cty.NumberVal(acc), nil
	},
})

// oneFunc returns the only element of a list, set or tuple, null for an
// empty one, and fails for more.
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		t := args[0].Type()
		switch {
		case t.IsListType(), t.IsSetType():
			return t.ElementType(), nil
		case t.IsTupleType():
			ets := t.TupleElementTypes()
			switch len(ets) {
			case 0:
				return cty.DynamicPseudoType, nil
			case 1:
				return ets[0], nil
			}
			return cty.NilType, errors.New("must be a list, set, or tuple value with either zero or one elements")
		case t == cty.DynamicPseudoType:
			return cty.DynamicPseudoType, nil
		}
		return cty.NilType, errors.New("must be a list, set, or tuple value with either zero or one elements")
	},
	Impl: func(args []cty.Value, rt cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(rt), nil
		}
		if v.IsNull() {
			return cty.NilVal, errors.New("argument must not be null")
		}
		switch v.LengthInt() {
		case 0:
			return cty.NullVal(rt), nil
		case 1:
			it := v.ElementIterator()
			it.Next()
			_, e := it.Element()
			return e, nil
		}
		return cty.NilVal, errors.New("must be a list, set, or tuple value with either zero or one elements")
	},
})

// identityFunc is sensitive/nonsensitive: the scan keeps no marks.
var identityFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowNull: true, AllowUnknown: true}},
	Type:   func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, _ := args[0].Unmark()
		return v, nil
	},
})

var pathFunc = func(f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

// yamlDecodeFunc decodes YAML as Terraform's yamldecode does for the
// shapes configurations use: mappings are objects, sequences tuples.
var yamlDecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type:   function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(args[0].AsString()), &doc); err != nil {
			return cty.NilVal, err
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		budget := 100000
		return yamlToCty(doc.Content[0], &budget)
	},
})

func yamlToCty(n *yaml.Node, budget *int) (cty.Value, error) {
	*budget--
	if *budget < 0 {
		return cty.NilVal, errors.New("YAML document too large (aliases expand past the limit)")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlToCty(n.Alias, budget)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return cty.NullVal(cty.DynamicPseudoType), nil
		case "!!bool":
			if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
				return cty.BoolVal(b), nil
			}
		case "!!int", "!!float":
			if f, ok := new(big.Float).SetString(n.Value); ok {
				return cty.NumberVal(f), nil
			}
		}
		return cty.StringVal(n.Value), nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return cty.EmptyTupleVal, nil
		}
		vs := make([]cty.Value, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlToCty(c, budget)
			if err != nil {
				return cty.NilVal, err
			}
			vs = append(vs, v)
		}
		return cty.TupleVal(vs), nil
	case yaml.MappingNode:
		m := map[string]cty.Value{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlToCty(n.Content[i+1], budget)
			if err != nil {
				return cty.NilVal, err
			}
			m[n.Content[i].Value] = v
		}
		if len(m) == 0 {
			return cty.EmptyObjectVal, nil
		}
		return cty.ObjectVal(m), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported YAML node")
}

// fileReader reads files as file() does, relative to the root module
// directory, but only inside the tree the scan runs in: configuration
// under review must not pull a file from elsewhere on the machine (a
// credentials file) into names and reasons the report prints.
type fileReader struct {
	root string
}

// resolve returns the real path of p, or an error when it does not
// exist (errNoFile) or lies outside the scan's directory.
func (fr fileReader) resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(fr.root, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", errNoFile
	}
	cwd, err := os.Getwd()
	if err == nil {
		cwd, err = filepath.EvalSymlinks(cwd)
	}
	abs, aerr := filepath.Abs(real)
	if err != nil || aerr != nil {
		return "", errors.New("cannot resolve the scan's directory")
	}
	if rel, err := filepath.Rel(cwd, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the directory the scan runs in: not read", p)
	}
	return abs, nil
}

var errNoFile = errors.New("no such file")

func (fr fileReader) read(p string) ([]byte, error) {
	abs, err := fr.resolve(p)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxReadFile {
		return nil, fmt.Errorf("%s is not a regular file of at most %d bytes", p, maxReadFile)
	}
	return os.ReadFile(abs)
}

func (fr fileReader) functions() map[string]function.Function {
	return map[string]function.Function{
		"file": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				b, err := fr.read(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				return cty.StringVal(string(b)), nil
			},
		}),
		"fileset": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Set(cty.String)),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return fr.fileset(args[0].AsString(), args[1].AsString())
			},
		}),
		"fileexists": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				abs, err := fr.resolve(args[0].AsString())
				if errors.Is(err, errNoFile) {
					return cty.False, nil
				}
				if err != nil {
					return cty.NilVal, err
				}
				st, err := os.Stat(abs)
				return cty.BoolVal(err == nil && st.Mode().IsRegular()), nil
			},
		}),
	}
}

// maxFilesetEntries bounds the directory entries fileset() walks.
const maxFilesetEntries = 10000

// fileset is Terraform's fileset(): the regular files under dir whose
// path relative to dir matches pattern (*, ?, ** across directories,
// {a,b}), inside the scan's tree only.
func (fr fileReader) fileset(dir, pattern string) (cty.Value, error) {
	base, err := fr.resolve(dir)
	if errors.Is(err, errNoFile) {
		return cty.SetValEmpty(cty.String), nil
	}
	if err != nil {
		return cty.NilVal, err
	}
	re, err := globRegexp(pattern)
	if err != nil {
		return cty.NilVal, err
	}
	var out []cty.Value
	n := 0
	werr := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n++; n > maxFilesetEntries {
			return fmt.Errorf("fileset(%q): more than %d entries", dir, maxFilesetEntries)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err == nil && re.MatchString(filepath.ToSlash(rel)) {
			out = append(out, cty.StringVal(filepath.ToSlash(rel)))
		}
		return nil
	})
	if werr != nil {
		return cty.NilVal, werr
	}
	if len(out) == 0 {
		return cty.SetValEmpty(cty.String), nil
	}
	return cty.SetVal(out), nil
}

// globRegexp translates a fileset() pattern.
func globRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	depth := 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '{':
			b.WriteString("(?:")
			depth++
		case c == '}' && depth > 0:
			b.WriteString(")")
			depth--
		case c == ',' && depth > 0:
			b.WriteString("|")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
