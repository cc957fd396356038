package iac

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// cfnMarker is in every template that declares a resource the scan
// knows (repositories, creation templates, pull-through cache rules), so
// other YAML and JSON files are not parsed at all.
var cfnMarker = []byte("AWS::ECR::")

// cfnTemplate is a parsed CloudFormation template.
type cfnTemplate struct {
	path       string
	root       *yaml.Node
	params     map[string]*yaml.Node // parameter -> its mapping
	mappings   *yaml.Node
	conditions map[string]*yaml.Node
	resources  map[string]bool
	condBusy   map[string]bool
	// budget bounds the nodes one resource's evaluation visits: YAML
	// aliases can make a small file expand exponentially.
	budget int
	// bind are the Fn::ForEach identifiers of the resource evaluated.
	bind map[string]any
	// given are the parameter values a parent stack passes (nested stack).
	given map[string]any
	// serverless is a Serverless Framework file: ${...} variables in its
	// strings are resolved before CloudFormation sees them.
	serverless bool
	slsDepth   int
}

const cfnBudget = 100000

// parseYAMLNode parses YAML or JSON into a node tree. JSON indented
// with tabs is valid JSON but not valid YAML, so tabs are swapped for
// spaces (one for one: lines and columns stay where they were).
func parseYAMLNode(raw []byte, isJSON bool) (*yaml.Node, error) {
	var doc yaml.Node
	err := yaml.Unmarshal(raw, &doc)
	if err != nil && isJSON && bytes.Contains(raw, []byte("\t")) {
		var d2 yaml.Node
		if yaml.Unmarshal(bytes.ReplaceAll(raw, []byte("\t"), []byte(" ")), &d2) == nil {
			doc, err = d2, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func mapGet(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// cfnResource is one declared resource of a known type.
type cfnResource struct {
	id       string
	typ      string
	key      *yaml.Node
	props    *yaml.Node
	endLine  int
	propsKey *yaml.Node
	typeKey  *yaml.Node
	body     *yaml.Node
	// ref names the declaration in the file: the logical id, or for a
	// resource Fn::ForEach generates, the key template it comes from.
	ref string
	// bind are the Fn::ForEach identifiers and their values.
	bind map[string]any
	// propsName is the key properties are under when the edit adds
	// them: Properties, or properties in a Pulumi program.
	propsName string
}

// parseCFN returns the known resources of a template; ok is false when
// the file is not a template.
func parseCFN(path string, raw []byte, isJSON bool) (*cfnTemplate, []cfnResource, bool, error) {
	return parseCFNGiven(path, raw, isJSON, nil)
}

// parseCFNGiven is parseCFN for a nested stack's template, with the
// parameter values its parent passes (Fn::ForEach collections read them).
func parseCFNGiven(path string, raw []byte, isJSON bool, given map[string]any) (*cfnTemplate, []cfnResource, bool, error) {
	root, err := parseYAMLNode(raw, isJSON)
	if err != nil {
		return nil, nil, false, err
	}
	_, res := mapGet(root, "Resources")
	serverless := false
	if res == nil {
		// Serverless Framework: CloudFormation under resources.Resources.
		_, sls := mapGet(root, "resources")
		_, res = mapGet(sls, "Resources")
		serverless = res != nil
	}
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, nil, false, nil
	}
	t := &cfnTemplate{path: path, root: root, params: map[string]*yaml.Node{}, conditions: map[string]*yaml.Node{},
		resources: map[string]bool{}, condBusy: map[string]bool{}, given: given, serverless: serverless}
	if _, ps := mapGet(root, "Parameters"); ps != nil && ps.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			t.params[ps.Content[i].Value] = ps.Content[i+1]
		}
	}
	_, t.mappings = mapGet(root, "Mappings")
	if _, cs := mapGet(root, "Conditions"); cs != nil && cs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(cs.Content); i += 2 {
			t.conditions[cs.Content[i].Value] = cs.Content[i+1]
		}
	}
	var out []cfnResource
	t.declare(res, nil, 0, &out)
	return t, out, true, nil
}

// declare collects the known resources of a Resources mapping, or of
// the output mapping of an Fn::ForEach (AWS::LanguageExtensions), whose
// identifiers bind holds.
func (t *cfnTemplate) declare(res *yaml.Node, bind map[string]any, depth int, out *[]cfnResource) {
	for i := 0; i+1 < len(res.Content); i += 2 {
		k, body := res.Content[i], res.Content[i+1]
		if strings.HasPrefix(k.Value, "Fn::ForEach::") {
			if depth < 5 {
				t.forEach(body, bind, depth, out)
			}
			continue
		}
		id := expandKey(k.Value, bind)
		t.resources[id] = true
		tk, typ := mapGet(body, "Type")
		if typ == nil || typ.Kind != yaml.ScalarNode {
			continue
		}
		if typ.Value != cfnECR && typ.Value != cfnECRTemplate && typ.Value != cfnECRPTC {
			continue
		}
		pk, props := mapGet(body, "Properties")
		*out = append(*out, cfnResource{id: id, ref: k.Value, bind: bind, typ: typ.Value, key: k, props: props, propsKey: pk,
			typeKey: tk, body: body, endLine: lastLine(body)})
	}
}

