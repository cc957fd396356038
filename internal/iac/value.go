package iac

import (
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Values every parser produces: nil (null or absent), string, bool,
// float64, []any, map[string]any, or unknown (not known before apply).
// Grading reads these, so Terraform, CloudFormation and plans share it.

// unknown is a value the scan cannot know; why says what it depends on.
// alts, when set, lists every value it can take: a conditional whose
// condition is unknown is one of its branches, so a grade every branch
// agrees on is known even though the value is not. A pointer keeps
// unknown comparable.
type unknown struct {
	why  string
	alts *[]any
	// way names the conditions alts follow, in the order of their
	// ways: two unknowns with the same way go the same way together.
	// Empty when the values are not tied to named conditions.
	way string
}

// maxBranches bounds the values a conditional expands to (nested
// conditionals multiply); beyond it the value stays plainly unknown.
const maxBranches = 16

// branches makes the unknown value of a conditional from the values of
// its branches: one value when they are all equal, unknown listing them
// otherwise, plainly unknown when a branch is itself not known.
func branches(why, way string, vals []any) any {
	var flat []any
	for _, v := range vals {
		if u, ok := v.(unknown); ok {
			if u.alts == nil {
				return unknown{why: why}
			}
			flat = append(flat, (*u.alts)...)
			way = ""
			continue
		}
		if hasUnknown(v) {
			return unknown{why: why}
		}
		flat = append(flat, v)
	}
	if len(flat) == 0 || len(flat) > maxBranches {
		return unknown{why: why}
	}
	same := true
	for _, v := range flat[1:] {
		if !reflect.DeepEqual(v, flat[0]) {
			same = false
			break
		}
	}
	if same {
		return flat[0]
	}
	return unknown{why: why, alts: &flat, way: way}
}

// hasUnknown says whether a value holds anything unknown.
func hasUnknown(v any) bool {
	switch x := v.(type) {
	case unknown:
		return true
	case []any:
		for _, e := range x {
			if hasUnknown(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasUnknown(e) {
				return true
			}
		}
	case attrs:
		return hasUnknown(map[string]any(x))
	}
	return false
}

// variants lists the values v can take when the unknowns in it are
// conditionals over their branches. Unknowns that follow the same
// conditions go the same way together; others are combined every way
// (a superset of what can happen, so a grade they all agree on is
// safe). nil when v holds no branching unknown or there are more than
// maxBranches combinations.
func variants(v any) []any {
	size := map[string]int{}
	var dims []string
	ok := true
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case unknown:
			if x.alts == nil {
				return
			}
			id := wayID(x)
			if n, seen := size[id]; seen {
				ok = ok && n == len(*x.alts)
				return
			}
			size[id] = len(*x.alts)
			dims = append(dims, id)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case attrs:
			walk(map[string]any(x))
		}
	}
	walk(v)
	if !ok || len(dims) == 0 {
		return nil
	}
	total := 1
	for _, d := range dims {
		total *= size[d]
		if total > maxBranches {
			return nil
		}
	}
	out := make([]any, 0, total)
	pick := map[string]int{}
	for n := range total {
		for _, d := range dims {
			pick[d] = n % size[d]
			n /= size[d]
		}
		out = append(out, choose(v, pick))
	}
	return out
}

func wayID(u unknown) string {
	if u.way != "" {
		return u.way
	}
	return fmt.Sprintf("%p", u.alts)
}

// choose is v with each branching unknown replaced by its picked value.
func choose(v any, pick map[string]int) any {
	switch x := v.(type) {
	case unknown:
		if x.alts == nil {
			return x
		}
		return (*x.alts)[pick[wayID(x)]]
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = choose(e, pick)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = choose(e, pick)
		}
		return out
	case attrs:
		return attrs(choose(map[string]any(x), pick).(map[string]any))
	}
	return v
}

func (u unknown) String() string { return u.why }

