package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// Diff categories, in output order (contract of `report diff -o json`).
const (
	DiffNewDrift      = "new_drift"            // drifts now, did not drift before (or is new)
	DiffStillDrifting = "still_drifting"       // drifted before and still does
	DiffResolved      = "resolved"             // drifted before, compliant or exempt now
	DiffNewRepos      = "new_repositories"     // not in the old report
	DiffRemovedRepos  = "removed_repositories" // gone from a scope the new run read completely
	DiffNotRead       = "not_read"             // unreadable now, or its scope or provider was not read
)

// DiffCategories lists the categories in output order.
var DiffCategories = []string{DiffNewDrift, DiffStillDrifting, DiffResolved, DiffNewRepos, DiffRemovedRepos, DiffNotRead}

var diffTitle = map[string]string{
	DiffNewDrift: "New drift", DiffStillDrifting: "Still drifting", DiffResolved: "Resolved",
	DiffNewRepos: "New repositories", DiffRemovedRepos: "Removed repositories", DiffNotRead: "Not read in the new report",
}

// DiffFormats are the formats `report diff` renders.
var DiffFormats = []string{"table", "json", "markdown"}

// DiffEntry is one repository in one diff category.
type DiffEntry struct {
	ID         string         `json:"id"`
	Provider   string         `json:"provider"`
	Kind       providers.Kind `json:"kind"`
	Scope      string         `json:"scope"`
	Repository string         `json:"repository"`
	URI        string         `json:"uri"`
	OldStatus  audit.Status   `json:"old_status,omitempty"`
	NewStatus  audit.Status   `json:"new_status,omitempty"`
	Rule       string         `json:"rule"`
	Reason     string         `json:"reason"`
}

// Diff compares two reports by finding id (stable per provider, scope and
// repository). It keeps an index of each report's ids and statuses, the
// least a join needs; the findings themselves are re-read from the spools
// once per category, so the entries are never all in memory.
type Diff struct {
	Old, New *audit.Report
	// Counts per category.
	Counts map[string]int

	oldIdx, newIdx map[string]audit.Status
	newScopeErr    map[[2]string]bool
	newProviders   map[string]bool
}

// NewDiff indexes both reports and counts every category.
func NewDiff(old, cur *audit.Report) (*Diff, error) {
	d := &Diff{Old: old, New: cur, Counts: map[string]int{}, newScopeErr: map[[2]string]bool{}, newProviders: map[string]bool{}}
	var err error
	if d.oldIdx, err = index(old); err != nil {
		return nil, fmt.Errorf("old report: %w", err)
	}
	if d.newIdx, err = index(cur); err != nil {
		return nil, fmt.Errorf("new report: %w", err)
	}
	for _, s := range cur.Scopes {
		if s.Status != "ok" {
			d.newScopeErr[[2]string{s.Provider, s.Scope}] = true
		}
	}
	for p := range cur.Summary.ByProvider {
		d.newProviders[p] = true
	}
	for _, c := range DiffCategories {
		n := 0
		if err := d.Each(c, func(DiffEntry) error { n++; return nil }); err != nil {
			return nil, err
		}
		d.Counts[c] = n
	}
	return d, nil
}

func index(r *audit.Report) (map[string]audit.Status, error) {
	idx := make(map[string]audit.Status, r.Findings.Len())
	err := r.Findings.Each(func(f audit.Finding) error {
		idx[f.ID] = f.Status
		return nil
	})
	return idx, err
}

func entryOf(f audit.Finding) DiffEntry {
	return DiffEntry{ID: f.ID, Provider: f.Provider, Kind: f.Kind, Scope: f.Scope, Repository: f.Repository,
		URI: f.URI, Rule: f.Rule, Reason: f.Reason}
}

// notReadNow says whether the new run could not have seen this repository.
func (d *Diff) notReadNow(f audit.Finding) bool {
	return !d.newProviders[f.Provider] || d.newScopeErr[[2]string{f.Provider, f.Scope}] || d.newScopeErr[[2]string{f.Provider, "*"}]
}

