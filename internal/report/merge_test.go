package report

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

func writeShard(t *testing.T, dir string, i, n int, names []string, changes []string) string {
	t.Helper()
	dry := false
	r := &audit.Report{
		SchemaVersion: audit.SchemaVersion,
		Tool:          audit.Tool{Name: "immutag", Version: "test"},
		Run: audit.Run{ID: "r", StartedAt: time.Unix(100, 0).UTC(), FinishedAt: time.Unix(200+int64(i), 0).UTC(), Command: "fix",
			ConfigSHA256: strings.Repeat("a", 64), DryRun: &dry, Shard: &audit.Shard{Index: i, Count: n}},
		Summary:  audit.Summary{ByProvider: map[string]audit.Counts{"p": {}}},
		Scopes:   []audit.ScopeResult{{Provider: "p", Kind: "acr", Scope: "s", Status: "ok", Repositories: len(names)}},
		Warnings: []providers.Warning{{Provider: "p", Scope: "s", Code: "c", Message: "same in every shard"}},
		Findings: audit.NewSpool[audit.Finding](),
		Changes:  audit.NewSpool[audit.ChangeRecord](),
	}
	defer r.Close()
	for _, n := range names {
		_ = r.Findings.Add(audit.Finding{ID: audit.FindingID("p", "s", n), Provider: "p", Kind: "acr", Scope: "s", Repository: n, Status: audit.StatusDrift, MutablePatterns: []string{}})
	}
	for _, c := range changes {
		_ = r.Changes.Add(audit.ChangeRecord{Provider: "p", Kind: "acr", Scope: "s", Repository: c, State: "applied", Verified: true})
	}
	path := filepath.Join(dir, "shard.json")
	path = strings.TrimSuffix(path, ".json") + "-" + string(rune('0'+i)) + ".json"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Render(f, r, "json", Options{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// Shards in order are merged as streams; a shard out of order (edited by
// hand, say) is still merged into the stable order; changes of fix runs
// are joined in order and scopes split between shards add up.
func TestMergeOrdersFindingsAndChanges(t *testing.T) {
	dir := t.TempDir()
	a := writeShard(t, dir, 0, 2, []string{"b", "d", "f"}, []string{"d"})
	b := writeShard(t, dir, 1, 2, []string{"e", "a", "c"}, []string{"c", "a"}) // out of order
	r, problems, err := Merge([]string{a, b})
	if err != nil || len(problems) != 0 {
		t.Fatalf("%v %v", err, problems)
	}
	defer r.Close()
	var got []string
	_ = r.Findings.Each(func(f audit.Finding) error { got = append(got, f.Repository); return nil })
	if !slices.Equal(got, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Errorf("findings %v", got)
	}
	var ch []string
	_ = r.Changes.Each(func(c audit.ChangeRecord) error { ch = append(ch, c.Repository); return nil })
	if !slices.Equal(ch, []string{"a", "c", "d"}) {
		t.Errorf("changes %v", ch)
	}
	if r.Summary.Drift != 6 || r.Summary.ByProvider["p"].Drift != 6 || len(r.Scopes) != 1 || r.Scopes[0].Repositories != 6 || len(r.Warnings) != 1 {
		t.Errorf("summary %+v scopes %+v warnings %d", r.Summary, r.Scopes, len(r.Warnings))
	}
	if r.Run.MergedShards != 2 || r.Run.Shard != nil || !r.Run.FinishedAt.Equal(time.Unix(201, 0)) {
		t.Errorf("run %+v", r.Run)
	}
}

// A shard report edited (or written by something else) to claim an index
// outside its count, or no count at all, is refused naming the file: it
// would otherwise be merged while every real shard is called missing, or
// with count 0, merged as complete.
func TestMergeRefusesImpossibleShards(t *testing.T) {
	for _, sh := range [][2]int{{5, 2}, {-1, 0}, {0, 0}, {-1, 2}} {
		dir := t.TempDir()
		p := writeShard(t, dir, 0, 2, []string{"a"}, nil)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(b), `"shard": {
      "index": 0,
      "count": 2
    }`, fmt.Sprintf(`"shard": {"index": %d, "count": %d}`, sh[0], sh[1]), 1)
		if edited == string(b) {
			t.Fatalf("the shard member was not found in:\n%.600s", b)
		}
		if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
			t.Fatal(err)
		}
		r, _, err := Merge([]string{p})
		if err == nil {
			r.Close()
			t.Fatalf("shard %d/%d merged", sh[0], sh[1])
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "run.shard") {
			t.Errorf("shard %d/%d: error %q does not name the file and run.shard", sh[0], sh[1], err)
		}
	}
}

// A finding whose status is not one of the four is refused, as by Load:
// merge counts the summary and --fail-on-drift from it.
func TestMergeRefusesUnknownStatus(t *testing.T) {
	dir := t.TempDir()
	a := writeShard(t, dir, 0, 2, []string{"a"}, nil)
	b := writeShard(t, dir, 1, 2, []string{"b"}, nil)
	body, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(strings.Replace(string(body), `"status": "drift"`, `"status": "ok"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, err := Merge([]string{a, b})
	if err == nil {
		r.Close()
		t.Fatal("a finding with status ok was merged")
	}
	if !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), `status "ok"`) {
		t.Errorf("error %q does not name the file and the status", err)
	}
}

// A named pipe given as a shard fails at once instead of blocking until a
// writer appears (report render and diff already refuse one).
func TestMergeRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeShard(t, dir, 0, 2, []string{"a"}, nil)
	fifo := filepath.Join(dir, "shard-1.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		r, _, err := Merge([]string{a, fifo})
		if r != nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("error %v does not say %s is a named pipe", err, fifo)
		}
	case <-time.After(30 * time.Second):
		// Unblock the open so the goroutine ends with the test.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("Merge blocked on a named pipe")
	}
}
