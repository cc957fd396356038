package apispec

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestReadTreeYAMLKeysAndJSONNumbers(t *testing.T) {
	dir := t.TempDir()
	y, j := filepath.Join(dir, "s.yaml"), filepath.Join(dir, "s.json")
	if err := os.WriteFile(y, []byte("responses:\n  200:\n    description: ok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j, []byte(`{"maximum": 9007199254740993}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tree, err := ReadTree(y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(tree); err != nil {
		t.Errorf("YAML tree with an integer key is not JSON-encodable: %v", err)
	}
	tree, err = ReadTree(j)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(tree); string(b) != `{"maximum":9007199254740993}` {
		t.Errorf("JSON number changed: %s", b)
	}
}

func TestSwagger2RouterOnPathAlone(t *testing.T) {
	tree := map[string]any{
		"swagger": "2.0", "info": map[string]any{"title": "t", "version": "1"}, "host": "example.com",
		"paths": map[string]any{"/v1/{name}": map[string]any{"get": map[string]any{
			"operationId": "Get",
			"parameters":  []any{map[string]any{"name": "name", "in": "path", "required": true, "type": "string"}},
			"responses":   map[string]any{"200": map[string]any{"description": "ok"}},
		}}},
	}
	_, doc3, err := Swagger2(tree)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Router(doc3, "")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:1/v1/app", nil)
	route, params, err := r.FindRoute(req)
	if err != nil || route.Operation.OperationID != "Get" || params["name"] != "app" {
		t.Errorf("route %v %v %v", route, params, err)
	}
}
