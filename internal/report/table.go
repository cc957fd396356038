package report

import (
	"github.com/immutag/immutag/internal/redact"

	"cmp"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/immutag/immutag/internal/audit"
)

// tableBlock bounds how many rows tabwriter buffers: columns align within a
// block, and memory stays flat for large estates.
const tableBlock = 500

var statusColor = map[audit.Status]string{
	audit.StatusCompliant: "\x1b[32m",
	audit.StatusDrift:     "\x1b[31m",
	audit.StatusExempt:    "\x1b[36m",
	audit.StatusError:     "\x1b[33m",
}

func paint(on bool, s audit.Status) string {
	if !on {
		return string(s)
	}
	return statusColor[s] + string(s) + "\x1b[0m"
}

// Table writes a human-readable report: findings, changes, scopes with
// errors, warnings and a summary line per provider.
func Table(w io.Writer, r *audit.Report, o Options) error {
	if !o.FixView {
		if err := findingsTable(w, r, o); err != nil {
			return err
		}
	}
	return tableTail(w, r, o)
}

// sortLimit is the largest estate whose table rows are sorted; above it rows
// stream in arrival order so memory stays flat. A variable for tests.
var sortLimit = 10000

func eachSorted(s *audit.Spool[audit.Finding], fn func(audit.Finding) error) error {
	return s.EachSorted(sortLimit, func(a, b audit.Finding) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Repository, b.Repository))
	}, fn)
}

func findingsTable(w io.Writer, r *audit.Report, o Options) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	status := "STATUS"
	if o.Color {
		// tabwriter counts the bytes of colour codes as width: give the
		// header cell codes of the same length as a coloured status
		// (default colour, then reset) so the column lines up.
		status = "\x1b[39m" + status + "\x1b[0m"
	}
	header := "PROVIDER\tSCOPE\tREPOSITORY\t" + status + "\tMODE\tDETAIL\n"
	fmt.Fprint(tw, header)
	rows, hidden := 0, 0
	total := r.Findings.Len() // Len locks the spool; Each holds that lock while it calls back.
	err := eachSorted(r.Findings, func(f audit.Finding) error {
		if f.Status == audit.StatusCompliant && !o.Verbose && total > 200 {
			hidden++
			return nil
		}
		detail := f.Reason
		if f.Exemption != nil {
			detail = "exempt: " + f.Exemption.Reason
			if f.Exemption.Expires != "" {
				detail += " (until " + f.Exemption.Expires + ")"
			}
		}
		mode := string(f.Mode)
		if f.Native != "" {
			mode += " (" + f.Native + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(f.Provider), oneLine(f.Scope), oneLine(f.Repository), paint(o.Color, f.Status), oneLine(mode), oneLine(detail))
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
	if rows == 0 && hidden == 0 {
		fmt.Fprintln(w, "(no repositories found)")
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d compliant repositories not listed; use --verbose or -o json)\n", hidden)
	}
	return nil
}

func tableTail(w io.Writer, r *audit.Report, o Options) error {
	var tw *tabwriter.Writer
	if o.FixView && (r.Changes == nil || r.Changes.Len() == 0) {
		fmt.Fprintln(w, "no changes: nothing that drifts can be fixed")
	}
	if r.Changes != nil && r.Changes.Len() > 0 {
		if !o.FixView {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "CHANGES")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "PROVIDER\tSCOPE\tREPOSITORY\tSTATE\tFROM\tTO\tACTION\n")
		err := r.Changes.Each(func(c audit.ChangeRecord) error {
			repo := c.Repository
			if c.Target != "" {
				repo += " [" + c.Target + "]"
			}
			state := c.State
			if c.Error != "" {
				state += ": " + c.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(c.Provider), oneLine(c.Scope), oneLine(repo), oneLine(state), oneLine(imm(c.From)), oneLine(imm(c.To)), oneLine(c.Action))
			return nil
		})
		if err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var bad []audit.ScopeResult
	for _, s := range r.Scopes {
		if s.Status != "ok" {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "UNREADABLE SCOPES (their repositories are not in this report)")
		for _, s := range bad {
			fmt.Fprintf(w, "  %s %s: %s\n", oneLine(s.Provider), oneLine(s.Scope), oneLine(s.Error))
		}
	}
	if len(r.Overwrites) > 0 {
		overwritesTable(w, r.Overwrites)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "WARNINGS")
		for _, wr := range r.Warnings {
			scope := wr.Scope
			if scope != "" {
				scope = " " + scope
			}
			fmt.Fprintf(w, "  %s%s [%s]: %s\n", oneLine(wr.Provider), oneLine(scope), oneLine(wr.Code), oneLine(wr.Message))
		}
	}
	fmt.Fprintln(w)
	names := make([]string, 0, len(r.Summary.ByProvider))
	for n := range r.Summary.ByProvider {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := r.Summary.ByProvider[n]
		fmt.Fprintf(w, "%s: %s\n", oneLine(n), counts(c))
	}
	fmt.Fprintf(w, "total: %s", counts(r.Summary.Counts))
	if r.Summary.ScopeErrors > 0 {
		fmt.Fprintf(w, ", %d unreadable scope(s)", r.Summary.ScopeErrors)
	}
	fmt.Fprintln(w)
	return nil
}

// overwritesTable lists the tags audit --record saw naming another image
// than the ledger had, so that a table reader sees which tags moved, not
// only how many; one in a repository immutable now is an incident.
func overwritesTable(w io.Writer, ows []audit.Overwrite) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "OVERWRITES (tags naming another image than the ledger recorded; immutag history --moved lists them all)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "PROVIDER\tSCOPE\tREPOSITORY:TAG\tPREVIOUS DIGEST\tLAST SEEN\tNEW DIGEST\tSEEN\tIMMUTABLE NOW\n")
	for i, o := range ows {
		imm := "no"
		if o.Immutable {
			imm = "yes: incident"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s:%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(o.Provider), oneLine(o.Scope), oneLine(o.Repository), oneLine(o.Tag),
			oneLine(o.Previous), o.LastSeenAt.UTC().Format(time.RFC3339), oneLine(o.Digest), o.SeenAt.UTC().Format(time.RFC3339), imm)
		if (i+1)%tableBlock == 0 {
			tw.Flush()
		}
	}
	tw.Flush()
}

func counts(c audit.Counts) string {
	return fmt.Sprintf("%s, %d compliant, %d drift, %d exempt, %d error", Count(c.Repositories, "repository", "repositories"),
		c.Compliant, c.Drift, c.Exempt, c.Error)
}

func imm(i interface{ String() string }) string { return i.String() }

// oneLine makes a registry-provided string safe for one terminal line or
// table cell: control characters (ESC sequences, BEL, CR, tabs and
// newlines that would split a row) and bidirectional overrides are shown
// escaped, never interpreted.
func oneLine(s string) string {
	return redact.Printable(s)
}

// Count is "1 repository" or "2 repositories".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
