package iac

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Values every parser produces: nil (null or absent), string, bool,
// float64, []any, map[string]any, or unknown (not known before apply).
// Grading reads these, so Terraform, CloudFormation and plans share it.

// unknown is a value the scan cannot know; why says what it depends on.
type unknown struct{ why string }

func (u unknown) String() string { return u.why }

// fromCty converts a cty value; anything not wholly known becomes unknown
// at the level where it stops being known.
func fromCty(v cty.Value, why string) any {
	if !v.IsKnown() {
		return unknown{why}
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
	return unknown{why}
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
