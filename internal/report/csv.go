package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/immutag/immutag/internal/audit"
)

var csvHeader = []string{
	"id", "provider", "kind", "scope", "repository", "uri", "status", "rule", "mode", "native",
	"mutable_patterns", "offending_patterns", "tags_total", "tags_locked",
	"exemption", "exemption_expires", "reason", "remediation",
}

// csvSafe keeps a spreadsheet from evaluating a cell as a formula: registry
// and repository names come from outside, and a leading = + - @ would run.
// Control characters are shown escaped (oneLine): CSV is printed on
// terminals as often as it is opened in a spreadsheet, and no registry name
// or reason immutag writes holds one legitimately.
func csvSafe(s string) string {
	s = oneLine(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// CSV writes one row per repository (RFC 4180, header first), then one row
// per scope that could not be listed (status error, rule scope-unreadable,
// no repository). Lists are joined with ";".
func CSV(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	writeRow := func(f audit.Finding) error {
		var exReason, exExpires string
		if f.Exemption != nil {
			exReason, exExpires = f.Exemption.Reason, f.Exemption.Expires
		}
		row := []string{
			f.ID, f.Provider, string(f.Kind), f.Scope, f.Repository, f.URI, string(f.Status), f.Rule, string(f.Mode), f.Native,
			strings.Join(f.MutablePatterns, ";"), strings.Join(f.Offending, ";"), optInt(f.TagsTotal), optInt(f.TagsLocked),
			exReason, exExpires, f.Reason, f.Remediation,
		}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		return cw.Write(row)
	}
	err := r.Findings.Each(writeRow)
	for _, f := range scopeRows(r) {
		if err == nil {
			err = writeRow(f)
		}
	}
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
