package lint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleResult(t *testing.T) (*Result, string) {
	t.Helper()
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(wf, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("release.yml", "on: push\njobs:\n  j:\n    steps:\n      - run: |\n          docker push ghcr.io/acme/app:latest\n          docker push ghcr.io/acme/x # immutag-lint ignore implicit-latest: scratch\n")
	write("broken.yaml", "on: push\njobs: [\n")
	write("notes.txt", "docker push ghcr.io/acme/ignored\n")
	return Lint([]string{wf}, testCfg), dir
}

func TestLintWalksDirectories(t *testing.T) {
	res, _ := sampleResult(t)
	if len(res.Files) != 2 || !strings.HasSuffix(res.Files[0], "broken.yaml") || !strings.HasSuffix(res.Files[1], "release.yml") {
		t.Errorf("files %v: want the .yaml and .yml files only, sorted", res.Files)
	}
	if len(res.Errors) != 1 || res.Errors[0].Line != 2 {
		t.Errorf("errors %+v", res.Errors)
	}
	if len(res.Findings) != 2 || res.Active() != 1 || !res.Findings[1].Suppressed() {
		t.Errorf("findings %+v", res.Findings)
	}
}

func TestRenderText(t *testing.T) {
	res, _ := sampleResult(t)
	var b bytes.Buffer
	if err := Render(&b, res, "text", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"broken.yaml:2:", "error: invalid YAML",
		"release.yml:6:23: error [explicit-latest] `docker push` pushes the tag latest",
		"      - " + "          docker push ghcr.io/acme/app:latest",
		"      + " + "          docker push ghcr.io/acme/app:${GITHUB_SHA}",
		"1 finding (1 error, 0 warnings) in 2 files, 1 suppressed; 1 path could not be linted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ghcr.io/acme/x") {
		t.Errorf("suppressed finding printed:\n%s", out)
	}
}

func TestRenderJSON(t *testing.T) {
	res, _ := sampleResult(t)
	var b bytes.Buffer
	if err := Render(&b, res, "json", RenderOptions{ToolVersion: "v9"}); err != nil {
		t.Fatal(err)
	}
	var r JSONReport
	if err := json.Unmarshal(b.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != 1 || r.Tool.Version != "v9" || r.Summary.Findings != 1 || r.Summary.Suppressed != 1 || r.Summary.ParseErrors != 1 || len(r.Errors) != 1 {
		t.Errorf("report %+v", r)
	}
	if f := r.Findings[1]; f.Suppression == nil || f.Suppression.Reason != "scratch" || f.Fix == nil || len(f.Fix.Edits) != 1 {
		t.Errorf("suppressed finding %+v", f)
	}
	// A deleting edit is an empty list, not null, for consumers.
	var raw map[string]any
	_ = json.Unmarshal(b.Bytes(), &raw)
	if _, ok := raw["findings"].([]any); !ok {
		t.Error("findings is not a list")
	}
}

// TestRenderSARIF checks what GitHub code scanning requires of a SARIF
// upload (github/docs sarif-support-for-code-scanning).
func TestRenderSARIF(t *testing.T) {
	res, dir := sampleResult(t)
	var b bytes.Buffer
	if err := Render(&b, res, "sarif", RenderOptions{ToolVersion: "v9", BaseDir: dir}); err != nil {
		t.Fatal(err)
	}
	var log struct {
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
			Results []struct {
				RuleID    string            `json:"ruleId"`
				RuleIndex int               `json:"ruleIndex"`
				Level     string            `json:"level"`
				Message   map[string]string `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine, StartColumn, EndLine, EndColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []map[string]string
				Fixes               []any
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful        bool `json:"executionSuccessful"`
				ToolExecutionNotifications []struct {
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string } `json:"artifactLocation"`
							Region           struct{ StartLine int }
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Schema == "" || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("top level: %q %q %d runs", log.Schema, log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "immutag" || len(run.Tool.Driver.Rules) != len(Rules()) {
		t.Errorf("driver %+v", run.Tool.Driver.Name)
	}
	for _, r := range run.Tool.Driver.Rules {
		for name, txt := range map[string]string{"short": r.ShortDescription["text"], "full": r.FullDescription["text"], "help": r.Help["text"]} {
			if txt == "" || len(txt) > 1024 {
				t.Errorf("rule %s %s description: %d chars", r.ID, name, len(txt))
			}
		}
		if r.Properties["security-severity"] == "" {
			t.Errorf("rule %s has no security-severity", r.ID)
		}
	}
	if len(run.Results) != 2 {
		t.Fatalf("want 2 results (one suppressed), got %d", len(run.Results))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Message["text"] == "" || len(r.Locations) != 1 {
			t.Errorf("result %+v", r)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != ".github/workflows/release.yml" || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" {
			t.Errorf("uri %q base %q: want the path relative to the repository root", loc.ArtifactLocation.URI, loc.ArtifactLocation.URIBaseID)
		}
		if loc.Region.StartLine < 6 || loc.Region.StartColumn < 1 || loc.Region.EndColumn <= loc.Region.StartColumn {
			t.Errorf("region %+v", loc.Region)
		}
		if r.PartialFingerprints["primaryLocationLineHash"] == "" || len(r.Fixes) != 1 {
			t.Errorf("fingerprint/fixes missing: %+v", r)
		}
	}
	if s := run.Results[1].Suppressions; len(s) != 1 || s[0]["kind"] != "inSource" || s[0]["justification"] != "scratch" {
		t.Errorf("suppression %+v", s)
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 ||
		inv.ToolExecutionNotifications[0].Locations[0].PhysicalLocation.Region.StartLine != 2 ||
		inv.ToolExecutionNotifications[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != ".github/workflows/broken.yaml" {
		t.Errorf("invocation %+v", inv)
	}
}

// TestSARIFFingerprintStable: moving a finding down a few lines keeps its
// fingerprint, so code scanning does not open a new alert.
func TestSARIFFingerprintStable(t *testing.T) {
	fp := func(src string) string {
		fs, err := LintBytes("w.yml", []byte(src), testCfg)
		if err != nil || len(fs) != 1 {
			t.Fatalf("%v %v", fs, err)
		}
		var b bytes.Buffer
		if err := Render(&b, &Result{Files: []string{"w.yml"}, Findings: fs}, "sarif", RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		var log map[string]any
		_ = json.Unmarshal(b.Bytes(), &log)
		r := log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
		return r["partialFingerprints"].(map[string]any)["primaryLocationLineHash"].(string)
	}
	a := fp("on: push\njobs:\n  j:\n    steps:\n      - run: docker push ghcr.io/acme/app\n")
	b := fp("on: push\n# a comment\n\njobs:\n  j:\n    steps:\n      - uses: actions/checkout@v4\n      - run: docker push ghcr.io/acme/app\n")
	c := fp("on: push\njobs:\n  j:\n    steps:\n      - run: docker push ghcr.io/acme/other\n")
	if a != b || a == c {
		t.Errorf("fingerprints %s %s %s: want the first two equal, the third different", a, b, c)
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if err := Render(&bytes.Buffer{}, &Result{}, "xml", RenderOptions{}); err == nil {
		t.Error("unknown format accepted")
	}
}
