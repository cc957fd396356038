package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutag/immutag/internal/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const fixture = "testdata/report.json"

// goldenName maps a format to its golden file.
var goldenName = map[string]string{
	"table": "report.table.txt", "json": "report.json", "sarif": "report.sarif", "junit": "report.junit.xml",
	"markdown": "report.md", "html": "report.html", "csv": "report.csv", "ocsf": "report.ocsf.jsonl",
}

func loadFixture(t *testing.T) *audit.Report {
	t.Helper()
	r, err := LoadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func render(t *testing.T, r *audit.Report, format string, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, format, o); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return buf.Bytes()
}

// checkGolden compares got with testdata/golden/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/report -update rewrites it after review):\n%s", name, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d\n want: %q\n  got: %q", i+1, w, g)
		}
	}
	return "(same lines)"
}

func TestGoldenEveryFormat(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			name, ok := goldenName[format]
			if !ok {
				t.Fatalf("format %s has no golden file name", format)
			}
			got := render(t, loadFixture(t), format, Options{})
			checkGolden(t, name, got)
		})
	}
}

// The JSON renderer re-emits a loaded report byte for byte: load and render
// lose nothing, so `report render -o json` is the identity.
func TestJSONRoundTripIsExact(t *testing.T) {
	want, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, loadFixture(t), "json", Options{})
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip changed the report:\n%s", firstDiff(string(want), string(got)))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema(t).Validate(doc); err != nil {
		t.Fatalf("fixture does not match configs/report.schema.json: %v", err)
	}
}

// fixtureSummary reads the numbers straight from the fixture's JSON, not
// through the report model, for the format tests to compare against.
func fixtureSummary(t *testing.T) audit.Summary {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Summary audit.Summary }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Repositories == 0 || doc.Summary.Drift == 0 {
		t.Fatalf("fixture summary looks empty: %+v", doc.Summary)
	}
	return doc.Summary
}