// fromCty converts a cty value; anything not wholly known becomes unknown
// at the level where it stops being known.
func fromCty(v cty.Value, why string) any {
	if !v.IsKnown() {
		return unknown{why: why}
	}
	if v.IsNull() {
		return nil
	}
	v, _ = v.Unmark()
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f
	case t.IsListType(), t.IsSetType(), t.IsTupleType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, fromCty(e, why))
		}
		return out
	case t.IsMapType(), t.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = fromCty(e, why)
		}
		return out
	}
	return unknown{why: why}
}

// toCty converts a parsed value back (for module inputs and plan values).
func toCty(v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case unknown:
		return cty.DynamicVal
	case string:
		return cty.StringVal(x)
	case bool:
		return cty.BoolVal(x)
	case float64:
		return cty.NumberVal(new(big.Float).SetFloat64(x))
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		vs := make([]cty.Value, len(x))
		for i, e := range x {
			vs[i] = toCty(e)
		}
		return cty.TupleVal(vs)
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		m := make(map[string]cty.Value, len(x))
		for k, e := range x {
			m[k] = toCty(e)
		}
		return cty.ObjectVal(m)
	}
	return cty.DynamicVal
}

// attrs is one resource's evaluated arguments.
type attrs map[string]any

// str reads a string argument. present is false when absent or null;
// why is set when the value is not known. Numbers and bools are
// accepted as their text, as Terraform converts them.
func (a attrs) str(key string) (s string, present bool, why string) {
	return asString(a[key])
}

func asString(v any) (string, bool, string) {
	switch x := v.(type) {
	case nil:
		return "", false, ""
	case unknown:
		return "", true, x.why
	case string:
		return x, true, ""
	case bool:
		return strconv.FormatBool(x), true, ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true, ""
	}
	switch v.(type) {
	case []any:
		return "", true, "the value is a list, not a string"
	case map[string]any:
		return "", true, "the value is a mapping, not a string"
	}
	return "", true, fmt.Sprintf("%v is not a string", v)
}

// boolean reads a bool argument; Terraform also accepts "true"/"false".
func (a attrs) boolean(key string) (b bool, present bool, why string) {
	return asBool(a[key])
}

func asBool(v any) (bool, bool, string) {
	switch x := v.(type) {
	case nil:
		return false, false, ""
	case unknown:
		return false, true, x.why
	case bool:
		return x, true, ""
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true, ""
		case "false":
			return false, true, ""
		}
	}
	return false, true, fmt.Sprintf("%v is not a bool", v)
}

// objects reads a nested block (a list of objects, or one object when
// written as an attribute). why is set when the list is not known.
func (a attrs) objects(key string) ([]attrs, string) {
	return asObjects(a[key])
}

func asObjects(v any) ([]attrs, string) {
	switch x := v.(type) {
	case nil:
		return nil, ""
	case unknown:
		return nil, x.why
	case map[string]any:
		return []attrs{x}, ""
	case []any:
		var out []attrs
		for _, e := range x {
			switch y := e.(type) {
			case map[string]any:
				out = append(out, y)
			case unknown:
				return nil, y.why
			case nil:
			default:
				return nil, fmt.Sprintf("%v is not a block", e)
			}
		}
		return out, ""
	}
	return nil, fmt.Sprintf("%v is not a block", v)
}

// strings reads a list of strings.
func (a attrs) strings(key string) (ss []string, present bool, why string) {
	return asStrings(a[key])
}

func asStrings(v any) ([]string, bool, string) {
	switch x := v.(type) {
	case nil:
		return nil, false, ""
	case unknown:
		return nil, true, x.why
	case []any:
		out := []string{}
		for _, e := range x {
			s, ok, why := asString(e)
			if why != "" {
				return nil, true, why
			}
			if ok {
				out = append(out, s)
			}
		}
		return out, true, ""
	case string:
		return []string{x}, true, ""
	}
	return nil, true, fmt.Sprintf("%v is not a list of strings", v)
}

func itoa(i int) string { return strconv.Itoa(i) }