// forEach expands Fn::ForEach::Name: [Identifier, Collection, {OutputKey: Resource}].
// A collection the scan cannot know yields one resource whose identifier
// is unknown: it is still graded, never skipped.
func (t *cfnTemplate) forEach(n *yaml.Node, bind map[string]any, depth int, out *[]cfnResource) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 3 || n.Content[0].Kind != yaml.ScalarNode || n.Content[2].Kind != yaml.MappingNode {
		return
	}
	ident := n.Content[0].Value
	t.bind, t.budget = bind, cfnBudget
	coll := t.value(n.Content[1])
	var items []any
	switch x := coll.(type) {
	case []any:
		items = x
	case string:
		// A CommaDelimitedList parameter's default.
		for _, p := range strings.Split(x, ",") {
			items = append(items, strings.TrimSpace(p))
		}
	case unknown:
		items = []any{x}
	default:
		items = []any{unknown{why: "the Fn::ForEach collection is not a list"}}
	}
	for _, it := range items {
		b := make(map[string]any, len(bind)+1)
		for k, v := range bind {
			b[k] = v
		}
		if s, ok := it.(string); ok {
			b[ident] = s
		} else if u, ok := it.(unknown); ok {
			b[ident] = u
		} else {
			b[ident] = unknown{why: "an Fn::ForEach item is not a string"}
		}
		t.declare(n.Content[2], b, depth+1, out)
	}
}

// expandKey replaces ${x} and &{x} (x with its non-alphanumerics
// dropped) in an Fn::ForEach output key; unknown values stay as written.
func expandKey(k string, bind map[string]any) string {
	for name, v := range bind {
		s, ok := v.(string)
		if !ok {
			continue
		}
		k = strings.ReplaceAll(k, "${"+name+"}", s)
		k = strings.ReplaceAll(k, "&{"+name+"}", strings.Map(func(r rune) rune {
			if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return r
			}
			return -1
		}, s))
	}
	return k
}

func lastLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	l := n.Line
	for _, c := range n.Content {
		if x := lastLine(c); x > l {
			l = x
		}
	}
	return l
}

// intrinsic returns the function name and argument node when n is an
// intrinsic function in either form (!Ref x, or {"Ref": "x"}).
func intrinsic(n *yaml.Node) (string, *yaml.Node) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		arg := *n
		arg.Tag = ""
		switch arg.Kind {
		case yaml.ScalarNode:
			arg.Tag = "!!str"
		case yaml.SequenceNode:
			arg.Tag = "!!seq"
		case yaml.MappingNode:
			arg.Tag = "!!map"
		}
		return name, &arg
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, n.Content[1]
		}
	}
	return "", nil
}

// value resolves a node; intrinsics resolve when their inputs are
// literal (parameter defaults, mappings, conditions on those).
func (t *cfnTemplate) value(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	t.budget--
	if t.budget < 0 {
		return unknown{why: "the template is too large to evaluate (aliases expand past the limit)"}
	}
	if n.Kind == yaml.AliasNode {
		return t.value(n.Alias)
	}
	if fn, arg := intrinsic(n); fn != "" {
		return t.call(fn, arg)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			b, err := strconv.ParseBool(strings.ToLower(n.Value))
			if err == nil {
				return b
			}
		case "!!int", "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return f
			}
		}
		if t.serverless && strings.Contains(n.Value, "${") {
			return t.slsString(n.Value, t.slsDepth)
		}
		return n.Value
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			out = append(out, t.value(c))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = t.value(n.Content[i+1])
		}
		return out
	}
	return unknown{why: "unsupported YAML node"}
}

var pseudoParams = map[string]bool{"AWS::AccountId": true, "AWS::Region": true, "AWS::StackName": true, "AWS::StackId": true,
	"AWS::Partition": true, "AWS::URLSuffix": true, "AWS::NotificationARNs": true}

