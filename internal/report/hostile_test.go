package report

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/redact"
)

// hostileReport is a saved report as an attacker (or a registry feeding a
// report) would write it: terminal escapes, row-splitting newlines, bidi
// overrides, backticks that try to close a code span, and HTML.
func hostileReport(t *testing.T) *audit.Report {
	t.Helper()
	r := &audit.Report{
		SchemaVersion: audit.SchemaVersion,
		Summary:       audit.Summary{ByProvider: map[string]audit.Counts{"p\x1b[2J": {}}},
		Findings:      audit.NewSpool[audit.Finding](),
		Scopes:        []audit.ScopeResult{{Provider: "p", Scope: "s\x07", Status: "error", Error: "boom\x1b]0;owned\x07\nFAKE ROW"}},
		Warnings:      []providers.Warning{{Provider: "p", Code: "c", Message: "w\x1b[31m\r\nFAKE"}},
		Run:           audit.Run{ID: "x", Command: "audit <img src=x onerror=alert(1)> [x](javascript:alert(1)) **b**", FinishedAt: time.Unix(0, 0)},
	}
	for _, f := range []audit.Finding{
		{Provider: "p", Scope: "s", Repository: "evil\x1b]0;owned\x07\x1b[2J", Status: audit.StatusDrift, Mode: providers.ModeMutable, Reason: "line1\nFAKE\tROW"},
		{Provider: "p", Scope: "s", Repository: "a``<img src=x onerror=alert(1)>``b", Status: audit.StatusDrift, Mode: providers.ModeMutable, Reason: "r"},
		{Provider: "p", Scope: "s", Repository: "rtl\u202egnp.exe", Status: audit.StatusError, Mode: providers.ModeUnknown, Reason: "x"},
	} {
		if err := r.Findings.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestTableEscapesControlCharacters(t *testing.T) {
	out := string(render(t, hostileReport(t), "table", Options{Verbose: true}))
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\nFAKE"} {
		if strings.Contains(out, bad) {
			t.Errorf("table output carries %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `evil\x1b]0;owned\a\x1b[2J`) {
		t.Errorf("the hostile name is not shown escaped:\n%s", out)
	}
}

func TestMarkdownCodeSpansCannotBeClosed(t *testing.T) {
	out := string(render(t, hostileReport(t), "markdown", Options{}))
	// Inside a code span HTML is literal text; the danger was the span
	// closing early. The only <img left must be inside a longer fence.
	span := "``` a``<img src=x onerror=alert(1)>``b ```"
	if !strings.Contains(out, span) {
		t.Errorf("the backticked name is not in a longer fence:\n%s", out)
	}
	if n := strings.Count(out, "<img"); n != 1 {
		t.Errorf("%d raw <img in the Markdown, want only the one inside the code span:\n%s", n, out)
	}
	head, _, _ := strings.Cut(out, "\n")
	for _, bad := range []string{"<img", "](", "**b**"} {
		if strings.Contains(head, bad) {
			t.Errorf("heading keeps Markdown/HTML %q: %s", bad, head)
		}
	}
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\nFAKE"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown output carries %q", bad)
		}
	}
}

// TestTextLogsEscape: the program's log handler (redacting, text format)
// never writes a registry's control characters raw.
func TestTextLogsEscape(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redact.Handler(slog.NewTextHandler(&buf, nil)))
	log.Warn("scope unreadable \x1b[2J", "repository", "evil\x1b]0;owned\x07", "error", "x\nFAKE=1")
	for _, bad := range []string{"\x1b", "\x07", "\nFAKE"} {
		if strings.Contains(buf.String(), bad) {
			t.Errorf("log line carries %q: %q", bad, buf.String())
		}
	}
}

