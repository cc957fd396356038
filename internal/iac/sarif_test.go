package iac

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// officialSARIFSchema is the SARIF 2.1.0 schema the go-sarif module ships
// (the report package validates its SARIF against the same file).
func officialSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	const mod = "github.com/owenrumney/go-sarif/v3"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		t.Fatalf("locate %s (go list -m): %v", mod, err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read the SARIF schema: %v", err)
	}
	const open = "const schema = `"
	i := bytes.Index(b, []byte(open))
	if i < 0 {
		t.Fatalf("%s no longer holds the schema as %q", src, open)
	}
	body := b[i+len(open):]
	body = body[:bytes.IndexByte(body, '`')]
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func TestSARIFValidatesAgainstOfficialSchema(t *testing.T) {
	sch := officialSARIFSchema(t)
	// Findings of every rule, a suppression, an invalid suppression and a
	// note, so every part of the output is checked.
	res := Scan([]string{"testdata/tf/basic", "testdata/suppress", "testdata/tf/others", "testdata/tf/stacks", "testdata/tf/modules"}, Options{})
	var buf bytes.Buffer
	if err := Render(&buf, res, "sarif", RenderOptions{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
	for _, want := range []string{`"inSource"`, `"ruleId": "mutable-patterns"`, `"ruleId": "unreadable"`, `"level": "note"`} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("SARIF lacks %s", want)
		}
	}
}
