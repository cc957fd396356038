package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutag/immutag/internal/audit"
)

// The official SARIF 2.1.0 JSON Schema (OASIS errata01) is not vendored
// here; github.com/owenrumney/go-sarif/v3 ships it as the string constant
// behind its Validate method. The test reads it from that module's source in
// the module cache (the import below keeps the module in go.mod), so our
// exact bytes are validated. Its own Report.Validate is no substitute: it
// validates a re-marshalled copy, and its types add empty "language" and
// "newlineSequences" members that the schema itself rejects.
const sarifModule = "github.com/owenrumney/go-sarif/v3"

var _ = gosarif.NewReport // keeps the module a real dependency

func officialSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", sarifModule).Output()
	if err != nil {
		t.Fatalf("locate %s (go list -m): %v", sarifModule, err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read the SARIF schema from %s: %v", src, err)
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
		t.Fatalf("schema in %s: %v", src, err)
	}
	if id, _ := doc.(map[string]any)["id"].(string); !strings.HasSuffix(id, "sarif-schema-2.1.0.json") {
		t.Fatalf("schema in %s is not SARIF 2.1.0: id %q", src, id)
	}
	c := jsonschema.NewCompiler()
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile the SARIF schema: %v", err)
	}
	return sch
}

func TestSARIFValidatesAgainstOfficialSchema(t *testing.T) {
	sch := officialSARIFSchema(t)
	reports := map[string]*audit.Report{"fixture": loadFixture(t), "fix-run": sampleReport(t, true)}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			out := render(t, r, "sarif", Options{})
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if err := sch.Validate(doc); err != nil {
				t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
			}
		})
	}
	// The schema check has teeth: a misspelt property is rejected.
	out := render(t, loadFixture(t), "sarif", Options{})
	bad := bytes.Replace(out, []byte(`"ruleId"`), []byte(`"ruleID"`), 1)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if err := sch.Validate(doc); err == nil {
		t.Fatal("schema accepted a result with a misspelt property")
	}
}

