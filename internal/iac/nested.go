package iac

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nestedMarkers are in every template that nests another.
var nestedMarkers = [][]byte{[]byte("AWS::CloudFormation::Stack"), []byte("AWS::Serverless::Application")}

// cfnCall is a parent template's nested stack whose template is a file in
// the tree (TemplateURL or a SAM Location given as a path, before
// aws cloudformation package uploads it).
type cfnCall struct {
	parent, id string
	params     map[string]any
}

// env names the call in findings.
func (c cfnCall) env() string { return "nested stack " + c.parent + " Resources." + c.id }

// nestedCalls returns the nested stacks of a template, by the child file
// they name.
func nestedCalls(p string, raw []byte, isJSON bool) map[string][]cfnCall {
	root, err := parseYAMLNode(raw, isJSON)
	if err != nil {
		return nil
	}
	_, res := mapGet(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil
	}
	t, _, ok, err := parseCFN(p, raw, isJSON)
	if err != nil || !ok {
		return nil
	}
	out := map[string][]cfnCall{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, body := res.Content[i].Value, res.Content[i+1]
		_, typ := mapGet(body, "Type")
		if typ == nil {
			continue
		}
		urlKey := ""
		switch typ.Value {
		case "AWS::CloudFormation::Stack":
			urlKey = "TemplateURL"
		case "AWS::Serverless::Application":
			urlKey = "Location"
		default:
			continue
		}
		_, props := mapGet(body, "Properties")
		_, u := mapGet(props, urlKey)
		if u == nil {
			continue
		}
		t.budget, t.bind = cfnBudget, nil
		loc, ok := t.value(u).(string)
		if !ok || loc == "" || strings.Contains(loc, "://") || strings.HasPrefix(loc, "s3:") {
			// Uploaded templates (and a SAM application from the
			// Serverless Application Repository) are not in the tree.
			continue
		}
		child := filepath.Clean(filepath.Join(filepath.Dir(p), filepath.FromSlash(loc)))
		if st, err := os.Stat(child); err != nil || !st.Mode().IsRegular() {
			continue
		}
		c := cfnCall{parent: p, id: id, params: map[string]any{}}
		if _, ps := mapGet(props, "Parameters"); ps != nil && ps.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(ps.Content); j += 2 {
				t.budget = cfnBudget
				c.params[ps.Content[j].Value] = t.value(ps.Content[j+1])
			}
		}
		out[child] = append(out[child], c)
	}
	return out
}

// hasNested reports whether raw may nest a template.
func hasNested(raw []byte) bool {
	for _, m := range nestedMarkers {
		if bytes.Contains(raw, m) {
			return true
		}
	}
	return false
}