// Each calls fn for every entry of one category, in report order.
func (d *Diff) Each(category string, fn func(DiffEntry) error) error {
	switch category {
	case DiffNewDrift, DiffStillDrifting, DiffResolved, DiffNewRepos:
		return d.New.Findings.Each(func(f audit.Finding) error {
			old, seen := d.oldIdx[f.ID]
			var in bool
			switch category {
			case DiffNewDrift:
				in = f.Status == audit.StatusDrift && (!seen || old != audit.StatusDrift)
			case DiffStillDrifting:
				in = f.Status == audit.StatusDrift && seen && old == audit.StatusDrift
			case DiffResolved:
				in = seen && old == audit.StatusDrift && (f.Status == audit.StatusCompliant || f.Status == audit.StatusExempt)
			case DiffNewRepos:
				in = !seen
			}
			if !in {
				return nil
			}
			e := entryOf(f)
			e.NewStatus = f.Status
			if seen {
				e.OldStatus = old
			}
			return fn(e)
		})
	case DiffRemovedRepos:
		return d.Old.Findings.Each(func(f audit.Finding) error {
			if _, ok := d.newIdx[f.ID]; ok || d.notReadNow(f) {
				return nil
			}
			e := entryOf(f)
			e.OldStatus = f.Status
			return fn(e)
		})
	case DiffNotRead:
		err := d.New.Findings.Each(func(f audit.Finding) error {
			if f.Status != audit.StatusError {
				return nil
			}
			e := entryOf(f)
			e.NewStatus = f.Status
			e.OldStatus = d.oldIdx[f.ID]
			return fn(e)
		})
		if err != nil {
			return err
		}
		return d.Old.Findings.Each(func(f audit.Finding) error {
			if _, ok := d.newIdx[f.ID]; ok || !d.notReadNow(f) {
				return nil
			}
			e := entryOf(f)
			e.OldStatus = f.Status
			e.Reason = "not in the new report: its provider or scope was not read"
			return fn(e)
		})
	}
	return fmt.Errorf("unknown diff category %q", category)
}

