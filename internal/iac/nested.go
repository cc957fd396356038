package iac

import (
	"bytes"
	"fmt"
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
	// byName is the uploaded template's URL when the call was matched
	// to the only file of its name in the tree.
	byName string
}

// env names the call in findings.
func (c cfnCall) env() string {
	e := "nested stack " + c.parent + " Resources." + c.id
	return e
}

// urlBase is the file name at the end of an uploaded template's URL,
// read from the literal text even when the bucket is a parameter
// (!Sub https://${Bucket}.s3.amazonaws.com/stacks/ecr.yaml, or a
// Fn::Join whose last part is literal). "" when it cannot be told.
func (t *cfnTemplate) urlBase(u *yaml.Node) (base, shown string) {
	t.budget = cfnBudget
	if s, ok := t.value(u).(string); ok {
		shown = s
	} else {
		switch fn, arg := intrinsic(u); fn {
		case "Fn::Sub":
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				arg = arg.Content[0]
			}
			if arg.Kind == yaml.ScalarNode {
				shown = arg.Value
			}
		case "Fn::Join":
			if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 && arg.Content[1].Kind == yaml.SequenceNode {
				parts := arg.Content[1].Content
				if n := len(parts); n > 0 && parts[n-1].Kind == yaml.ScalarNode && parts[n-1].Tag != "!Ref" {
					shown = "..." + parts[n-1].Value
				}
			}
		}
	}
	if i := strings.IndexAny(shown, "?#"); i >= 0 {
		shown = shown[:i]
	}
	i := strings.LastIndex(shown, "/")
	if strings.Contains(shown[i+1:], "${") {
		return "", shown
	}
	base = shown[i+1:]
	ext := strings.ToLower(filepath.Ext(base))
	if ext != ".yaml" && ext != ".yml" && ext != ".json" && ext != ".template" {
		return "", shown
	}
	return base, shown
}

// nestedCalls returns the nested stacks of a template, by the child file
// they name. An uploaded template (an S3 or https TemplateURL) is taken
// to be the file of the same name in the scan when there is exactly one;
// otherwise unread says which nested templates were not graded.
func nestedCalls(p string, raw []byte, isJSON bool, byBase map[string][]string) (out map[string][]cfnCall, unread []string) {
	root, err := parseYAMLNode(raw, isJSON)
	if err != nil {
		return nil, nil
	}
	_, res := mapGet(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, nil
	}
	t, _, ok, err := parseCFN(p, raw, isJSON)
	if err != nil || !ok {
		return nil, nil
	}
	out = map[string][]cfnCall{}
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
		if u.Kind == yaml.MappingNode && typ.Value == "AWS::Serverless::Application" {
			if _, app := mapGet(u, "ApplicationId"); app != nil {
				continue // from the Serverless Application Repository
			}
		}
		c := cfnCall{parent: p, id: id, params: map[string]any{}}
		loc, ok := t.value(u).(string)
		var child string
		if !ok || strings.Contains(loc, "://") || strings.HasPrefix(loc, "s3:") {
			// Uploaded: the template is in the tree only if a file of
			// its name is, and only one.
			base, shown := t.urlBase(u)
			cands := byBase[base]
			if base != "" && len(cands) == 1 && cands[0] != filepath.Clean(p) {
				child, c.byName = cands[0], shown
			} else {
				why := "no file of that name is in the scan"
				switch {
				case base == "":
					why = "its file name cannot be told"
				case len(cands) > 1:
					why = fmt.Sprintf("%d files of that name are in the scan", len(cands))
				}
				if shown == "" {
					shown = "(computed)"
				}
				unread = append(unread, fmt.Sprintf("%s Resources.%s: the nested template %s was not read (%s); any repository it declares is not graded", p, id, shown, why))
				continue
			}
		} else {
			if loc == "" {
				continue
			}
			child = filepath.Clean(filepath.Join(filepath.Dir(p), filepath.FromSlash(loc)))
			if st, err := os.Stat(child); err != nil || !st.Mode().IsRegular() {
				continue
			}
		}
		if _, ps := mapGet(props, "Parameters"); ps != nil && ps.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(ps.Content); j += 2 {
				t.budget = cfnBudget
				c.params[ps.Content[j].Value] = t.value(ps.Content[j+1])
			}
		}
		out[child] = append(out[child], c)
	}
	return out, unread
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
