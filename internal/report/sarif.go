package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
)

// SARIFSchemaURI is the $schema the SARIF output declares.
const SARIFSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// fallbackAnchor is where results point when the report does not say which
// config file it came from (a config built in code, an older report).
const fallbackAnchor = "immutag.yaml"

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
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

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           struct {
			StartLine int `json:"startLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

type sarifResultProps struct {
	FindingID         string   `json:"finding_id"`
	Provider          string   `json:"provider"`
	Kind              string   `json:"kind"`
	Scope             string   `json:"scope"`
	Repository        string   `json:"repository"`
	URI               string   `json:"uri"`
	Status            string   `json:"status"`
	Mode              string   `json:"mode"`
	Native            string   `json:"native,omitempty"`
	MutablePatterns   []string `json:"mutable_patterns,omitempty"`
	OffendingPatterns []string `json:"offending_patterns,omitempty"`
	Remediation       string   `json:"remediation,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           *int               `json:"ruleIndex,omitempty"`
	Kind                string             `json:"kind"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          sarifResultProps   `json:"properties"`
}

type sarifNotification struct {
	Level      string            `json:"level"`
	Message    sarifText         `json:"message"`
	Descriptor map[string]string `json:"descriptor"`
}

// sarifAnchor returns the artifact location results point at: the config
// file the report was produced from. Code scanning needs a file in the
// repository and a line; the registry resource itself lives in the message,
// the logical location and the properties.
func sarifAnchor(r *audit.Report) sarifArtifactLocation {
	file := r.Run.ConfigFile
	if file == "" {
		file = fallbackAnchor
	}
	if filepath.IsAbs(file) {
		return sarifArtifactLocation{URI: "file://" + filepath.ToSlash(file)}
	}
	return sarifArtifactLocation{URI: strings.TrimPrefix(filepath.ToSlash(filepath.Clean(file)), "./"), URIBaseID: "%SRCROOT%"}
}

// fingerprint is stable for a rule and a repository, whatever else changes
// in the config file, so an alert survives edits and reordering.
func fingerprint(rule, findingID string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + findingID))
	return hex.EncodeToString(h[:8]) + ":1"
}

func resourceName(f audit.Finding) string {
	return f.Provider + "/" + f.Scope + "/" + f.Repository
}

// SARIF writes a SARIF 2.1.0 log for GitHub code scanning and other SARIF
// consumers: one rule per finding type, one result per repository that is
// not compliant (exempt ones carry an accepted external suppression).
func SARIF(w io.Writer, r *audit.Report) error {
	anchor := sarifAnchor(r)
	j := newJSONWriter(w)
	j.Open("", '{')
	j.Field("$schema", SARIFSchemaURI)
	j.Field("version", "2.1.0")
	j.Open("runs", '[')
	j.Open("", '{')

	rules := make([]sarifRule, len(ruleTable))
	for i, ri := range ruleTable {
		props := map[string]any{
			"tags":      []string{"security", "supply-chain", "container-registry", "tag-immutability"},
			"precision": "very-high",
		}
		if ri.SecuritySeverity != "" {
			props["security-severity"] = ri.SecuritySeverity
			props["problem.severity"] = map[string]string{"error": "error", "warning": "warning"}[ri.Level]
		}
		rules[i] = sarifRule{
			ID: ri.ID, Name: ri.Name,
			ShortDescription:     sarifText{Text: ri.Short},
			FullDescription:      sarifText{Text: ri.Full},
			Help:                 sarifText{Text: ri.Help, Markdown: ri.Help},
			DefaultConfiguration: map[string]any{"level": ri.Level},
			Properties:           props,
		}
	}
	driver := map[string]any{
		"name":           r.Tool.Name,
		"version":        r.Tool.Version,
		"informationUri": "https://github.com/immutag/immutag",
		"rules":          rules,
	}
	j.Field("tool", map[string]any{"driver": driver})

	var notes []sarifNotification
	bad := badScopes(r)
	for _, s := range bad {
		notes = append(notes, sarifNotification{Level: "error",
			Message:    sarifText{Text: fmt.Sprintf("%s %s could not be listed; its repositories are not in this report: %s", s.Provider, s.Scope, s.Error)},
			Descriptor: map[string]string{"id": "scope-unreadable"}})
	}
	for _, wr := range r.Warnings {
		notes = append(notes, sarifNotification{Level: "warning",
			Message:    sarifText{Text: strings.TrimSpace(wr.Provider + " " + wr.Scope + ": " + wr.Message)},
			Descriptor: map[string]string{"id": wr.Code}})
	}
	inv := map[string]any{
		// A scope that could not be listed is an audit that did not run to
		// the end (exit code 1), not a clean one: viewers that show only
		// the results must not read its silence as compliance.
		"executionSuccessful": len(bad) == 0,
		"startTimeUtc":        r.Run.StartedAt.UTC().Format(time.RFC3339),
		"endTimeUtc":          r.Run.FinishedAt.UTC().Format(time.RFC3339),
	}
	if len(notes) > 0 {
		inv["toolExecutionNotifications"] = notes
	}
	j.Field("invocations", []any{inv})
	if anchor.URIBaseID != "" {
		j.Field("originalUriBaseIds", map[string]any{anchor.URIBaseID: map[string]any{
			"description": sarifText{Text: "The directory immutag ran in (the repository root in CI)."}}})
	}
	j.Field("columnKind", "utf16CodeUnits")
	j.Field("properties", map[string]any{
		"run_id":        r.Run.ID,
		"command":       r.Run.Command,
		"config_sha256": r.Run.ConfigSHA256,
		"summary":       r.Summary,
	})

	j.Open("results", '[')
	err := r.Findings.Each(func(f audit.Finding) error {
		if f.Status == audit.StatusCompliant {
			return nil
		}
		ri, idx := ruleByID(f.Rule)
		line := r.Run.ConfigLines[f.Provider]
		if line < 1 {
			line = 1
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation = anchor
		loc.PhysicalLocation.Region.StartLine = line
		loc.LogicalLocations = []sarifLogical{{Name: f.Repository, FullyQualifiedName: resourceName(f), Kind: "resource"}}
		where := f.URI
		if where == "" {
			where = resourceName(f)
		}
		msg := fmt.Sprintf("Repository %s (provider %s, scope %s): %s.", where, f.Provider, f.Scope, f.Reason)
		if f.Remediation != "" {
			msg += " Remediation: " + f.Remediation
		}
		res := sarifResult{
			RuleID: ri.ID, Kind: "fail", Level: ri.Level,
			Message:   sarifText{Text: msg},
			Locations: []sarifLocation{loc},
			PartialFingerprints: map[string]string{
				"primaryLocationLineHash": fingerprint(ri.ID, f.ID),
				"immutagFindingId/v1":     f.ID,
			},
			Properties: sarifResultProps{
				FindingID: f.ID, Provider: f.Provider, Kind: string(f.Kind), Scope: f.Scope, Repository: f.Repository,
				URI: f.URI, Status: string(f.Status), Mode: string(f.Mode), Native: f.Native,
				MutablePatterns: f.MutablePatterns, OffendingPatterns: f.Offending, Remediation: f.Remediation,
			},
		}
		if idx >= 0 {
			res.RuleIndex = &idx
		}
		if f.Status == audit.StatusExempt && f.Exemption != nil {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: exemptionText(f)}}
		}
		j.Field("", res)
		return j.err
	})
	if err != nil {
		return err
	}
	j.Close(']')
	j.Close('}')
	j.Close(']')
	j.Close('}')
	return j.Finish()
}
