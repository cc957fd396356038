package iac

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// planDoc is the part of `terraform show -json` output the scan reads:
// planned values (what apply will leave), or values for a state.
type planDoc struct {
	FormatVersion string `json:"format_version"`
	PlannedValues *struct {
		RootModule planModule `json:"root_module"`
	} `json:"planned_values"`
	Values *struct {
		RootModule planModule `json:"root_module"`
	} `json:"values"`
	ResourceChanges []struct {
		Address string `json:"address"`
		Change  struct {
			AfterUnknown any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
}

type planModule struct {
	Address      string         `json:"address"`
	Resources    []planResource `json:"resources"`
	ChildModules []planModule   `json:"child_modules"`
}

type planResource struct {
	Address string         `json:"address"`
	Mode    string         `json:"mode"`
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Values  map[string]any `json:"values"`
}

// parsePlan returns the known resources of a plan with their values;
// values apply computes are unknown.
func parsePlan(path string, raw []byte) ([]Resource, []attrs, error) {
	var doc planDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("plan JSON: %w", err)
	}
	var root *planModule
	switch {
	case doc.PlannedValues != nil:
		root = &doc.PlannedValues.RootModule
	case doc.Values != nil:
		root = &doc.Values.RootModule
	default:
		return nil, nil, nil
	}
	after := map[string]any{}
	for _, rc := range doc.ResourceChanges {
		after[rc.Address] = rc.Change.AfterUnknown
	}
	var rs []Resource
	var as []attrs
	var walk func(m *planModule, depth int)
	walk = func(m *planModule, depth int) {
		if depth > maxModuleDepth*2 {
			return
		}
		for _, pr := range m.Resources {
			if pr.Mode != "" && pr.Mode != "managed" {
				continue
			}
			if !terraformTypes[pr.Type] {
				continue
			}
			vals := map[string]any{}
			for k, v := range pr.Values {
				vals[k] = v
			}
			merged, _ := mergeUnknown(vals, after[pr.Address], pr.Address).(map[string]any)
			line, col := locate(raw, pr.Address)
			rs = append(rs, Resource{File: path, Line: line, Column: col, Address: pr.Address, Type: pr.Type, Syntax: SyntaxPlan,
				block: blockRef{file: path, syntax: SyntaxPlan, typ: pr.Type, name: pr.Name}, module: moduleOf(pr.Address, pr.Type), endLine: line})
			as = append(as, merged)
		}
		for i := range m.ChildModules {
			walk(&m.ChildModules[i], depth+1)
		}
	}
	walk(root, 0)
	return rs, as, nil
}

// moduleOf is the module path of a resource address.
func moduleOf(addr, typ string) string {
	i := bytes.LastIndex([]byte(addr), []byte(typ+"."))
	if i <= 0 {
		return ""
	}
	return addr[:i]
}

// mergeUnknown marks the values after_unknown says apply computes.
func mergeUnknown(v any, au any, addr string) any {
	switch x := au.(type) {
	case bool:
		if x {
			return unknown{why: fmt.Sprintf("%s: the value is only known after apply", addr)}
		}
	case map[string]any:
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for k, e := range x {
			m[k] = mergeUnknown(m[k], e, addr)
		}
		return m
	case []any:
		l, _ := v.([]any)
		for i, e := range x {
			if i < len(l) {
				l[i] = mergeUnknown(l[i], e, addr)
			} else if b, ok := e.(bool); ok && b {
				l = append(l, unknown{why: fmt.Sprintf("%s: the value is only known after apply", addr)})
			}
		}
		return l
	}
	return v
}

// locate finds the line and column of a resource's address in the plan.
func locate(raw []byte, addr string) (int, int) {
	q, _ := json.Marshal(addr)
	i := bytes.Index(raw, append([]byte(`"address":`), q...))
	if i < 0 {
		i = bytes.Index(raw, append([]byte(`"address": `), q...))
	}
	if i < 0 {
		return 1, 1
	}
	line := bytes.Count(raw[:i], []byte("\n")) + 1
	col := i - bytes.LastIndexByte(raw[:i], '\n')
	return line, col
}