type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID               string            `json:"id"`
					ShortDescription map[string]string `json:"shortDescription"`
					FullDescription  map[string]string `json:"fullDescription"`
					Help             map[string]string `json:"help"`
					Properties       map[string]any    `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful *bool `json:"executionSuccessful"`
			Notifications       []struct {
				Level string `json:"level"`
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex *int   `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string   `json:"partialFingerprints"`
			Suppressions        []map[string]string `json:"suppressions"`
			Properties          map[string]any      `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

// GitHub code scanning needs more than the schema: these are the fields its
// SARIF support page lists as required, non-empty.
func TestSARIFMeetsCodeScanningRequirements(t *testing.T) {
	sum := fixtureSummary(t)
	var doc sarifDoc
	if err := json.Unmarshal(render(t, loadFixture(t), "sarif", Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema == "" || doc.Version != "2.1.0" || len(doc.Runs) != 1 {
		t.Fatalf("top level: %q %q %d runs", doc.Schema, doc.Version, len(doc.Runs))
	}
	run := doc.Runs[0]
	if run.Tool.Driver.Name != "immutag" {
		t.Fatalf("driver %q", run.Tool.Driver.Name)
	}
	wantRules := []string{audit.RuleMutable, audit.RuleMutablePatterns, audit.RuleUnsupported, audit.RuleUnreadable, audit.RuleImmutable}
	if len(run.Tool.Driver.Rules) != len(wantRules) {
		t.Fatalf("%d rules, want one per finding type", len(run.Tool.Driver.Rules))
	}
	for i, ru := range run.Tool.Driver.Rules {
		if ru.ID != wantRules[i] {
			t.Errorf("rule %d is %s, want %s", i, ru.ID, wantRules[i])
		}
		for what, m := range map[string]map[string]string{"shortDescription": ru.ShortDescription, "fullDescription": ru.FullDescription, "help": ru.Help} {
			if m["text"] == "" || len(m["text"]) > 1024 && what != "help" {
				t.Errorf("rule %s %s.text empty or over 1024 characters", ru.ID, what)
			}
		}
		if ru.ID != audit.RuleImmutable {
			sev, _ := ru.Properties["security-severity"].(string)
			tags, _ := ru.Properties["tags"].([]any)
			if sev == "" || len(tags) == 0 || tags[0] != "security" {
				t.Errorf("rule %s: security-severity %q tags %v", ru.ID, sev, tags)
			}
		}
	}
	// One result per repository that is not compliant; exempt ones suppressed.
	if len(run.Results) != sum.Drift+sum.Error+sum.Exempt {
		t.Fatalf("%d results, want drift+error+exempt = %d", len(run.Results), sum.Drift+sum.Error+sum.Exempt)
	}
	wantLine := map[string]int{"aws": 3, "acr": 9}
	seen := map[string]bool{}
	suppressed := 0
	for _, r := range run.Results {
		if r.Message.Text == "" || len(r.Locations) == 0 || r.PartialFingerprints["primaryLocationLineHash"] == "" {
			t.Fatalf("result lacks message, location or fingerprint: %+v", r)
		}
		loc := r.Locations[0].PhysicalLocation
		prov, _ := r.Properties["provider"].(string)
		if loc.ArtifactLocation.URI != "immutag.yaml" || loc.Region.StartLine != wantLine[prov] {
			t.Errorf("result for %s anchored at %s:%d, want immutag.yaml:%d", prov, loc.ArtifactLocation.URI, loc.Region.StartLine, wantLine[prov])
		}
		uri, _ := r.Properties["uri"].(string)
		if uri == "" || !strings.Contains(r.Message.Text, uri) {
			t.Errorf("resource URI %q not in message %q", uri, r.Message.Text)
		}
		if r.RuleIndex == nil || run.Tool.Driver.Rules[*r.RuleIndex].ID != r.RuleID {
			t.Errorf("ruleIndex does not point at %s", r.RuleID)
		}
		fp := r.PartialFingerprints["primaryLocationLineHash"]
		if seen[fp] {
			t.Errorf("fingerprint %s used twice", fp)
		}
		seen[fp] = true
		id, _ := r.Properties["finding_id"].(string)
		if fp != fingerprint(r.RuleID, id) {
			t.Errorf("fingerprint is not derived from rule and resource")
		}
		if len(r.Suppressions) > 0 {
			suppressed++
			if r.Suppressions[0]["kind"] != "external" || r.Suppressions[0]["justification"] == "" {
				t.Errorf("suppression %v", r.Suppressions[0])
			}
		}
	}
	if suppressed != sum.Exempt {
		t.Fatalf("%d suppressed results, want %d exempt", suppressed, sum.Exempt)
	}
	if n := len(run.Invocations[0].Notifications); n != sum.ScopeErrors+len(loadFixture(t).Warnings) {
		t.Fatalf("%d notifications, want one per unreadable scope and warning", n)
	}
}

// An audit with a scope it could not list did not run to the end: a SARIF
// viewer that shows the results alone must not take its silence about that
// scope for a clean run.
func TestSARIFExecutionFailsWithAnUnreadableScope(t *testing.T) {
	r := loadFixture(t)
	if len(badScopes(r)) == 0 {
		t.Fatal("the fixture has no unreadable scope to test with")
	}
	success := func(r *audit.Report) bool {
		var doc sarifDoc
		if err := json.Unmarshal(render(t, r, "sarif", Options{}), &doc); err != nil {
			t.Fatal(err)
		}
		inv := doc.Runs[0].Invocations
		if len(inv) != 1 || inv[0].ExecutionSuccessful == nil {
			t.Fatalf("invocations %+v: want one with executionSuccessful", inv)
		}
		return *inv[0].ExecutionSuccessful
	}
	if success(r) {
		t.Error("executionSuccessful is true although a scope could not be listed")
	}
	for i := range r.Scopes {
		r.Scopes[i].Status, r.Scopes[i].Error = "ok", ""
	}
	if !success(r) {
		t.Error("executionSuccessful is false although every scope was listed")
	}
}

// Fingerprints depend only on rule and repository: the same repository keeps
// its alert when the config file moves lines, and a different rule (it went
// from mutable to partially mutable) is a different alert.
func TestSARIFFingerprintsAreStable(t *testing.T) {
	a := loadFixture(t)
	b := loadFixture(t)
	b.Run.ConfigLines = map[string]int{"aws": 40, "acr": 80}
	b.Run.ID, b.Run.StartedAt = "other-run", b.Run.StartedAt.AddDate(0, 0, 7)
	fps := func(r *audit.Report) []string {
		var d sarifDoc
		if err := json.Unmarshal(render(t, r, "sarif", Options{}), &d); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, res := range d.Runs[0].Results {
			out = append(out, res.PartialFingerprints["primaryLocationLineHash"])
		}
		return out
	}
	if x, y := fps(a), fps(b); strings.Join(x, ",") != strings.Join(y, ",") {
		t.Fatalf("fingerprints changed with line and run:\n%v\n%v", x, y)
	}
	if fingerprint(audit.RuleMutable, "imt-1") == fingerprint(audit.RuleMutablePatterns, "imt-1") ||
		fingerprint(audit.RuleMutable, "imt-1") == fingerprint(audit.RuleMutable, "imt-2") {
		t.Fatal("fingerprint ignores rule or resource")
	}
}

func TestSARIFAnchorFallbacks(t *testing.T) {
	r := loadFixture(t)
	r.Run.ConfigFile, r.Run.ConfigLines = "", nil
	if a := sarifAnchor(r); a.URI != fallbackAnchor || a.URIBaseID != "%SRCROOT%" {
		t.Fatalf("no config file: %+v", a)
	}
	r.Run.ConfigFile = "./ci/immutag.yaml"
	if a := sarifAnchor(r); a.URI != "ci/immutag.yaml" {
		t.Fatalf("relative: %+v", a)
	}
	r.Run.ConfigFile = "/etc/immutag/config.yaml"
	if a := sarifAnchor(r); a.URI != "file:///etc/immutag/config.yaml" || a.URIBaseID != "" {
		t.Fatalf("absolute: %+v", a)
	}
	var d sarifDoc
	r.Run.ConfigFile = ""
	if err := json.Unmarshal(render(t, r, "sarif", Options{}), &d); err != nil {
		t.Fatal(err)
	}
	for _, res := range d.Runs[0].Results {
		if res.Locations[0].PhysicalLocation.Region.StartLine != 1 {
			t.Fatalf("line without config_lines: %d", res.Locations[0].PhysicalLocation.Region.StartLine)
		}
	}
}
