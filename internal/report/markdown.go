package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
)

// markdownRows caps the repositories a Markdown summary lists: it is meant
// for a PR comment or $GITHUB_STEP_SUMMARY, which have size limits, and the
// full list is in the other formats.
const markdownRows = 50

// statusRank orders what needs attention first.
func statusRank(s audit.Status) int {
	switch s {
	case audit.StatusDrift:
		return 0
	case audit.StatusError:
		return 1
	case audit.StatusExempt:
		return 2
	}
	return 3
}

// compareFinding orders findings worst status first, then by location.
func compareFinding(a, b audit.Finding) int {
	return cmp.Or(cmp.Compare(statusRank(a.Status), statusRank(b.Status)), cmp.Compare(a.Provider, b.Provider),
		cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Repository, b.Repository))
}

// topFindings returns the first n findings (by compareFinding) that keep
// returns true for, with memory bounded by 2n however many there are.
func topFindings(s *audit.Spool[audit.Finding], n int, keep func(audit.Finding) bool) (top []audit.Finding, matched int, err error) {
	trim := func() {
		slices.SortStableFunc(top, compareFinding)
		if len(top) > n {
			top = top[:n]
		}
	}
	err = s.Each(func(f audit.Finding) error {
		if !keep(f) {
			return nil
		}
		matched++
		top = append(top, f)
		if len(top) >= 2*n {
			trim()
		}
		return nil
	})
	trim()
	return top, matched, err
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, ">", "&gt;")
}

