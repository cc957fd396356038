package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Formats are the output formats, in help order.
var Formats = []string{"text", "json", "sarif"}

// RenderOptions carry what the renderers need beyond the result.
type RenderOptions struct {
	ToolVersion string
	// BaseDir is the directory SARIF locations are made relative to (the
	// repository root when run in CI); empty means the working directory.
	BaseDir string
}

// Render writes res in format (text, json or sarif).
func Render(w io.Writer, res *Result, format string, o RenderOptions) error {
	switch format {
	case "text", "":
		return renderText(w, res)
	case "json":
		return renderJSON(w, res, o)
	case "sarif":
		return renderSARIF(w, res, o)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// Summary counts a result.
type Summary struct {
	Files       int `json:"files"`
	Findings    int `json:"findings"` // active (not suppressed)
	Errors      int `json:"errors"`
	Warnings    int `json:"warnings"`
	Notes       int `json:"notes"`
	Suppressed  int `json:"suppressed"`
	ParseErrors int `json:"unreadable_files"`
}

// Summarize counts findings by severity, suppressed ones apart.
func (r *Result) Summarize() Summary {
	s := Summary{Files: len(r.Files), ParseErrors: len(r.Errors)}
	for _, f := range r.Findings {
		if f.Suppressed() {
			s.Suppressed++
			continue
		}
		s.Findings++
		switch f.Severity {
		case SeverityError:
			s.Errors++
		case SeverityWarning:
			s.Warnings++
		default:
			s.Notes++
		}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func renderText(w io.Writer, res *Result) error {
	var b strings.Builder
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "%s: error: %s\n", positionOf(e.File, e.Line, e.Column), e.Message)
	}
	for _, f := range res.Findings {
		if f.Suppressed() {
			continue
		}
		fmt.Fprintf(&b, "%s: %s [%s] %s\n", positionOf(f.File, f.Line, f.Column), f.Severity, f.RuleID, f.Message)
		if f.Fix == nil {
			continue
		}
		fmt.Fprintf(&b, "    fix: %s\n", f.Fix.Description)
		for _, e := range f.Fix.Edits {
			fmt.Fprintf(&b, "      line %d:\n", e.Line)
			fmt.Fprintf(&b, "      - %s\n", e.Old)
			for _, n := range e.New {
				fmt.Fprintf(&b, "      + %s\n", n)
			}
			if len(e.New) == 0 {
				b.WriteString("      (delete the line)\n")
			}
		}
	}
	s := res.Summarize()
	switch {
	case s.Findings == 0 && s.ParseErrors == 0:
		fmt.Fprintf(&b, "no findings in %s", plural(s.Files, "file", "files"))
	default:
		fmt.Fprintf(&b, "%s (%s, %s) in %s", plural(s.Findings, "finding", "findings"),
			plural(s.Errors, "error", "errors"), plural(s.Warnings, "warning", "warnings"), plural(s.Files, "file", "files"))
	}
	if s.Suppressed > 0 {
		fmt.Fprintf(&b, ", %d suppressed", s.Suppressed)
	}
	if s.ParseErrors > 0 {
		fmt.Fprintf(&b, "; %s could not be linted", plural(s.ParseErrors, "path", "paths"))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func positionOf(file string, line, col int) string {
	switch {
	case line > 0 && col > 0:
		return fmt.Sprintf("%s:%d:%d", file, line, col)
	case line > 0:
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// JSONReport is the json output (schema_version 1).
type JSONReport struct {
	SchemaVersion int         `json:"schema_version"`
	Tool          JSONTool    `json:"tool"`
	Summary       Summary     `json:"summary"`
	Files         []string    `json:"files"`
	Findings      []Finding   `json:"findings"`
	Errors        []FileError `json:"errors"`
}

// JSONTool names the producer.
type JSONTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func renderJSON(w io.Writer, res *Result, o RenderOptions) error {
	r := JSONReport{SchemaVersion: 1, Tool: JSONTool{Name: "immutag", Version: o.ToolVersion},
		Summary: res.Summarize(), Files: res.Files, Findings: res.Findings, Errors: res.Errors}
	if r.Files == nil {
		r.Files = []string{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Errors == nil {
		r.Errors = []FileError{}
	}
	for i := range r.Findings {
		if f := r.Findings[i].Fix; f != nil {
			for j := range f.Edits {
				if f.Edits[j].New == nil {
					f.Edits[j].New = []string{}
				}
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// SARIF 2.1.0, shaped for GitHub code scanning: rules with help and
// security-severity, results with a physical location, a region and a
// partial fingerprint, in-source suppressions, fixes as artifact changes,
// and unreadable files as tool execution notifications.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	Invocations        []sarifInvocation           `json:"invocations"`
	ColumnKind         string                      `json:"columnKind"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	Precision        string   `json:"precision"`
	SecuritySeverity string   `json:"security-severity"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Fixes               []sarifFix         `json:"fixes,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

type sarifFix struct {
	Description     sarifText             `json:"description"`
	ArtifactChanges []sarifArtifactChange `json:"artifactChanges"`
}

type sarifArtifactChange struct {
	ArtifactLocation sarifArtifactLoc   `json:"artifactLocation"`
	Replacements     []sarifReplacement `json:"replacements"`
}

type sarifReplacement struct {
	DeletedRegion   sarifRegion `json:"deletedRegion"`
	InsertedContent *sarifText  `json:"insertedContent,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

func renderSARIF(w io.Writer, res *Result, o RenderOptions) error {
	base := o.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	}
	run := sarifRun{ColumnKind: "unicodeCodePoints", Results: []sarifResult{}}
	run.Tool.Driver = sarifDriver{Name: "immutag", Version: o.ToolVersion, InformationURI: "https://github.com/immutag/immutag"}
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: r.ID, Name: r.Name,
			ShortDescription:     sarifText{r.Short},
			FullDescription:      sarifText{r.Full},
			Help:                 sarifText{r.Help},
			DefaultConfiguration: sarifRuleConf{Level: string(r.Severity)},
			Properties:           sarifRuleProps{Tags: []string{"security", "supply-chain", "ci"}, Precision: "high", SecuritySeverity: r.SecuritySeverity},
		})
	}
	if abs, err := filepath.Abs(base); err == nil {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs) + "/"}
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{"%SRCROOT%": {URI: u.String()}}
	}
	seen := map[string]int{}
	for _, f := range res.Findings {
		loc := artifactLoc(f.File, base)
		region := &sarifRegion{StartLine: f.Line, StartColumn: f.Column, EndLine: f.EndLine, EndColumn: f.EndColumn}
		r := sarifResult{
			RuleID: f.RuleID, RuleIndex: index[f.RuleID], Level: string(f.Severity),
			Message:   sarifText{f.Message},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: loc, Region: region}}},
		}
		// The fingerprint hashes rule, file and the flagged line's text
		// (not its number), so an alert survives edits above it.
		h := sha256.Sum256([]byte(f.RuleID + "\x00" + loc.URI + "\x00" + strings.TrimSpace(lineText(f))))
		key := hex.EncodeToString(h[:8])
		seen[key]++
		r.PartialFingerprints = map[string]string{"primaryLocationLineHash": fmt.Sprintf("%s:%d", key, seen[key])}
		if f.Suppression != nil {
			r.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: f.Suppression.Reason}}
		}
		if f.Fix != nil && len(f.Fix.Edits) > 0 {
			ch := sarifArtifactChange{ArtifactLocation: loc}
			for _, e := range f.Fix.Edits {
				rep := sarifReplacement{DeletedRegion: sarifRegion{StartLine: e.Line, StartColumn: 1, EndLine: e.Line + 1, EndColumn: 1}}
				if len(e.New) > 0 {
					rep.InsertedContent = &sarifText{strings.Join(e.New, "\n") + "\n"}
				}
				ch.Replacements = append(ch.Replacements, rep)
			}
			r.Fixes = []sarifFix{{Description: sarifText{f.Fix.Description}, ArtifactChanges: []sarifArtifactChange{ch}}}
		}
		run.Results = append(run.Results, r)
	}
	inv := sarifInvocation{ExecutionSuccessful: len(res.Errors) == 0}
	for _, e := range res.Errors {
		n := sarifNotification{Level: "error", Message: sarifText{e.Message}}
		var region *sarifRegion
		if e.Line > 0 {
			region = &sarifRegion{StartLine: e.Line, StartColumn: e.Column}
		}
		n.Locations = []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: artifactLoc(e.File, base), Region: region}}}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	run.Invocations = []sarifInvocation{inv}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// lineText is the flagged line, for fingerprints.
func lineText(f Finding) string {
	if f.text != "" {
		return f.text
	}
	return f.Message
}

// artifactLoc makes a path relative to base (GitHub resolves results
// against the repository root); paths outside base become file URIs.
func artifactLoc(file, base string) sarifArtifactLoc {
	p := file
	if abs, err := filepath.Abs(file); err == nil {
		if babs, err := filepath.Abs(base); err == nil {
			if rel, err := filepath.Rel(babs, abs); err == nil && !strings.HasPrefix(rel, "..") {
				u := url.URL{Path: filepath.ToSlash(rel)}
				return sarifArtifactLoc{URI: u.String(), URIBaseID: "%SRCROOT%"}
			}
		}
		p = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
	return sarifArtifactLoc{URI: u.String()}
}