// eachSorted is Each in provider, scope, repository order for categories of
// at most sortLimit entries (the human formats), arrival order above.
func (d *Diff) eachSorted(category string, fn func(DiffEntry) error) error {
	if d.Counts[category] > sortLimit {
		return d.Each(category, fn)
	}
	var all []DiffEntry
	if err := d.Each(category, func(e DiffEntry) error { all = append(all, e); return nil }); err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return a.Repository < b.Repository
	})
	for _, e := range all {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

type diffRun struct {
	RunID        string    `json:"run_id"`
	Command      string    `json:"command"`
	FinishedAt   time.Time `json:"finished_at"`
	ConfigSHA256 string    `json:"config_sha256"`
	Repositories int       `json:"repositories"`
	Drift        int       `json:"drift"`
}

func runOf(r *audit.Report) diffRun {
	return diffRun{RunID: r.Run.ID, Command: r.Run.Command, FinishedAt: r.Run.FinishedAt, ConfigSHA256: r.Run.ConfigSHA256,
		Repositories: r.Summary.Repositories, Drift: r.Summary.Drift}
}

// RenderDiff writes d in one of DiffFormats.
func RenderDiff(w io.Writer, d *Diff, format string) error {
	switch format {
	case "json":
		return diffJSON(w, d)
	case "table":
		return diffTable(w, d)
	case "markdown":
		return diffMarkdown(w, d)
	}
	return fmt.Errorf("unknown diff format %q (want one of %s)", format, strings.Join(DiffFormats, ", "))
}

func diffJSON(w io.Writer, d *Diff) error {
	j := newJSONWriter(w)
	j.Open("", '{')
	j.Field("schema_version", 1)
	j.Field("old", runOf(d.Old))
	j.Field("new", runOf(d.New))
	counts := make(map[string]int, len(DiffCategories))
	for _, c := range DiffCategories {
		counts[c] = d.Counts[c]
	}
	j.Field("summary", counts)
	for _, c := range DiffCategories {
		j.Open(c, '[')
		if err := d.Each(c, func(e DiffEntry) error { j.Field("", e); return j.err }); err != nil {
			return err
		}
		j.Close(']')
	}
	j.Close('}')
	return j.Finish()
}

func diffSummaryLine(d *Diff) string {
	parts := make([]string, len(DiffCategories))
	for i, c := range DiffCategories {
		parts[i] = fmt.Sprintf("%s %d", strings.ToLower(diffTitle[c]), d.Counts[c])
	}
	return strings.Join(parts, ", ")
}

func statusOrDash(s audit.Status) string {
	if s == "" {
		return "-"
	}
	return string(s)
}

func diffTable(w io.Writer, d *Diff) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "old: run %s, %s, %d repositories, %d drift\n", oneLine(d.Old.Run.ID), d.Old.Run.FinishedAt.UTC().Format(time.RFC3339), d.Old.Summary.Repositories, d.Old.Summary.Drift)
	fmt.Fprintf(bw, "new: run %s, %s, %d repositories, %d drift\n", oneLine(d.New.Run.ID), d.New.Run.FinishedAt.UTC().Format(time.RFC3339), d.New.Summary.Repositories, d.New.Summary.Drift)
	for _, c := range DiffCategories {
		if d.Counts[c] == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s (%d)\n", strings.ToUpper(diffTitle[c]), d.Counts[c])
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "PROVIDER\tSCOPE\tREPOSITORY\tOLD\tNEW\tDETAIL\n")
		rows := 0
		err := d.eachSorted(c, func(e DiffEntry) error {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(e.Provider), oneLine(e.Scope), oneLine(e.Repository),
				oneLine(statusOrDash(e.OldStatus)), oneLine(statusOrDash(e.NewStatus)), oneLine(e.Reason))
			rows++
			if rows%tableBlock == 0 {
				return tw.Flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(bw, "\n%s\n", diffSummaryLine(d))
	return bw.Flush()
}

func diffMarkdown(w io.Writer, d *Diff) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	verdict := "no new drift"
	if n := d.Counts[DiffNewDrift]; n > 0 {
		verdict = fmt.Sprintf("%d repositories drift that did not before", n)
	}
	fmt.Fprintf(bw, "## immutag report diff: %s\n\n", verdict)
	bw.WriteString("| | count |\n| --- | ---: |\n")
	for _, c := range DiffCategories {
		fmt.Fprintf(bw, "| %s | %d |\n", diffTitle[c], d.Counts[c])
	}
	for _, c := range DiffCategories {
		if d.Counts[c] == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s (%d)\n\n", diffTitle[c], d.Counts[c])
		bw.WriteString("| provider | scope | repository | old | new | detail |\n| --- | --- | --- | --- | --- | --- |\n")
		n := 0
		err := d.eachSorted(c, func(e DiffEntry) error {
			n++
			if n <= markdownRows {
				fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", mdCell(e.Provider), mdCode(e.Scope), mdCode(e.Repository),
					mdCell(statusOrDash(e.OldStatus)), mdCell(statusOrDash(e.NewStatus)), mdCell(e.Reason))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n > markdownRows {
			fmt.Fprintf(bw, "\n… and %d more.\n", n-markdownRows)
		}
	}
	fmt.Fprintf(bw, "\n<sub>old run %s (%s) · new run %s (%s)</sub>\n", mdCell(d.Old.Run.ID), d.Old.Run.FinishedAt.UTC().Format(time.RFC3339),
		mdCell(d.New.Run.ID), d.New.Run.FinishedAt.UTC().Format(time.RFC3339))
	return bw.Flush()
}

// Baseline is the set of finding ids that drift in an earlier report; the
// CI gate fails only on drift outside it.
type Baseline map[string]struct{}

// NewBaseline collects the drifting finding ids of r (memory grows with
// the drift of the baseline only).
func NewBaseline(r *audit.Report) (Baseline, error) {
	b := Baseline{}
	err := r.Findings.Each(func(f audit.Finding) error {
		if f.Status == audit.StatusDrift {
			b[f.ID] = struct{}{}
		}
		return nil
	})
	return b, err
}

// NewDrift counts the findings of r that drift and did not drift in b.
func (b Baseline) NewDrift(r *audit.Report) (int, error) {
	n := 0
	err := r.Findings.Each(func(f audit.Finding) error {
		if _, ok := b[f.ID]; f.Status == audit.StatusDrift && !ok {
			n++
		}
		return nil
	})
	return n, err
}