func (t *cfnTemplate) ref(name string) any {
	if name == "AWS::NoValue" {
		return nil
	}
	if v, ok := t.bind[name]; ok {
		return v
	}
	if pseudoParams[name] {
		return unknown{why: name + " is only known when the stack is deployed"}
	}
	if p, ok := t.params[name]; ok {
		if v, ok := t.given[name]; ok {
			if s, ok := v.(string); ok {
				if _, tn := mapGet(p, "Type"); tn != nil && (tn.Value == "CommaDelimitedList" || strings.HasPrefix(tn.Value, "List<")) {
					// A parent passes a list parameter as one string.
					var out []any
					for _, e := range strings.Split(s, ",") {
						out = append(out, strings.TrimSpace(e))
					}
					return out
				}
			}
			return v
		}
		_, def := mapGet(p, "Default")
		if def == nil {
			return unknown{why: fmt.Sprintf("parameter %q has no default", name)}
		}
		v := t.value(def)
		if s, ok := v.(string); ok {
			if _, tn := mapGet(p, "Type"); tn != nil && strings.HasPrefix(tn.Value, "AWS::SSM::Parameter::Value") {
				return unknown{why: fmt.Sprintf("parameter %q is read from SSM parameter %s at deploy time", name, s)}
			}
		}
		return v
	}
	if t.resources[name] {
		return unknown{why: fmt.Sprintf("the physical id of %s is only known when the stack is deployed", name)}
	}
	return unknown{why: fmt.Sprintf("%q is not a parameter or resource of the template", name)}
}

func (t *cfnTemplate) call(fn string, arg *yaml.Node) any {
	args := func() []any {
		v, _ := t.value(arg).([]any)
		return v
	}
	switch fn {
	case "Ref":
		return t.ref(arg.Value)
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch arg.Kind {
		case yaml.ScalarNode:
			tmpl = arg.Value
		case yaml.SequenceNode:
			if len(arg.Content) < 1 {
				return unknown{why: "Fn::Sub without arguments"}
			}
			s, ok := t.value(arg.Content[0]).(string)
			if !ok {
				return unknown{why: "Fn::Sub template is not a string"}
			}
			tmpl = s
			if len(arg.Content) > 1 {
				if m, ok := t.value(arg.Content[1]).(map[string]any); ok {
					vars = m
				}
			}
		default:
			return unknown{why: "Fn::Sub with unexpected arguments"}
		}
		return t.sub(tmpl, vars)
	case "Fn::Join":
		a := args()
		if len(a) != 2 {
			return unknown{why: "Fn::Join needs a delimiter and a list"}
		}
		d, ok := a[0].(string)
		if !ok {
			return unknown{why: "Fn::Join delimiter is not a string"}
		}
		ss, _, why := asStrings(a[1])
		if why != "" {
			return unknown{why: why}
		}
		return strings.Join(ss, d)
	case "Fn::Select":
		a := args()
		if len(a) != 2 {
			return unknown{why: "Fn::Select needs an index and a list"}
		}
		is, _, why := asString(a[0])
		list, ok := a[1].([]any)
		if why != "" || !ok {
			return unknown{why: "Fn::Select over a value only known when deployed"}
		}
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 || i >= len(list) {
			return unknown{why: "Fn::Select index out of range"}
		}
		return list[i]
	case "Fn::Split":
		a := args()
		if len(a) != 2 {
			return unknown{why: "Fn::Split needs a delimiter and a string"}
		}
		d, ok1 := a[0].(string)
		s, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return unknown{why: "Fn::Split over a value only known when deployed"}
		}
		var out []any
		for _, p := range strings.Split(s, d) {
			out = append(out, p)
		}
		return out
	case "Fn::FindInMap":
		a := args()
		if len(a) < 3 {
			return unknown{why: "Fn::FindInMap needs a map and two keys"}
		}
		var keys [3]string
		for i := range keys {
			s, ok := a[i].(string)
			if !ok {
				// Whatever the default, the key may name an entry.
				return unknown{why: "Fn::FindInMap key is only known when deployed"}
			}
			keys[i] = s
		}
		_, m := mapGet(t.mappings, keys[0])
		_, m = mapGet(m, keys[1])
		_, m = mapGet(m, keys[2])
		if m == nil {
			// AWS::LanguageExtensions: [map, k1, k2, {DefaultValue: x}].
			if len(a) > 3 {
				if o, ok := a[3].(map[string]any); ok {
					if d, ok := o["DefaultValue"]; ok {
						return d
					}
				}
			}
			return unknown{why: fmt.Sprintf("Fn::FindInMap: %s/%s/%s is not in Mappings", keys[0], keys[1], keys[2])}
		}
		return t.value(m)
	case "Fn::If":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
			return unknown{why: "Fn::If needs a condition and two values"}
		}
		c, why := t.condition(arg.Content[0].Value)
		if why != "" {
			// A condition on a parameter without a default: the value
			// is one of the two, graded when both grade alike.
			return branches(why, "cfn condition "+arg.Content[0].Value, []any{t.value(arg.Content[1]), t.value(arg.Content[2])})
		}
		if c {
			return t.value(arg.Content[1])
		}
		return t.value(arg.Content[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		b, why := t.condExpr(fn, arg)
		if why != "" {
			return unknown{why: why}
		}
		return b
	}
	return unknown{why: fn + " is only evaluated when the stack is deployed"}
}

