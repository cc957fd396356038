package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
	"github.com/immutag/immutag/internal/providers/fake"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// sampleReport runs the real engine over fake providers holding every mode.
func sampleReport(t *testing.T, withChanges bool) *audit.Report {
	t.Helper()
	a := fake.New("aws", providers.KindECR)
	a.Add("1/us-east-1", fake.Repo{Name: "imm", Immutability: providers.Immutability{Mode: providers.ModeImmutable, Native: "IMMUTABLE"}})
	a.Add("1/us-east-1", fake.Repo{Name: "mut", Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}})
	a.Add("1/us-east-1", fake.Repo{Name: "excl", Immutability: providers.Immutability{Mode: providers.ModePartial, Native: "IMMUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"latest"}}})
	a.Add("1/us-east-1", fake.Repo{Name: "star", Immutability: providers.Immutability{Mode: providers.ModePartial, Native: "IMMUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"*"}}})
	a.Add("1/us-east-1", fake.Repo{Name: "ptc/x", Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}, DefaultExemption: "pull-through cache"})
	a.Add("1/us-east-1", fake.Repo{Name: "sandbox/a", Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}})
	a.Add("1/us-east-1", fake.Repo{Name: "old", Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}})
	a.FailScope("1/eu-west-1", &providers.APIError{Class: providers.ErrDenied, Message: "denied"})
	z := fake.New("acr", providers.KindACR)
	z.Add("reg.azurecr.io", fake.Repo{Name: "app", Immutability: providers.Immutability{Mode: providers.ModePartial, TagsTotal: 10, TagsLocked: 4, MutablePatterns: []string{"*"}, UnlockedSample: []string{"v1"}}})
	z.Add("reg.azurecr.io", fake.Repo{Name: "secret", Immutability: providers.Immutability{Mode: providers.ModeUnknown, Error: "403"}})
	pol := audit.Policy{Now: now, MutableTagsAllowed: []string{"latest"}, Exemptions: []config.Exemption{
		{Repository: "sandbox/*", Reason: "scratch", Expires: now.AddDate(0, 1, 0)},
		{Repository: "old", Reason: "gone", Expires: now.AddDate(0, -1, 0)},
	}}
	eng := &audit.Engine{Providers: []providers.Provider{a, z}, Policy: pol, Plan: withChanges}
	sc, err := eng.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := sc.Report
	r.Tool = audit.Tool{Name: "immutag", Version: "test"}
	r.Run = audit.Run{ID: "abc", StartedAt: now, FinishedAt: now.Add(time.Second), Command: "audit", ConfigSHA256: strings.Repeat("a", 64)}
	if withChanges {
		r.Changes = audit.NewSpool[audit.ChangeRecord]()
		if err := sc.Changes.EachRecord(r.Changes.Add); err != nil {
			t.Fatal(err)
		}
		sc.Changes.Close()
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("..", "..", "configs", "report.schema.json")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

func TestJSONReportValidatesAgainstSchema(t *testing.T) {
	sch := schema(t)
	for _, withChanges := range []bool{false, true} {
		var buf bytes.Buffer
		if err := JSON(&buf, sampleReport(t, withChanges)); err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, buf.String())
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("report does not match schema: %v", err)
		}
		var got struct {
			Summary  audit.Summary
			Findings []audit.Finding
			Changes  []audit.ChangeRecord
		}
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		s := got.Summary
		if s.Repositories != 9 || s.Compliant != 2 || s.Drift != 4 || s.Exempt != 2 || s.Error != 1 || s.ScopeErrors != 1 {
			t.Fatalf("summary %+v", s)
		}
		if len(got.Findings) != 9 {
			t.Fatalf("findings %d", len(got.Findings))
		}
		if withChanges && len(got.Changes) != 4 {
			t.Fatalf("changes %+v", got.Changes)
		}
	}
}

func TestSchemaRejectsBrokenReports(t *testing.T) {
	sch := schema(t)
	var buf bytes.Buffer
	if err := JSON(&buf, sampleReport(t, false)); err != nil {
		t.Fatal(err)
	}
	mutate := map[string]func(m map[string]any){
		"unknown-compliant": func(m map[string]any) {
			f := m["findings"].([]any)[0].(map[string]any)
			f["mode"], f["status"] = "unknown", "compliant"
		},
		"bad-status":     func(m map[string]any) { m["findings"].([]any)[0].(map[string]any)["status"] = "ok" },
		"no-id":          func(m map[string]any) { delete(m["findings"].([]any)[0].(map[string]any), "id") },
		"schema-version": func(m map[string]any) { m["schema_version"] = 2 },
	}
	for name, fn := range mutate {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			fn(m)
			b, _ := json.Marshal(m)
			doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err := sch.Validate(doc); err == nil {
				t.Fatal("schema accepted a broken report")
			}
		})
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := Table(&buf, sampleReport(t, true), Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"PROVIDER", "mut", "drift", "exempt: scratch (until 2026-12-26)", `exemption "gone" expired`,
		"UNREADABLE SCOPES", "1/eu-west-1", "CHANGES", "planned",
		"aws: 7 repositories, 2 compliant, 3 drift, 2 exempt, 0 error",
		"total: 9 repositories, 2 compliant, 4 drift, 2 exempt, 1 error, 1 unreadable scope(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes without Color")
	}
	buf.Reset()
	_ = Table(&buf, sampleReport(t, false), Options{Color: true})
	if !strings.Contains(buf.String(), "\x1b[31mdrift") {
		t.Error("no colour with Color")
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if err := Render(os.Stdout, sampleReport(t, false), "xml", Options{}); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Fatalf("err = %v", err)
	}
}

// TestSchemaKnowsEveryRegistryKind: a finding or scope of any kind this
// build audits validates against the schema (it used to list the first six
// registries only, so a report naming GitLab or GHCR failed it).
func TestSchemaKnowsEveryRegistryKind(t *testing.T) {
	sch := schema(t)
	for _, kind := range catalog.Kinds().Names() {
		rep := map[string]any{}
		var buf bytes.Buffer
		if err := JSON(&buf, sampleReport(t, false)); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		rep["scopes"].([]any)[0].(map[string]any)["kind"] = kind
		rep["findings"].([]any)[0].(map[string]any)["kind"] = kind
		b, _ := json.Marshal(rep)
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := sch.Validate(doc); err != nil {
			t.Errorf("kind %s: %v", kind, err)
		}
	}
}