// TestDiffTableEscapesControlCharacters: `report diff` prints registry
// names from two saved reports on a terminal; a hostile report must not
// reach it with escape sequences or row-splitting newlines.
func TestDiffTableEscapesControlCharacters(t *testing.T) {
	old := hostileReport(t)
	cur := hostileReport(t)
	cur.Run.ID = "run\x1b]0;owned\x07"
	d, err := NewDiff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := RenderDiff(&buf, d, "table"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\nFAKE"} {
		if strings.Contains(out, bad) {
			t.Errorf("diff table carries %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `evil\x1b]0;owned\a\x1b[2J`) {
		t.Errorf("the hostile name is not shown escaped:\n%s", out)
	}
}

// TestCSVEscapesControlCharacters: CSV goes to stdout as often as to a
// spreadsheet; a registry name must not carry a terminal escape with it.
// Quoting keeps a newline inside its cell for a CSV reader, not for `cat`.
func TestCSVEscapesControlCharacters(t *testing.T) {
	out := string(render(t, hostileReport(t), "csv", Options{}))
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\nFAKE"} {
		if strings.Contains(out, bad) {
			t.Errorf("csv carries %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `evil\x1b]0;owned\a\x1b[2J`) {
		t.Errorf("the hostile name is not shown escaped:\n%s", out)
	}
}

// TestTableListsOverwrites: a table reader of audit --record sees which
// tags moved (not only how many on stderr), incidents marked, with
// registry names escaped.
func TestTableListsOverwrites(t *testing.T) {
	r := &audit.Report{SchemaVersion: audit.SchemaVersion, Findings: audit.NewSpool[audit.Finding](), Summary: audit.Summary{ByProvider: map[string]audit.Counts{}}}
	t.Cleanup(func() { r.Close() })
	at := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	r.Overwrites = []audit.Overwrite{
		{Provider: "ecr", Scope: "123/eu-west-1", Repository: "team/app", Tag: "prod", Previous: "sha256:aaaa", Digest: "sha256:bbbb", LastSeenAt: at, SeenAt: at.Add(time.Hour), Immutable: true},
		{Provider: "hub", Scope: "acme", Repository: "web", Tag: "v1\x1b[2J", Previous: "sha256:cccc", Digest: "sha256:dddd", LastSeenAt: at, SeenAt: at.Add(time.Hour)},
	}
	var b bytes.Buffer
	if err := Table(&b, r, Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"OVERWRITES", "team/app:prod", "sha256:aaaa", "sha256:bbbb", "2026-09-01T13:00:00Z", "yes: incident", `web:v1\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("table prints an escape sequence:\n%q", out)
	}
}

// TestMarkdownAndHTMLListOverwrites: the auditor's formats show what
// audit --record found, not only the JSON and the table; registry names
// stay text.
func TestMarkdownAndHTMLListOverwrites(t *testing.T) {
	r := &audit.Report{SchemaVersion: audit.SchemaVersion, Findings: audit.NewSpool[audit.Finding](), Summary: audit.Summary{ByProvider: map[string]audit.Counts{}}}
	t.Cleanup(func() { r.Close() })
	at := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	r.Overwrites = []audit.Overwrite{
		{Provider: "ecr", Scope: "123/eu-west-1", Repository: "team/app", Tag: "prod", Previous: "sha256:aaaa", Digest: "sha256:bbbb", LastSeenAt: at, SeenAt: at.Add(time.Hour), Immutable: true},
		{Provider: "hub", Scope: "acme", Repository: "web", Tag: "v1<b>|x", Previous: "sha256:cccc", Digest: "sha256:dddd", LastSeenAt: at, SeenAt: at.Add(time.Hour)},
	}
	var md, page bytes.Buffer
	if err := Markdown(&md, r, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, r, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		out  string
		want []string
		bad  string
	}{
		"markdown": {md.String(), []string{"Overwritten tags (2)", "team/app:prod", "sha256:aaaa", "sha256:bbbb", "2026-09-01T13:00:00Z", "yes: incident"}, "| x"},
		"html":     {page.String(), []string{`id="overwrites"`, "team/app:prod", "sha256:aaaa", "sha256:bbbb", "2026-09-01T13:00:00Z", "yes: incident", "v1&lt;b&gt;|x"}, "<b>"},
	} {
		for _, want := range c.want {
			if !strings.Contains(c.out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, c.out)
			}
		}
		if strings.Contains(c.out, c.bad) {
			t.Errorf("%s lets a tag name make markup (%q):\n%s", name, c.bad, c.out)
		}
	}
}
