// Package apispec loads the official API specs (Swagger 2.0 or OpenAPI 3,
// JSON or YAML) with kin-openapi for the contract tests, and builds the
// router that finds the operation of a request. What a contract test then
// checks, and which known spec defects it works around, stays with the
// registry's own test: those are not the same from one registry to the next.
//
// Only tests import it, so kin-openapi stays out of the binary.
package apispec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"go.yaml.in/yaml/v3"
)

// ReadTree reads a JSON or YAML document into a tree that encoding/json can
// encode again unchanged: maps with string keys (YAML keys such as response
// codes become strings), slices and scalars (JSON numbers kept verbatim).
// Tests edit the tree to work around known spec defects before loading it.
func ReadTree(path string) (any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tree any
	if json.Valid(raw) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&tree); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		return tree, nil
	}
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return stringKeys(tree), nil
}

// stringKeys turns YAML maps with non-string keys into map[string]any.
func stringKeys(n any) any {
	switch v := n.(type) {
	case map[string]any:
		for k, c := range v {
			v[k] = stringKeys(c)
		}
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[fmt.Sprint(k)] = stringKeys(c)
		}
		return m
	case []any:
		for i, c := range v {
			v[i] = stringKeys(c)
		}
	}
	return n
}

// Swagger2 decodes a Swagger 2.0 tree and converts it to OpenAPI 3. The
// Swagger 2.0 document is returned too, for what the conversion loses.
func Swagger2(tree any) (*openapi2.T, *openapi3.T, error) {
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(js, &doc2); err != nil {
		return nil, nil, fmt.Errorf("decode swagger 2.0: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, nil, fmt.Errorf("convert to openapi 3: %w", err)
	}
	return &doc2, doc3, nil
}

// OpenAPI3 loads an OpenAPI 3 tree.
func OpenAPI3(tree any) (*openapi3.T, error) {
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(js)
	if err != nil {
		return nil, fmt.Errorf("load openapi 3: %w", err)
	}
	return doc, nil
}

// Router finds the operation of a request in doc. serverURL replaces the
// document's servers, so that requests sent to an emulator are routed; ""
// drops them and requests are routed on their path alone. Examples in the
// spec are not validated.
func Router(doc *openapi3.T, serverURL string) (routers.Router, error) {
	doc.Servers = nil
	if serverURL != "" {
		doc.Servers = openapi3.Servers{{URL: serverURL}}
	}
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return r, nil
}