func TestJUnitCountsMatchReport(t *testing.T) {
	sum := fixtureSummary(t)
	out := render(t, loadFixture(t), "junit", Options{})
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Class   string    `xml:"classname,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("junit is not XML: %v\n%s", err, out)
	}
	if doc.Tests != sum.Repositories+sum.ScopeErrors || doc.Failures != sum.Drift || doc.Errors != sum.Error+sum.ScopeErrors || doc.Skipped != sum.Exempt {
		t.Fatalf("root counts %+v vs summary %+v", doc, sum)
	}
	cases := 0
	for _, s := range doc.Suites {
		var f, e, k int
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Error != nil {
				e++
			}
			if c.Skipped != nil {
				k++
			}
			if !strings.HasPrefix(c.Class, s.Name+".") {
				t.Errorf("case %s in suite %s has classname %s", c.Name, s.Name, c.Class)
			}
		}
		cases += len(s.Cases)
		if len(s.Cases) != s.Tests || f != s.Failures || e != s.Errors || k != s.Skipped {
			t.Errorf("suite %s attributes tests=%d failures=%d errors=%d skipped=%d, cases %d/%d/%d/%d",
				s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), f, e, k)
		}
		pc := sum.ByProvider[s.Name]
		if f != pc.Drift || k != pc.Exempt {
			t.Errorf("suite %s: %d failures %d skipped, provider counts %+v", s.Name, f, k, pc)
		}
	}
	if cases != sum.Repositories+sum.ScopeErrors {
		t.Fatalf("%d test cases, want one per repository plus one per unreadable scope (%d)", cases, sum.Repositories+sum.ScopeErrors)
	}
}

func TestCSVOneRowPerRepository(t *testing.T) {
	sum := fixtureSummary(t)
	rows, err := csv.NewReader(bytes.NewReader(render(t, loadFixture(t), "csv", Options{}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// A scope that could not be listed has a row too: a spreadsheet of a
	// run whose account was denied must not read as a clean account.
	if sum.ScopeErrors == 0 {
		t.Fatal("the fixture has no unreadable scope")
	}
	if len(rows) != sum.Repositories+sum.ScopeErrors+1 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("%d rows, want a header, one per repository and one per unreadable scope; header %v", len(rows), rows[0])
	}
	statusCol, ruleCol, reasonCol := 6, 7, 16
	drift, scopes := 0, 0
	for _, r := range rows[1:] {
		if len(r) != len(csvHeader) {
			t.Fatalf("row %v has %d cells", r, len(r))
		}
		if r[statusCol] == "drift" {
			drift++
		}
		if r[ruleCol] == RuleScopeUnreadable {
			scopes++
			if r[statusCol] != "error" || r[3] != "1/eu-west-1" || r[4] != "" || !strings.Contains(r[reasonCol], "could not be listed") {
				t.Errorf("scope row %v", r)
			}
		}
	}
	if drift != sum.Drift || scopes != sum.ScopeErrors {
		t.Fatalf("%d drift rows, %d scope rows; summary says %d, %d", drift, scopes, sum.Drift, sum.ScopeErrors)
	}
	for in, want := range map[string]string{"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0", "+1": "'+1", "-x": "'-x", "@SUM(1)": "'@SUM(1)", "app": "app", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOCSFComplianceFindings(t *testing.T) {
	sum := fixtureSummary(t)
	out := render(t, loadFixture(t), "ocsf", Options{})
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != sum.Repositories+sum.ScopeErrors {
		t.Fatalf("%d events, want one per repository (%d) and one per unreadable scope (%d)", len(lines), sum.Repositories, sum.ScopeErrors)
	}
	byCompliance := map[float64]int{}
	suppressed := 0
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line is not one JSON object: %v\n%s", err, l)
		}
		// Required by base_event, finding and compliance_finding.
		for _, k := range []string{"activity_id", "category_uid", "class_uid", "type_uid", "time", "severity_id", "metadata", "finding_info", "compliance"} {
			if _, ok := ev[k]; !ok {
				t.Fatalf("event lacks %s: %s", k, l)
			}
		}
		if ev["class_uid"] != float64(2003) || ev["category_uid"] != float64(2) || ev["type_uid"] != float64(200301) {
			t.Fatalf("class/category/type %v %v %v", ev["class_uid"], ev["category_uid"], ev["type_uid"])
		}
		md := ev["metadata"].(map[string]any)
		if md["version"] == "" || md["product"].(map[string]any)["name"] != "immutag" {
			t.Fatalf("metadata %v", md)
		}
		if ev["finding_info"].(map[string]any)["uid"] == "" {
			t.Fatal("finding_info.uid empty")
		}
		comp := ev["compliance"].(map[string]any)
		byCompliance[comp["status_id"].(float64)]++
		if ev["status_id"] == float64(3) {
			suppressed++
		}
		res := ev["resources"].([]any)[0].(map[string]any)
		if res["uid"] == "" || res["type"] == "" {
			t.Fatalf("resource %v", res)
		}
	}
	// Pass = compliant, Fail = drift + exempt (exempt is suppressed), Unknown = unreadable (repositories and scopes).
	if byCompliance[1] != sum.Compliant || byCompliance[3] != sum.Drift+sum.Exempt || byCompliance[0] != sum.Error+sum.ScopeErrors || suppressed != sum.Exempt {
		t.Fatalf("compliance statuses %v suppressed %d vs summary %+v", byCompliance, suppressed, sum)
	}
}

func TestMarkdownSummary(t *testing.T) {
	sum := fixtureSummary(t)
	out := string(render(t, loadFixture(t), "markdown", Options{}))
	for _, want := range []string{
		fmt.Sprintf("Drift found: %d of %d repositories", sum.Drift, sum.Repositories),
		fmt.Sprintf("| **total** | **%d** | **%d** | **%d** | **%d** | **%d** |", sum.Repositories, sum.Compliant, sum.Drift, sum.Exempt, sum.Error),
		fmt.Sprintf("### Drift and unreadable repositories (%d)", sum.Drift+sum.Error),
		"### Unreadable scopes", "`1/eu-west-1`", "&lt;AccessDenied&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<AccessDenied>") {
		t.Error("markdown passes raw HTML through")
	}
}

// A large estate: Markdown lists the first rows (drift first, then by name)
// and says how many more there are, holding only a bounded window.
func TestMarkdownCapsRowsInOrder(t *testing.T) {
	var fs []audit.Finding
	for i := 250; i > 0; i-- {
		st := audit.StatusDrift
		if i%5 == 0 {
			st = audit.StatusError
		}
		fs = append(fs, audit.Finding{ID: audit.FindingID("p", "s", fmt.Sprintf("r%03d", i)), Provider: "p", Scope: "s",
			Repository: fmt.Sprintf("r%03d", i), Status: st, Reason: "x"})
	}
	top, matched, err := topFindings(audit.SpoolOf(fs...), markdownRows, func(audit.Finding) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if matched != 250 || len(top) != markdownRows {
		t.Fatalf("matched %d top %d", matched, len(top))
	}
	for i := 1; i < len(top); i++ {
		if compareFinding(top[i], top[i-1]) < 0 {
			t.Fatalf("not sorted at %d: %s after %s", i, top[i].Repository, top[i-1].Repository)
		}
	}
	if top[0].Repository != "r001" || top[0].Status != audit.StatusDrift {
		t.Fatalf("first row %+v", top[0])
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	out := string(render(t, loadFixture(t), "html", Options{}))
	if strings.Contains(out, "<AccessDenied>") {
		t.Error("warning text not escaped")
	}
	if !strings.Contains(out, "&lt;AccessDenied&gt;") {
		t.Error("warning missing")
	}
	// Nothing is loaded from elsewhere: no src/href to a URL, no CDN, no imports.
	for _, re := range []string{`(?i)<script[^>]+src=`, `(?i)<link[^>]+href=`, `(?i)\b(src|href)="(https?:)?//`, `(?i)@import`, `(?i)url\(`} {
		if regexp.MustCompile(re).MatchString(out) {
			t.Errorf("html loads an external resource (%s)", re)
		}
	}
	if !strings.Contains(out, "<svg id=\"chart\"") || !strings.Contains(out, "id=\"findings-table\"") {
		t.Error("chart or findings table missing")
	}
}