// mdCode wraps s in a code span that nothing in s can close early: the
// fence is one backtick longer than the longest run of backticks inside
// (a name with two backticks used to end the span and let raw HTML
// through), padded with spaces when s starts or ends with a backtick.
func mdCode(s string) string {
	s = strings.ReplaceAll(oneLine(s), "|", `\|`)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdText escapes Markdown syntax in free text such as run.command (which a
// saved report supplies): emphasis, links, images, HTML, code and headings
// all stay literal.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '!', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headline is the one-line verdict shared by Markdown and HTML.
func headline(r *audit.Report) string {
	s := r.Summary
	switch {
	case s.Drift > 0:
		return fmt.Sprintf("Drift found: %d of %s let a tag be overwritten", s.Drift, Count(s.Repositories, "repository", "repositories"))
	case s.Incomplete():
		return fmt.Sprintf("Incomplete: no drift found, but %s and %s could not be read", Count(s.Error, "repository", "repositories"), Count(s.ScopeErrors, "scope", "scopes"))
	default:
		return fmt.Sprintf("Clean: all %s immutable tags or are exempt", Count(s.Repositories, "repository has", "repositories have"))
	}
}

// Markdown writes a short summary for PR comments and $GITHUB_STEP_SUMMARY:
// the verdict, counts per provider, the first repositories that drift or
// could not be read, unreadable scopes, and changes for fix runs.
func Markdown(w io.Writer, r *audit.Report, o Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	s := r.Summary
	fmt.Fprintf(bw, "## immutag %s: %s\n\n", mdText(r.Run.Command), headline(r))
	bw.WriteString("| provider | repositories | compliant | drift | exempt | error |\n")
	bw.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range providerNames(r) {
		c := s.ByProvider[n]
		fmt.Fprintf(bw, "| %s | %d | %d | %d | %d | %d |\n", mdCell(n), c.Repositories, c.Compliant, c.Drift, c.Exempt, c.Error)
	}
	fmt.Fprintf(bw, "| **total** | **%d** | **%d** | **%d** | **%d** | **%d** |\n", s.Repositories, s.Compliant, s.Drift, s.Exempt, s.Error)

	top, matched, err := topFindings(r.Findings, markdownRows, func(f audit.Finding) bool {
		return f.Status == audit.StatusDrift || f.Status == audit.StatusError
	})
	if err != nil {
		return fmt.Errorf("markdown: %w", err)
	}
	if matched > 0 && !o.FixView {
		fmt.Fprintf(bw, "\n### Drift and unreadable repositories (%d)\n\n", matched)
		bw.WriteString("| status | provider | scope | repository | mode | reason |\n")
		bw.WriteString("| --- | --- | --- | --- | --- | --- |\n")
		for _, f := range top {
			mode := string(f.Mode)
			if f.Native != "" {
				mode += " (" + f.Native + ")"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", f.Status, mdCell(f.Provider), mdCode(f.Scope), mdCode(f.Repository), mdCell(mode), mdCell(f.Reason))
		}
		if matched > len(top) {
			fmt.Fprintf(bw, "\n… and %d more; the JSON, HTML or SARIF report lists every repository.\n", matched-len(top))
		}
		if s.Drift > 0 {
			bw.WriteString("\nRun `immutag fix` to see the plan that makes them immutable (it changes nothing without `--apply`).\n")
		}
	}
	if bad := badScopes(r); len(bad) > 0 {
		bw.WriteString("\n### Unreadable scopes\n\nTheir repositories are not in this report.\n\n")
		for _, sc := range bad {
			fmt.Fprintf(bw, "- %s %s: %s\n", mdCell(sc.Provider), mdCode(sc.Scope), mdCell(sc.Error))
		}
	}
	if len(r.Overwrites) > 0 {
		fmt.Fprintf(bw, "\n### Overwritten tags (%d)\n\nTags naming another image than the ledger recorded; in a repository immutable now, an incident. `immutag history --moved` lists them all.\n\n", len(r.Overwrites))
		bw.WriteString("| provider | scope | tag | previous digest | last seen | new digest | seen | immutable now |\n")
		bw.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for i, o := range r.Overwrites {
			if i == markdownRows {
				fmt.Fprintf(bw, "\n… and %d more; the JSON report lists every one.\n", len(r.Overwrites)-markdownRows)
				break
			}
			imm := "no"
			if o.Immutable {
				imm = "**yes: incident**"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(o.Provider), mdCode(o.Scope), mdCode(o.Repository+":"+o.Tag),
				mdCode(o.Previous), o.LastSeenAt.UTC().Format(time.RFC3339), mdCode(o.Digest), o.SeenAt.UTC().Format(time.RFC3339), imm)
		}
	}
	if r.Changes != nil && r.Changes.Len() > 0 {
		fmt.Fprintf(bw, "\n### Changes (%d)\n\n", r.Changes.Len())
		bw.WriteString("| provider | scope | repository | state | from | to |\n")
		bw.WriteString("| --- | --- | --- | --- | --- | --- |\n")
		n := 0
		err := r.Changes.Each(func(c audit.ChangeRecord) error {
			n++
			if n > markdownRows {
				return nil
			}
			repo := c.Repository
			if c.Target != "" {
				repo += " [" + c.Target + "]"
			}
			state := c.State
			if c.Error != "" {
				state += ": " + c.Error
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", mdCell(c.Provider), mdCode(c.Scope), mdCode(repo), mdCell(state), mdCell(c.From.String()), mdCell(c.To.String()))
			return nil
		})
		if err != nil {
			return fmt.Errorf("markdown: %w", err)
		}
		if n > markdownRows {
			fmt.Fprintf(bw, "\n… and %d more changes.\n", n-markdownRows)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(bw, "\n<details><summary>%d warning(s)</summary>\n\n", len(r.Warnings))
		for _, wr := range r.Warnings {
			fmt.Fprintf(bw, "- %s %s [%s]: %s\n", mdCell(wr.Provider), mdCell(wr.Scope), mdCell(wr.Code), mdCell(wr.Message))
		}
		bw.WriteString("\n</details>\n")
	}
	fmt.Fprintf(bw, "\n<sub>%s %s · run %s · %s · config sha256 %s</sub>\n",
		mdCell(r.Tool.Name), mdCell(r.Tool.Version), mdCell(r.Run.ID), r.Run.FinishedAt.UTC().Format(time.RFC3339), shortHash(r.Run.ConfigSHA256))
	return bw.Flush()
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "-"
	}
	return h
}
