package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
	"github.com/immutag/immutag/internal/report"
)

// parses says whether out is a well-formed document of format.
func parses(format, out string) error {
	switch format {
	case "json", "sarif":
		var v map[string]any
		return json.Unmarshal([]byte(out), &v)
	case "ocsf":
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				return err
			}
		}
		return nil
	case "junit":
		dec := xml.NewDecoder(strings.NewReader(out))
		for {
			if _, err := dec.Token(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	case "csv":
		_, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		return err
	case "html":
		if !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(out), "</html>") {
			return errors.New("not a whole HTML document")
		}
	case "table", "markdown":
		if !strings.Contains(out, "total") {
			return errors.New("no totals")
		}
	}
	return nil
}

// The exit-code contract does not depend on the output format.
func TestExitCodesSameInEveryFormat(t *testing.T) {
	base := func() *fake.Provider {
		return fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	}
	cases := []struct {
		name string
		prov func() *fake.Provider
		args []string
		want int
	}{
		{"clean", base, []string{"--fail-on-drift"}, CodeOK},
		{"drift-no-gate", func() *fake.Provider {
			return base().Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, nil, CodeOK},
		{"drift", func() *fake.Provider {
			return base().Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, []string{"--fail-on-drift"}, CodeDrift},
		{"incomplete", func() *fake.Provider { return base().FailScope("s2", errors.New("AccessDenied")) }, []string{"--fail-on-drift"}, CodeIncomplete},
		{"drift-wins", func() *fake.Provider {
			return base().FailScope("s2", errors.New("denied")).Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, []string{"--fail-on-drift"}, CodeDrift},
	}
	for _, format := range report.Formats {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				f := fakeFactory(t, tc.prov())
				r := run(t, f, "", append([]string{"audit", "-o", format}, tc.args...)...)
				if r.code != tc.want {
					t.Fatalf("exit %d, want %d (err %v)", r.code, tc.want, r.err)
				}
				if err := parses(format, r.stdout); err != nil {
					t.Fatalf("%s output does not parse: %v\n%s", format, err, r.stdout)
				}
			})
		}
	}
}

func TestFixFormatsKeepExitCodes(t *testing.T) {
	for _, format := range report.Formats {
		p := fake.New("a", providers.KindECR).Add("s", fake.Repo{Name: "r1", Immutability: imm(providers.ModeMutable)}).
			FailScope("s2", errors.New("denied"))
		f := fakeFactory(t, p)
		r := run(t, f, "", "fix", "-o", format)
		if r.code != CodeIncomplete || p.Writes != 0 {
			t.Fatalf("fix -o %s: exit %d writes %d err %v", format, r.code, p.Writes, r.err)
		}
		if err := parses(format, r.stdout); err != nil {
			t.Fatalf("fix -o %s output: %v", format, err)
		}
	}
}

func withConfigFile(f *Factory, file string, lines map[string]int) {
	inner := f.Config
	f.Config = func() (*config.Config, error) {
		c, err := inner()
		if err != nil {
			return nil, err
		}
		c.File = file
		for i := range c.Providers {
			c.Providers[i].Line = lines[c.Providers[i].Name]
		}
		return c, nil
	}
}

func saveReport(t *testing.T, f *Factory, path string, extra ...string) result {
	t.Helper()
	r := run(t, f, "", append([]string{"audit", "-o", "json", "--output", path}, extra...)...)
	if r.code == CodeError {
		t.Fatalf("audit: %v", r.err)
	}
	return r
}

