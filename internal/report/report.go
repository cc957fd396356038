// Package report renders the audit report model in the output formats
// (table, json, sarif, junit, markdown, html, csv, ocsf), loads saved JSON
// reports and compares two of them. Renderers read the findings from their
// spool, one at a time, so memory stays flat however many repositories were
// scanned; the formats that sort (table, html, markdown) sort only estates up
// to sortLimit and stream larger ones in arrival order.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/immutag/immutag/internal/audit"
)

// Formats this build can render, in help order.
var Formats = []string{"table", "json", "sarif", "junit", "markdown", "html", "csv", "ocsf"}

// Options tune rendering.
type Options struct {
	// Color enables ANSI colours in table output (terminal, NO_COLOR unset).
	Color bool
	// Verbose lists compliant repositories in the table too.
	Verbose bool
	// FixView shows a fix run: the changes instead of every finding.
	FixView bool
}

// Valid reports whether format can be rendered.
func Valid(format string) bool { return slices.Contains(Formats, format) }

// Render writes r in format to w.
func Render(w io.Writer, r *audit.Report, format string, o Options) error {
	switch format {
	case "json":
		return JSON(w, r)
	case "table":
		return Table(w, r, o)
	case "sarif":
		return SARIF(w, r)
	case "junit":
		return JUnit(w, r)
	case "markdown":
		return Markdown(w, r, o)
	case "html":
		return HTML(w, r, o)
	case "csv":
		return CSV(w, r)
	case "ocsf":
		return OCSF(w, r)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// JSON writes the contract report. Findings and changes are streamed from
// their spools rather than marshalled as one slice.
func JSON(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	field := func(name string, v any, comma bool) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		fmt.Fprintf(bw, "  %q: %s", name, b)
		if comma {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
		return nil
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{
		{"schema_version", r.SchemaVersion}, {"tool", r.Tool}, {"run", r.Run}, {"summary", r.Summary},
		{"scopes", nonNil(r.Scopes)}, {"warnings", nonNil(r.Warnings)},
	} {
		if err := field(f.name, f.v, true); err != nil {
			return err
		}
	}
	// A recorded run writes overwrites even when empty: [] says the ledger
	// was asked and found none, where an absent member says it was not asked.
	if r.Overwrites != nil {
		if err := field("overwrites", r.Overwrites, true); err != nil {
			return err
		}
	}
	if err := streamArray(bw, "findings", r.Findings, r.Changes != nil); err != nil {
		return err
	}
	if r.Changes != nil {
		if err := streamArray(bw, "changes", r.Changes, false); err != nil {
			return err
		}
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func streamArray[T any](bw *bufio.Writer, name string, s *audit.Spool[T], comma bool) error {
	fmt.Fprintf(bw, "  %q: [", name)
	first := true
	// The spool holds each item as json.Marshal wrote it; indenting those
	// bytes gives what MarshalIndent would, without decoding every item
	// and encoding it again (half the time of writing a large report).
	var ind bytes.Buffer
	err := s.EachJSON(func(b []byte) error {
		ind.Reset()
		if err := json.Indent(&ind, b, "    ", "  "); err != nil {
			return err
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		bw.WriteString("\n    ")
		bw.Write(ind.Bytes())
		return nil
	})
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if !first {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	if comma {
		bw.WriteString(",")
	}
	bw.WriteString("\n")
	return nil
}
