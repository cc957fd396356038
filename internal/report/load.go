package report

import (
	"github.com/immutag/immutag/internal/safefile"

	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// LoadFile reads a saved JSON report. Errors name the file.
func LoadFile(path string) (*audit.Report, error) {
	f, err := safefile.Open(path, safefile.ReportLimit)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	defer f.Close()
	r, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return r, nil
}

// Load decodes a JSON report (schema_version 1). Findings and changes are
// decoded one at a time into spools, so a saved report of any size is
// re-rendered or compared without holding it in memory. Unknown top-level
// keys are skipped: schema_version 1 only ever gains optional fields.
// The caller must Close the report.
func Load(r io.Reader) (*audit.Report, error) {
	rep := &audit.Report{Findings: audit.NewSpool[audit.Finding]()}
	if err := load(r, rep); err != nil {
		rep.Close()
		return nil, err
	}
	return rep, nil
}

func load(r io.Reader, rep *audit.Report) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	if err := expectDelim(dec, '{'); err != nil {
		return notReport(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notReport(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			// A second findings (or summary...) member would be added to,
			// or silently replace, the first: refuse the file instead.
			return fmt.Errorf("not an immutag JSON report: %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "schema_version":
			if err := dec.Decode(&rep.SchemaVersion); err != nil {
				return fmt.Errorf("schema_version: %w", err)
			}
			if rep.SchemaVersion != audit.SchemaVersion {
				return fmt.Errorf("schema_version %d is not supported (this build reads %d)", rep.SchemaVersion, audit.SchemaVersion)
			}
		case "tool":
			err = dec.Decode(&rep.Tool)
		case "run":
			err = dec.Decode(&rep.Run)
		case "summary":
			err = dec.Decode(&rep.Summary)
		case "scopes":
			err = dec.Decode(&rep.Scopes)
		case "warnings":
			err = dec.Decode(&rep.Warnings)
		case "overwrites":
			err = dec.Decode(&rep.Overwrites)
		case "findings":
			err = decodeArray(dec, rep.Findings, checkFinding)
		case "changes":
			rep.Changes = audit.NewSpool[audit.ChangeRecord]()
			err = decodeArray(dec, rep.Changes, nil)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return notReport(err)
	}
	for _, k := range []string{"schema_version", "tool", "summary", "findings"} {
		if !seen[k] {
			return fmt.Errorf("not an immutag JSON report: no %q", k)
		}
	}
	if rep.Tool.Name != "immutag" {
		return fmt.Errorf("not an immutag JSON report: tool.name is %q", rep.Tool.Name)
	}
	if rep.Summary.ByProvider == nil {
		rep.Summary.ByProvider = map[string]audit.Counts{}
	}
	if rep.Scopes == nil {
		rep.Scopes = []audit.ScopeResult{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []providers.Warning{}
	}
	return nil
}

// checkFinding refuses a finding the renderers, diff, merge and the drift
// gate could not count: without an id it cannot be matched, and a status
// outside the four would be neither drift nor error (fail closed).
func checkFinding(f audit.Finding) error {
	if f.ID == "" {
		return errors.New("a finding has no id")
	}
	switch f.Status {
	case audit.StatusCompliant, audit.StatusDrift, audit.StatusExempt, audit.StatusError:
		return nil
	}
	return fmt.Errorf("finding %.64s: status %q is not one of compliant, drift, exempt, error", f.ID, f.Status)
}

func notReport(err error) error {
	return fmt.Errorf("not an immutag JSON report: %w", err)
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

func decodeArray[T any](dec *json.Decoder, s *audit.Spool[T], check func(T) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		var v T
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if check != nil {
			if err := check(v); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		if err := s.Add(v); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}
