package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
)

type repoState struct {
	provider, scope, name string
	status                audit.Status
}

// reportOf builds a report the way the engine does: ids from FindingID,
// summary counted from the findings.
func reportOf(t *testing.T, runID string, states []repoState, scopeErrors ...[2]string) *audit.Report {
	t.Helper()
	r := &audit.Report{SchemaVersion: 1, Tool: audit.Tool{Name: "immutag", Version: "test"},
		Run:      audit.Run{ID: runID, Command: "audit", StartedAt: now, FinishedAt: now.Add(time.Second)},
		Summary:  audit.Summary{ByProvider: map[string]audit.Counts{}},
		Findings: audit.NewSpool[audit.Finding]()}
	rule := map[audit.Status]string{audit.StatusCompliant: audit.RuleImmutable, audit.StatusDrift: audit.RuleMutable,
		audit.StatusExempt: audit.RuleMutable, audit.StatusError: audit.RuleUnreadable}
	for _, s := range states {
		f := audit.Finding{ID: audit.FindingID(s.provider, s.scope, s.name), Rule: rule[s.status], Provider: s.provider,
			Kind: "ecr", Scope: s.scope, Repository: s.name, URI: "reg/" + s.name, Status: s.status, Reason: string(s.status)}
		if err := r.Findings.Add(f); err != nil {
			t.Fatal(err)
		}
		c := r.Summary.ByProvider[s.provider]
		c.Repositories++
		r.Summary.Repositories++
		switch s.status {
		case audit.StatusDrift:
			c.Drift++
			r.Summary.Drift++
		case audit.StatusCompliant:
			c.Compliant++
			r.Summary.Compliant++
		case audit.StatusError:
			c.Error++
			r.Summary.Error++
		case audit.StatusExempt:
			c.Exempt++
			r.Summary.Exempt++
		}
		r.Summary.ByProvider[s.provider] = c
	}
	for _, se := range scopeErrors {
		r.Scopes = append(r.Scopes, audit.ScopeResult{Provider: se[0], Scope: se[1], Status: "error", Error: "denied"})
		r.Summary.ScopeErrors++
		if _, ok := r.Summary.ByProvider[se[0]]; !ok {
			r.Summary.ByProvider[se[0]] = audit.Counts{}
		}
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Week 1 -> week 2: repositories appear, vanish, start drifting, recover,
// keep drifting, become unreadable, or sit in a scope that could not be read.
func diffPair(t *testing.T) (*audit.Report, *audit.Report) {
	old := reportOf(t, "week1", []repoState{
		{"aws", "a/us-east-1", "steady-ok", audit.StatusCompliant},
		{"aws", "a/us-east-1", "starts-drifting", audit.StatusCompliant},
		{"aws", "a/us-east-1", "recovers", audit.StatusDrift},
		{"aws", "a/us-east-1", "exempted", audit.StatusDrift},
		{"aws", "a/us-east-1", "keeps-drifting", audit.StatusDrift},
		{"aws", "a/us-east-1", "vanishes", audit.StatusDrift},
		{"aws", "a/us-east-1", "goes-dark", audit.StatusDrift},
		{"aws", "a/eu-west-1", "behind-denied-scope", audit.StatusDrift},
		{"hub", "acme", "exemption-expires", audit.StatusExempt},
	})
	cur := reportOf(t, "week2", []repoState{
		{"aws", "a/us-east-1", "steady-ok", audit.StatusCompliant},
		{"aws", "a/us-east-1", "starts-drifting", audit.StatusDrift},
		{"aws", "a/us-east-1", "recovers", audit.StatusCompliant},
		{"aws", "a/us-east-1", "exempted", audit.StatusExempt},
		{"aws", "a/us-east-1", "keeps-drifting", audit.StatusDrift},
		{"aws", "a/us-east-1", "goes-dark", audit.StatusError},
		{"aws", "a/us-east-1", "appears-drifting", audit.StatusDrift},
		{"aws", "a/us-east-1", "appears-ok", audit.StatusCompliant},
		{"hub", "acme", "exemption-expires", audit.StatusDrift},
	}, [2]string{"aws", "a/eu-west-1"})
	return old, cur
}

func names(t *testing.T, d *Diff, cat string) []string {
	t.Helper()
	var out []string
	if err := d.Each(cat, func(e DiffEntry) error { out = append(out, e.Repository); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestDiffCategories(t *testing.T) {
	old, cur := diffPair(t)
	d, err := NewDiff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		DiffNewDrift:      {"appears-drifting", "exemption-expires", "starts-drifting"},
		DiffStillDrifting: {"keeps-drifting"},
		DiffResolved:      {"exempted", "recovers"},
		DiffNewRepos:      {"appears-drifting", "appears-ok"},
		DiffRemovedRepos:  {"vanishes"},
		DiffNotRead:       {"behind-denied-scope", "goes-dark"},
	}
	for _, c := range DiffCategories {
		got := names(t, d, c)
		if strings.Join(got, ",") != strings.Join(want[c], ",") {
			t.Errorf("%s = %v, want %v", c, got, want[c])
		}
		if d.Counts[c] != len(want[c]) {
			t.Errorf("count %s = %d", c, d.Counts[c])
		}
	}
	// Swapping the reports swaps appear/vanish; a report against itself has no change.
	same, err := NewDiff(cur, cur)
	if err != nil {
		t.Fatal(err)
	}
	if same.Counts[DiffNewDrift] != 0 || same.Counts[DiffResolved] != 0 || same.Counts[DiffNewRepos] != 0 || same.Counts[DiffRemovedRepos] != 0 {
		t.Fatalf("self diff %v", same.Counts)
	}
	if same.Counts[DiffStillDrifting] != cur.Summary.Drift {
		t.Fatalf("self diff still drifting %d, want %d", same.Counts[DiffStillDrifting], cur.Summary.Drift)
	}
}

func TestDiffFormats(t *testing.T) {
	old, cur := diffPair(t)
	d, err := NewDiff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range DiffFormats {
		var buf bytes.Buffer
		if err := RenderDiff(&buf, d, f); err != nil {
			t.Fatal(err)
		}
		ext := map[string]string{"table": "txt", "json": "json", "markdown": "md"}[f]
		checkGolden(t, "diff."+ext, buf.Bytes())
		if f == "json" {
			var doc map[string]any
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("diff json: %v", err)
			}
			for _, c := range DiffCategories {
				arr, ok := doc[c].([]any)
				if !ok || len(arr) != d.Counts[c] || doc["summary"].(map[string]any)[c] != float64(d.Counts[c]) {
					t.Errorf("json %s: %v (count %d)", c, doc[c], d.Counts[c])
				}
			}
		}
	}
	if err := RenderDiff(&bytes.Buffer{}, d, "html"); err == nil {
		t.Fatal("diff accepted an unsupported format")
	}
}

func TestBaselineCountsOnlyNewDrift(t *testing.T) {
	old, cur := diffPair(t)
	b, err := NewBaseline(old)
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.NewDrift(cur)
	if err != nil {
		t.Fatal(err)
	}
	// starts-drifting, appears-drifting, exemption-expires: drift now, not drift before.
	if n != 3 {
		t.Fatalf("new drift %d, want 3", n)
	}
	if n, _ := b.NewDrift(old); n != 0 {
		t.Fatalf("a report against its own baseline has %d new drift", n)
	}
}

func TestJUnitSurvivesControlCharacters(t *testing.T) {
	r := reportOf(t, "x", []repoState{{"aws", "s", "r", audit.StatusError}})
	fs := r.Findings.All()
	fs[0].Reason = "broken \x00\x1b[31m ]]> <tag> & \"q\""
	r.Findings = audit.SpoolOf(fs...)
	var buf bytes.Buffer
	if err := JUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("junit with control characters is not XML: %v\n%q", err, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "]]]]><![CDATA[>") {
		t.Fatalf("CDATA terminator not split:\n%s", buf.String())
	}
}