func (t *cfnTemplate) sub(tmpl string, vars map[string]any) any {
	if t.serverless && strings.Contains(tmpl, "${") {
		// Serverless substitutes its variables before CloudFormation
		// reads the Fn::Sub.
		v, ok := t.slsString(tmpl, 0).(string)
		if !ok {
			return t.slsString(tmpl, 0)
		}
		tmpl = v
	}
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		rest := tmpl[i+2:]
		j := strings.Index(rest, "}")
		if j < 0 {
			b.WriteString(tmpl[i:])
			return b.String()
		}
		name := rest[:j]
		tmpl = rest[j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		var v any
		if x, ok := vars[name]; ok {
			v = x
		} else if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
			return unknown{why: "${" + name + "} is only known when the stack is deployed"}
		} else {
			v = t.ref(name)
		}
		s, _, why := asString(v)
		if why != "" {
			return unknown{why: why}
		}
		b.WriteString(s)
	}
}

func (t *cfnTemplate) condition(name string) (bool, string) {
	n, ok := t.conditions[name]
	if !ok {
		return false, fmt.Sprintf("condition %q is not defined", name)
	}
	if t.condBusy[name] {
		return false, fmt.Sprintf("condition %q refers to itself", name)
	}
	t.condBusy[name] = true
	defer delete(t.condBusy, name)
	fn, arg := intrinsic(n)
	if fn == "" {
		return false, fmt.Sprintf("condition %q is not a condition function", name)
	}
	return t.condExpr(fn, arg)
}

func (t *cfnTemplate) condExpr(fn string, arg *yaml.Node) (bool, string) {
	sub := func(n *yaml.Node) (bool, string) {
		if f, a := intrinsic(n); f != "" {
			return t.condExpr(f, a)
		}
		return false, "a condition is not a condition function"
	}
	switch fn {
	case "Condition":
		return t.condition(arg.Value)
	case "Fn::Equals":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
			return false, "Fn::Equals needs two values"
		}
		a, _, w1 := asString(t.value(arg.Content[0]))
		b, _, w2 := asString(t.value(arg.Content[1]))
		if w1 != "" {
			return false, w1
		}
		if w2 != "" {
			return false, w2
		}
		return a == b, ""
	case "Fn::Not":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 1 {
			return false, "Fn::Not needs one condition"
		}
		b, why := sub(arg.Content[0])
		return !b, why
	case "Fn::And", "Fn::Or":
		if arg.Kind != yaml.SequenceNode {
			return false, fn + " needs a list"
		}
		acc := fn == "Fn::And"
		for _, c := range arg.Content {
			b, why := sub(c)
			if why != "" {
				return false, why
			}
			if fn == "Fn::And" {
				acc = acc && b
			} else {
				acc = acc || b
			}
		}
		return acc, ""
	}
	return false, fn + " is not a condition function"
}

// cfnAttrs resolves a resource's properties, each with its own budget.
func (t *cfnTemplate) attrs(r cfnResource) attrs {
	t.bind = r.bind
	out := attrs{}
	if r.props == nil {
		return out
	}
	if r.props.Kind == yaml.MappingNode {
		if fn, _ := intrinsic(r.props); fn == "" {
			for i := 0; i+1 < len(r.props.Content); i += 2 {
				t.budget = cfnBudget
				out[r.props.Content[i].Value] = t.value(r.props.Content[i+1])
			}
			return out
		}
	}
	t.budget = cfnBudget
	switch x := t.value(r.props).(type) {
	case map[string]any:
		for k, e := range x {
			out[k] = e
		}
	case unknown:
		for _, k := range []string{"ImageTagMutability", "ImageTagMutabilityExclusionFilters", "RepositoryName", "Prefix"} {
			out[k] = x
		}
	}
	return out
}

// cdkPath is the construct path the AWS CDK records on a resource it
// synthesized (Metadata aws:cdk:path), without its /Resource leaf.
func cdkPath(body *yaml.Node) string {
	_, md := mapGet(body, "Metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return ""
	}
	_, p := mapGet(md, "aws:cdk:path")
	if p == nil || p.Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSuffix(p.Value, "/Resource")
}
