package iac

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
	"text/tabwriter"

	"github.com/immutag/immutag/internal/audit"
)

// Formats are the output formats of immutag iac.
var Formats = []string{"table", "json", "sarif"}

// RenderOptions tune rendering.
type RenderOptions struct {
	ToolVersion string
	// BaseDir is the directory SARIF locations are made relative to.
	BaseDir string
	// All includes compliant and exempt resources in the table.
	All bool
}

// Render writes res in format.
func Render(w io.Writer, res *Result, format string, o RenderOptions) error {
	switch format {
	case "table", "text", "":
		return renderTable(w, res, o)
	case "json":
		return renderJSON(w, res)
	case "sarif":
		return renderSARIF(w, res, o)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func renderTable(w io.Writer, res *Result, o RenderOptions) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tLOCATION\tRESOURCE\tREPOSITORY\tREASON")
	shown := 0
	for _, f := range res.Findings {
		status := string(f.Status)
		if f.Suppressed {
			status += " (suppressed)"
		}
		name := f.Name
		if !f.NameKnown {
			name = "(computed)"
		}
		fmt.Fprintf(tw, "%s\t%s:%d:%d\t%s\t%s\t%s\n", status, f.File, f.Line, f.Column, f.Address, name, oneLine(f.Reason))
		shown++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range res.Findings {
		if f.Active() && f.Edit != "" {
			fmt.Fprintf(w, "fix %s (%s:%d): %s\n", f.Address, f.File, f.Line, f.Edit)
		}
	}
	for _, s := range res.Invalid {
		fmt.Fprintf(w, "invalid suppression: %s\n", s.Error())
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error: %s\n", e.Error())
	}
	c := res.Counts()
	_, err := fmt.Fprintf(w, "%d resource(s) in %d file(s): %d compliant, %d drift, %d exempt, %d error; %d need attention\n",
		shown, len(res.Files), c[audit.StatusCompliant], c[audit.StatusDrift], c[audit.StatusExempt], c[audit.StatusError], res.Active())
	return err
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// jsonFinding is the JSON shape of a finding (resource fields inline).
type jsonFinding struct {
	Finding
	RepositoryKnown bool `json:"repository_known"`
}

func renderJSON(w io.Writer, res *Result) error {
	out := struct {
		Findings []jsonFinding  `json:"findings"`
		Summary  map[string]int `json:"summary"`
		Notes    []string       `json:"notes"`
		Errors   []FileError    `json:"errors"`
		Invalid  []FileError    `json:"invalid_suppressions"`
		Files    []string       `json:"files"`
	}{Findings: []jsonFinding{}, Summary: map[string]int{}, Notes: res.Notes, Errors: res.Errors, Invalid: res.Invalid, Files: res.Files}
	for _, f := range res.Findings {
		out.Findings = append(out.Findings, jsonFinding{Finding: f, RepositoryKnown: f.NameKnown})
	}
	for s, n := range res.Counts() {
		out.Summary[string(s)] = n
	}
	out.Summary["active"] = res.Active()
	if out.Notes == nil {
		out.Notes = []string{}
	}
	if out.Errors == nil {
		out.Errors = []FileError{}
	}
	if out.Invalid == nil {
		out.Invalid = []FileError{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF 2.1.0 for code scanning: one result per finding that is not
// compliant, anchored to the resource's declaration line.

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
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
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
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
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

type ruleDoc struct {
	id, name, short, help, level, severity string
}

var sarifRules = []ruleDoc{
	{audit.RuleMutable, "MutableTags", "The code declares a repository whose tags can be overwritten",
		"Make every tag immutable in the resource (immutag iac --fix writes the change).", "error", "7.5"},
	{audit.RuleMutablePatterns, "MutablePatterns", "The code leaves tags mutable that the policy does not allow",
		"Remove the exclusions or rules the policy does not allow (policy.mutable_tags_allowed), or make every tag immutable.", "error", "6.5"},
	{audit.RuleUnsupported, "Unsupported", "The code declares a repository that cannot enforce immutable tags",
		"Use a repository mode that can enforce immutable tags, or add an exemption with a reason.", "warning", "4.0"},
	{audit.RuleUnreadable, "Unreadable", "The immutability setting is only known after apply",
		"Give the setting a literal or a variable default, or scan the plan (terraform show -json).", "warning", "4.0"},
}

func renderSARIF(w io.Writer, res *Result, o RenderOptions) error {
	base := o.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	}
	run := sarifRun{ColumnKind: "unicodeCodePoints", Results: []sarifResult{}}
	run.Tool.Driver = sarifDriver{Name: "immutag", Version: o.ToolVersion, InformationURI: "https://github.com/immutag/immutag"}
	index := map[string]int{}
	for i, r := range sarifRules {
		index[r.id] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: r.id, Name: r.name, ShortDescription: sarifText{r.short}, FullDescription: sarifText{r.short + "."},
			Help:                 sarifText{r.help},
			DefaultConfiguration: map[string]any{"level": r.level},
			Properties:           map[string]any{"tags": []string{"security", "supply-chain", "iac"}, "precision": "high", "security-severity": r.severity},
		})
	}
	if abs, err := filepath.Abs(base); err == nil {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs) + "/"}
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{"%SRCROOT%": {URI: u.String()}}
	}
	seen := map[string]int{}
	for _, f := range res.Findings {
		if f.Status != audit.StatusDrift && f.Status != audit.StatusError {
			continue
		}
		loc := artifactLoc(f.File, base)
		idx, ok := index[f.Rule]
		if !ok {
			continue
		}
		msg := fmt.Sprintf("%s: %s", f.Address, f.Reason)
		if f.Edit != "" {
			msg += ". Fix: " + f.Edit
		}
		r := sarifResult{RuleID: f.Rule, RuleIndex: idx, Level: sarifRules[idx].level, Message: sarifText{msg},
			Locations: []sarifLocation{{
				PhysicalLocation: sarifPhysical{ArtifactLocation: loc, Region: &sarifRegion{StartLine: f.Line, StartColumn: f.Column}},
				LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Address, Kind: "resource"}},
			}},
			Properties: map[string]any{"type": f.Type, "repository": f.Name, "status": string(f.Status), "mode": string(f.Immutability.Mode)},
		}
		// Fingerprint on rule, file and address (not the line number),
		// so an alert survives edits above the resource; and on the
		// environments it holds in (variable files, workspaces, parent
		// stacks) when they disagree, so prod's alert and staging's are
		// two alerts, each keeping its identity when the other goes.
		scope := ""
		if len(f.envs) > 0 {
			scope = strings.Join(f.envs, "\x00")
			r.Properties["environments"] = f.envs
		}
		h := sha256.Sum256([]byte(f.Rule + "\x00" + loc.URI + "\x00" + f.Address + "\x00" + scope))
		key := hex.EncodeToString(h[:8])
		seen[key]++
		r.PartialFingerprints = map[string]string{"primaryLocationLineHash": fmt.Sprintf("%s:%d", key, seen[key])}
		if f.Suppressed {
			r.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: f.SuppressReason}}
		}
		run.Results = append(run.Results, r)
	}
	inv := sarifInvocation{ExecutionSuccessful: len(res.Errors) == 0}
	for _, e := range append(append([]FileError(nil), res.Errors...), res.Invalid...) {
		n := sarifNotification{Level: "error", Message: sarifText{e.Message}}
		var region *sarifRegion
		if e.Line > 0 {
			region = &sarifRegion{StartLine: e.Line}
		}
		n.Locations = []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: artifactLoc(e.File, base), Region: region}}}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for _, note := range res.Notes {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "note", Message: sarifText{note}})
	}
	run.Invocations = []sarifInvocation{inv}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// artifactLoc makes a path relative to base (code scanning resolves
// results against the repository root); paths outside base become file URIs.
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
