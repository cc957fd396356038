package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

const (
	schemaPath  = "../../configs/config.schema.json"
	examplePath = "../../configs/example.yaml"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

// yamlToJSON gives the schema validator what an editor plugin would see.
func yamlToJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestExampleMatchesSchemaAndDecodes(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	sch := compileSchema(t)
	if err := sch.Validate(yamlToJSON(t, raw)); err != nil {
		t.Fatalf("example.yaml does not match the schema: %v", err)
	}
	c, err := config.Decode(examplePath, raw, nil, kinds)
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	var got []string
	for _, p := range c.Providers {
		got = append(got, string(p.Kind))
	}
	sort.Strings(got)
	want := kinds.Names()
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("example kinds = %v, want one of each of %v", got, want)
	}
	if len(c.Policy.MutableTagsAllowed) == 0 || len(c.Policy.Exemptions) == 0 {
		t.Error("example should show mutable_tags_allowed and an exemption")
	}
	for _, p := range c.Providers {
		if p.Line == 0 {
			t.Errorf("provider %s has no line", p.Name)
		}
	}
}

// TestSchemaAgreesWithDecode: what the loader refuses for shape reasons,
// the schema refuses too, and the minimal valid config passes both.
func TestSchemaAgreesWithDecode(t *testing.T) {
	sch := compileSchema(t)
	if err := sch.Validate(yamlToJSON(t, []byte(valid))); err != nil {
		t.Fatalf("valid config rejected by schema: %v", err)
	}
	for _, tc := range errCases {
		if !tc.schema {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, []byte(tc.yaml))); err == nil {
				t.Errorf("schema accepts a config the loader refuses (%s)", tc.msg)
			}
		})
	}
}

// TestSchemaKeysInStep compares the schema's property lists and per-kind
// exclusions with the Go key tables.
func TestSchemaKeysInStep(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]any `json:"properties"`
			AllOf      []struct {
				If struct {
					Properties struct {
						Kind struct {
							Const string `json:"const"`
						} `json:"kind"`
					} `json:"properties"`
				} `json:"if"`
				Then struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"then"`
			} `json:"allOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(l []string) []string { l = slices.Clone(l); sort.Strings(l); return l }
	for name, want := range map[string][]string{
		"":            config.TopKeys,
		"provider":    kinds.ProviderKeys(),
		"credentials": config.CredKeys,
		"tls":         config.TLSKeys,
		"rate":        config.RateKeys,
		"policy":      config.PolicyKeys,
		"exemption":   config.ExemptionKeys,
		"ledger":      config.LedgerKeys,
	} {
		props := s.Properties
		if name != "" {
			props = s.Defs[name].Properties
		}
		if got := keys(props); !slices.Equal(got, sorted(want)) {
			t.Errorf("schema %q properties = %v, Go table = %v", name, got, sorted(want))
		}
	}
	seen := map[string]bool{}
	for _, a := range s.Defs["provider"].AllOf {
		kind := a.If.Properties.Kind.Const
		seen[kind] = true
		spec := kinds.Lookup(providers.Kind(kind))
		if spec == nil {
			t.Errorf("schema has rules for kind %s, which this build does not have", kind)
			continue
		}
		applies := func(_, key string) bool { return spec.Applies(key) }
		for _, key := range kinds.ProviderKeys() {
			forbidden := string(a.Then.Properties[key]) == "false"
			if forbidden == applies(kind, key) {
				t.Errorf("kind %s key %s: schema forbids=%v, Go applies=%v", kind, key, forbidden, applies(kind, key))
			}
		}
		if !applies(kind, "credentials") {
			continue
		}
		var creds struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if c := a.Then.Properties["credentials"]; c != nil {
			if err := json.Unmarshal(c, &creds); err != nil {
				t.Fatal(err)
			}
		}
		for _, key := range config.CredKeys {
			forbidden := string(creds.Properties[key]) == "false"
			if forbidden == applies(kind, "credentials."+key) {
				t.Errorf("kind %s credentials.%s: schema forbids=%v, Go applies=%v", kind, key, forbidden, applies(kind, "credentials."+key))
			}
		}
	}
	for _, k := range kinds.Names() {
		if !seen[k] {
			t.Errorf("schema has no rules for kind %s", k)
		}
	}
}