func TestFixRunFormatsShowChanges(t *testing.T) {
	r := sampleReport(t, true)
	r.Run.Command = "fix"
	o := Options{FixView: true}
	if md := string(render(t, r, "markdown", o)); !strings.Contains(md, "### Changes (4)") || !strings.Contains(md, "planned") {
		t.Errorf("markdown fix view:\n%s", md)
	}
	if h := string(render(t, r, "html", o)); !strings.Contains(h, `id="changes-table"`) || strings.Count(h, `data-state="planned"`) != 4 {
		t.Errorf("html fix view lacks the 4 planned changes")
	}
	// The other formats still render a fix report.
	for _, f := range []string{"sarif", "junit", "csv", "ocsf", "json", "table"} {
		render(t, r, f, o)
	}
}

func TestLoadRejectsWhatIsNotAReport(t *testing.T) {
	good, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ body, want string }{
		"empty":          {"", "not an immutag JSON report"},
		"not-json":       {"hello", "not an immutag JSON report"},
		"array":          {"[]", "not an immutag JSON report"},
		"schema-2":       {strings.Replace(string(good), `"schema_version": 1`, `"schema_version": 2`, 1), "schema_version 2"},
		"no-findings":    {`{"schema_version":1,"tool":{"name":"immutag","version":"x"},"summary":{}}`, `no "findings"`},
		"other-tool":     {strings.Replace(string(good), `"name": "immutag"`, `"name": "trivy"`, 1), "tool.name"},
		"finding-no-id":  {strings.Replace(string(good), `"id": "imt-`, `"x": "imt-`, 1), "no id"},
		"truncated":      {string(good[:len(good)/2]), ""},
		"findings-types": {`{"schema_version":1,"tool":{"name":"immutag"},"summary":{},"findings":[1]}`, "findings: item 0"},
		// A hand-edited status would be counted as nothing: neither drift
		// for the gate nor an error. Fail closed, naming the finding.
		"unknown-status": {strings.Replace(string(good), `"status": "drift"`, `"status": "fine"`, 1), `status "fine" is not one of compliant, drift, exempt, error`},
		"empty-status":   {strings.Replace(string(good), `"status": "drift"`, `"status": ""`, 1), `status "" is not one of`},
		// A second findings array would be appended to the first: every
		// repository counted twice by diff, merge and the baseline.
		"findings-twice": {strings.Replace(string(good), `"schema_version": 1,`, `"schema_version": 1, "findings": [],`, 1), `"findings" appears twice`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := Load(strings.NewReader(tc.body))
			if err == nil {
				r.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file error %v does not name it", err)
	}
}

func TestLoadSkipsUnknownKeys(t *testing.T) {
	good, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(good), `"schema_version": 1,`, `"schema_version": 1, "future": {"a": [1, {"b": 2}]},`, 1)
	r, err := Load(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Findings.Len() != fixtureSummary(t).Repositories {
		t.Fatalf("findings %d", r.Findings.Len())
	}
}

// Above sortLimit the sorting formats stream in arrival order and still
// list every repository.
func TestLargeEstatesStreamUnsorted(t *testing.T) {
	saved := sortLimit
	sortLimit = 3
	t.Cleanup(func() { sortLimit = saved })
	r := loadFixture(t)
	// Reverse the fixture's sorted order, so arrival order differs from any sort.
	all := r.Findings.All()
	var repos []string
	rev := make([]audit.Finding, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		rev = append(rev, all[i])
		repos = append(repos, all[i].Repository)
	}
	r.Findings.Close()
	r.Findings = audit.SpoolOf(rev...)
	for _, format := range []string{"table", "html"} {
		out := string(render(t, r, format, Options{Verbose: true}))
		last := -1
		for _, name := range repos {
			i := strings.Index(out, ">"+name+"<")
			if format == "table" {
				i = strings.Index(out, "  "+name+" ")
			}
			if i < 0 {
				t.Fatalf("%s lacks %s", format, name)
			}
			if i < last {
				t.Fatalf("%s: %s is not in arrival order", format, name)
			}
			last = i
		}
	}
}

// With colour on, the STATUS column still lines up: every row's MODE
// column starts at the same visible offset as the header's.
func TestTableColourAlignment(t *testing.T) {
	r := sampleReport(t, false)
	var b strings.Builder
	if err := Table(&b, r, Options{Color: true, Verbose: true}); err != nil {
		t.Fatal(err)
	}
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	want := -1
	for _, line := range strings.Split(b.String(), "\n") {
		plain := ansi.ReplaceAllString(line, "")
		if !strings.Contains(plain, "compliant") && !strings.Contains(plain, "drift") && !strings.HasPrefix(plain, "PROVIDER") {
			continue
		}
		i := strings.Index(plain, "MODE")
		if i < 0 {
			for _, m := range []string{"immutable", "partial", "mutable", "unknown", "unsupported"} {
				if j := strings.Index(plain, "  "+m); j >= 0 && (i < 0 || j < i) {
					i = j + 2
				}
			}
		}
		if i < 0 {
			continue
		}
		if want < 0 {
			want = i
		} else if i != want {
			t.Fatalf("column starts at %d, header at %d:\n%s", i, want, ansi.ReplaceAllString(b.String(), ""))
		}
	}
	if want < 0 {
		t.Fatal("no header found")
	}
}