func TestReportRenderReproducesAudit(t *testing.T) {
	p := fake.New("aws", providers.KindECR).
		Add("1/us-east-1", fake.Repo{Name: "mut", Immutability: imm(providers.ModeMutable)}).
		Add("1/us-east-1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	h := fake.New("hub", providers.KindDockerHub).Add("acme", fake.Repo{Name: "web", Immutability: imm(providers.ModeMutable)})
	f := fakeFactory(t, p, h)
	withConfigFile(f, "immutag.yaml", map[string]int{"aws": 4, "hub": 11})
	dir := t.TempDir()
	saved := filepath.Join(dir, "r.json")
	saveReport(t, f, saved)
	orig, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Run struct {
			ConfigFile  string         `json:"config_file"`
			ConfigLines map[string]int `json:"config_lines"`
		}
	}
	if err := json.Unmarshal(orig, &meta); err != nil || meta.Run.ConfigFile != "immutag.yaml" || meta.Run.ConfigLines["hub"] != 11 {
		t.Fatalf("report does not record the config anchor: %v %+v", err, meta.Run)
	}

	// json -> json is the identity.
	r := run(t, testFactory(t), "", "report", "render", saved, "-o", "json")
	if r.err != nil || r.stdout != string(orig) {
		t.Fatalf("render -o json changed the report: %v\n%s", r.err, r.stdout)
	}
	// SARIF from the saved report points at the provider's config line.
	r = run(t, testFactory(t), "", "report", "render", saved, "-o", "sarif")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &sarif); err != nil {
		t.Fatal(err)
	}
	if len(sarif.Runs[0].Results) != 2 {
		t.Fatalf("%d results, want the 2 drifting repositories", len(sarif.Runs[0].Results))
	}
	for _, res := range sarif.Runs[0].Results {
		pl := res.Locations[0].PhysicalLocation
		want := map[string]int{"aws": 4, "hub": 11}[res.Properties["provider"].(string)]
		if pl.ArtifactLocation.URI != "immutag.yaml" || pl.Region.StartLine != want {
			t.Errorf("%v anchored at %s:%d, want immutag.yaml:%d", res.Properties["provider"], pl.ArtifactLocation.URI, pl.Region.StartLine, want)
		}
	}
	// Every format renders to a file.
	for _, format := range report.Formats {
		out := filepath.Join(dir, "out."+format)
		r := run(t, testFactory(t), "", "report", "render", saved, "-o", format, "--output", out)
		b, err := os.ReadFile(out)
		if r.err != nil || err != nil || r.stdout != "" {
			t.Fatalf("render -o %s --output: %v %v stdout %q", format, r.err, err, r.stdout)
		}
		if err := parses(format, string(b)); err != nil {
			t.Fatalf("render -o %s: %v", format, err)
		}
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notReport := filepath.Join(dir, "notes.json")
	if err := os.WriteFile(notReport, []byte(`{"hello": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report", "render", filepath.Join(dir, "missing.json"), "-o", "html"}, "missing.json"},
		{[]string{"report", "render", notReport, "-o", "html"}, "notes.json"},
		{[]string{"report", "render", notReport, "-o", "pdf"}, `-o "pdf"`},
		{[]string{"report", "render"}, "accepts 1 arg"},
		{[]string{"report", "diff", notReport}, "report diff takes two reports"},
		{[]string{"report", "diff", notReport, notReport, "-o", "sarif"}, `-o "sarif"`},
		{[]string{"report", "diff", filepath.Join(dir, "old.json"), notReport}, "old.json"},
	}
	for _, tc := range cases {
		r := run(t, testFactory(t), "", tc.args...)
		if r.code != CodeError || r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%v: exit %d err %v, want exit 1 naming %q", tc.args, r.code, r.err, tc.want)
		}
	}
}

// One estate over two weeks: repositories appear, vanish, start drifting
// and recover. --baseline fails the gate only on the new drift, and
// `report diff` tells the story.
func TestBaselineGateAndDiff(t *testing.T) {
	dir := t.TempDir()
	week1 := filepath.Join(dir, "week1.json")
	p1 := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "legacy", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "recovers", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "vanishes", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "fine", Immutability: imm(providers.ModeImmutable)})
	if r := saveReport(t, fakeFactory(t, p1), week1); r.code != CodeOK {
		t.Fatalf("week 1: exit %d", r.code)
	}

	// Week 2 without new drift: known drift only -> the gate passes.
	p2 := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "legacy", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "recovers", Immutability: imm(providers.ModeImmutable)}).
		Add("s", fake.Repo{Name: "fine", Immutability: imm(providers.ModeImmutable)}).
		Add("s", fake.Repo{Name: "appears-ok", Immutability: imm(providers.ModeImmutable)})
	r := run(t, fakeFactory(t, p2), "", "audit", "--baseline", week1, "--fail-on-drift", "-o", "json")
	if r.code != CodeOK {
		t.Fatalf("known drift only: exit %d, err %v", r.code, r.err)
	}
	if !strings.Contains(r.stderr, "1 drifting repositories, 0 of them not drifting in the baseline") {
		t.Errorf("stderr %q", r.stderr)
	}
	// Without the baseline the same estate fails the gate.
	if r := run(t, fakeFactory(t, p2), "", "audit", "--fail-on-drift"); r.code != CodeDrift {
		t.Fatalf("without baseline: exit %d", r.code)
	}

	// Week 2 with new drift: a repository appears mutable, a good one starts drifting.
	week2 := filepath.Join(dir, "week2.json")
	p3 := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "legacy", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "recovers", Immutability: imm(providers.ModeImmutable)}).
		Add("s", fake.Repo{Name: "fine", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "appears-bad", Immutability: imm(providers.ModeMutable)})
	f3 := fakeFactory(t, p3)
	r = run(t, f3, "", "audit", "--baseline", week1, "--fail-on-drift", "-o", "json", "--output", week2)
	if r.code != CodeDrift || !strings.Contains(r.err.Error(), "new drift: 2 of 4") || !strings.Contains(r.err.Error(), "week1.json") {
		t.Fatalf("new drift: exit %d err %v", r.code, r.err)
	}
	// The report itself is complete: known drift is still reported.
	var rep struct{ Summary struct{ Drift int } }
	if b, err := os.ReadFile(week2); err != nil || json.Unmarshal(b, &rep) != nil || rep.Summary.Drift != 3 {
		t.Fatalf("week 2 report drift %d (%v)", rep.Summary.Drift, err)
	}
	// Drift still wins over incomplete with a baseline; known drift plus an
	// unreadable scope is incomplete.
	p4 := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "legacy", Immutability: imm(providers.ModeMutable)}).
		FailScope("s2", errors.New("denied"))
	if r := run(t, fakeFactory(t, p4), "", "audit", "--baseline", week1, "--fail-on-drift"); r.code != CodeIncomplete {
		t.Fatalf("known drift + unreadable scope: exit %d (%v)", r.code, r.err)
	}
	p4.Add("s", fake.Repo{Name: "appears-bad", Immutability: imm(providers.ModeMutable)})
	if r := run(t, fakeFactory(t, p4), "", "audit", "--baseline", week1, "--fail-on-drift"); r.code != CodeDrift {
		t.Fatalf("new drift + unreadable scope: exit %d (%v)", r.code, r.err)
	}

	r = run(t, testFactory(t), "", "report", "diff", week1, week2, "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		report.DiffNewDrift:      {"appears-bad", "fine"}, // findings come in the stable order (provider, scope, repository)
		report.DiffStillDrifting: {"legacy"},
		report.DiffResolved:      {"recovers"},
		report.DiffNewRepos:      {"appears-bad"},
		report.DiffRemovedRepos:  {"vanishes"},
	}
	for cat, names := range want {
		var got []string
		for _, e := range d[cat].([]any) {
			got = append(got, e.(map[string]any)["repository"].(string))
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%s = %v, want %v", cat, got, names)
		}
	}
	r = run(t, testFactory(t), "", "report", "diff", week1, week2, "-o", "markdown")
	if r.err != nil || !strings.Contains(r.stdout, "2 repositories drift that did not before") {
		t.Fatalf("diff markdown: %v\n%s", r.err, r.stdout)
	}
}

func TestBadBaselineIsExit1BeforeScanning(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "garbage.json")
	v2 := filepath.Join(dir, "v2.json")
	_ = os.WriteFile(notJSON, []byte("<html>"), 0o644)
	_ = os.WriteFile(v2, []byte(`{"schema_version": 2, "tool": {"name": "immutag"}, "summary": {}, "findings": []}`), 0o644)
	for _, path := range []string{filepath.Join(dir, "absent.json"), notJSON, v2, dir} {
		f := fakeFactory(t, fake.New("a", providers.KindECR))
		f.BuildProviders = func(context.Context, []config.Provider) ([]providers.Provider, error) {
			t.Errorf("scanned with a bad baseline %s", path)
			return nil, nil
		}
		r := run(t, f, "", "audit", "--baseline", path, "--fail-on-drift")
		if r.code != CodeError || !strings.Contains(r.err.Error(), "--baseline "+path) {
			t.Errorf("baseline %s: exit %d err %v", path, r.code, r.err)
		}
		if r.stdout != "" {
			t.Errorf("baseline %s: wrote a report", path)
		}
	}
}

func TestTableColourOnlyOnCapableTerminals(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
	cases := []struct {
		name   string
		tty    bool
		env    map[string]string
		colour bool
	}{
		{"terminal", true, nil, true},
		{"no-color", true, map[string]string{"NO_COLOR": "1"}, false},
		{"dumb", true, map[string]string{"TERM": "dumb"}, false},
		{"piped", false, nil, false},
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "r.json")
	saveReport(t, fakeFactory(t, p), saved)
	for _, tc := range cases {
		for _, args := range [][]string{{"audit", "-o", "table"}, {"report", "render", saved, "-o", "table"}} {
			f := fakeFactory(t, p)
			f.IO.StdoutTTY = tc.tty
			base := f.Getenv
			f.Getenv = func(k string) string {
				if v, ok := tc.env[k]; ok {
					return v
				}
				return base(k)
			}
			r := run(t, f, "", args...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := strings.Contains(r.stdout, "\x1b["); got != tc.colour {
				t.Errorf("%s %v: colour %v, want %v", tc.name, args[0], got, tc.colour)
			}
			if !strings.Contains(r.stdout, "a: 1 repository, 0 compliant, 1 drift") {
				t.Errorf("%s %v: no summary line per provider:\n%s", tc.name, args[0], r.stdout)
			}
		}
	}
}
