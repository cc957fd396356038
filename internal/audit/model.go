package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// SchemaVersion is the report format version (contract).
const SchemaVersion = 1

// checkName identifies the single check immutag runs per repository. Finding
// ids derive from it, not from the status, so a repository keeps its id when
// it drifts or is fixed and reports can be diffed.
const checkName = "tag-immutability"

// Report is the versioned output model (contract, schema_version 1). It is
// separate from the domain types so the JSON shape changes only on purpose.
type Report struct {
	SchemaVersion int                 `json:"schema_version"`
	Tool          Tool                `json:"tool"`
	Run           Run                 `json:"run"`
	Summary       Summary             `json:"summary"`
	Scopes        []ScopeResult       `json:"scopes"`
	Warnings      []providers.Warning `json:"warnings"`
	// Overwrites are tags seen moving to a new digest (audit --record).
	Overwrites []Overwrite          `json:"overwrites,omitempty"`
	Findings   *Spool[Finding]      `json:"findings"`
	Changes    *Spool[ChangeRecord] `json:"changes,omitempty"`
}

// Close releases the spool files.
func (r *Report) Close() error {
	err := r.Findings.Close()
	if r.Changes != nil {
		if e := r.Changes.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Tool names the producer.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Run describes one invocation.
type Run struct {
	ID           string    `json:"id"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Command      string    `json:"command"`
	ConfigSHA256 string    `json:"config_sha256"`
	DryRun       *bool     `json:"dry_run,omitempty"`
	// ConfigFile is the config file the run read, relative to the working
	// directory when it lies below it. SARIF anchors results to it.
	ConfigFile string `json:"config_file,omitempty"`
	// ConfigLines maps each provider name to the line of its entry in
	// ConfigFile, so a result points at the config that defines the registry.
	ConfigLines map[string]int `json:"config_lines,omitempty"`
	// Shard is set on the report of one shard of a split run (--shard).
	Shard *Shard `json:"shard,omitempty"`
	// MergedShards is how many shard reports 'report merge' joined.
	MergedShards int `json:"merged_shards,omitempty"`
}

// Counts is a tally of statuses.
type Counts struct {
	Repositories int `json:"repositories"`
	Compliant    int `json:"compliant"`
	Drift        int `json:"drift"`
	Exempt       int `json:"exempt"`
	Error        int `json:"error"`
}

func (c *Counts) add(s Status) {
	c.Repositories++
	switch s {
	case StatusCompliant:
		c.Compliant++
	case StatusDrift:
		c.Drift++
	case StatusExempt:
		c.Exempt++
	case StatusError:
		c.Error++
	}
}

// Summary totals the findings, overall and per provider.
type Summary struct {
	Counts
	// ScopeErrors counts scopes that could not be listed completely.
	ScopeErrors int               `json:"scope_errors"`
	ByProvider  map[string]Counts `json:"by_provider"`
}

// Incomplete reports whether anything could not be read.
func (s Summary) Incomplete() bool { return s.ScopeErrors > 0 || s.Error > 0 }

// ScopeResult is the listing outcome of one scope.
type ScopeResult struct {
	Provider     string         `json:"provider"`
	Kind         providers.Kind `json:"kind"`
	Scope        string         `json:"scope"`
	Status       string         `json:"status"` // ok | error
	Error        string         `json:"error,omitempty"`
	Repositories int            `json:"repositories"`
}

// Finding is the verdict for one repository (contract fields).
type Finding struct {
	ID                string         `json:"id"`
	Rule              string         `json:"rule"`
	Provider          string         `json:"provider"`
	Kind              providers.Kind `json:"kind"`
	Scope             string         `json:"scope"`
	Repository        string         `json:"repository"`
	URI               string         `json:"uri"`
	Status            Status         `json:"status"`
	Mode              providers.Mode `json:"mode"`
	Native            string         `json:"native"`
	MutablePatterns   []string       `json:"mutable_patterns"`
	ImmutablePatterns []string       `json:"immutable_patterns,omitempty"`
	Offending         []string       `json:"offending_patterns,omitempty"`
	TagsTotal         *int64         `json:"tags_total,omitempty"`
	TagsLocked        *int64         `json:"tags_locked,omitempty"`
	UnlockedSample    []string       `json:"unlocked_sample,omitempty"`
	Reason            string         `json:"reason"`
	Remediation       string         `json:"remediation"`
	Note              string         `json:"note,omitempty"`
	Exemption         *ExemptionRef  `json:"exemption,omitempty"`
	ExpiredExemptions []ExemptionRef `json:"expired_exemptions,omitempty"`
	// Code is what infrastructure code declares for the repository
	// (audit --iac); absent when no code was scanned.
	Code *CodeRef `json:"code,omitempty"`
}

// CodeRef compares a live repository with the Terraform or
// CloudFormation resource that declares it.
type CodeRef struct {
	// Managed is false when no scanned resource declares the repository.
	Managed bool `json:"managed"`
	// Agrees is true when code and live get the same verdict (both
	// compliant or exempt, both drift).
	Agrees  bool   `json:"agrees"`
	Status  Status `json:"status,omitempty"`
	Native  string `json:"native,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Address string `json:"address,omitempty"`
	// Finding says what the difference means, e.g. "will be reverted by
	// the next apply".
	Finding string `json:"finding,omitempty"`
}

// FindingID is stable across runs for the same repository and check.
func FindingID(provider, scope, repository string) string {
	h := sha256.New()
	for _, s := range []string{checkName, provider, scope, repository} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "imt-" + hex.EncodeToString(h.Sum(nil))[:20]
}

// NewFinding builds the finding for a repository and its evaluation.
func NewFinding(r providers.Repository, ev Evaluation) Finding {
	f := Finding{
		ID:                FindingID(r.Provider, r.Scope, r.Name),
		Rule:              ev.Rule,
		Provider:          r.Provider,
		Kind:              r.Kind,
		Scope:             r.Scope,
		Repository:        r.Name,
		URI:               r.URI,
		Status:            ev.Status,
		Mode:              r.Mode,
		Native:            r.Native,
		MutablePatterns:   r.MutablePatterns,
		ImmutablePatterns: r.ImmutablePatterns,
		Offending:         ev.Offending,
		UnlockedSample:    r.UnlockedSample,
		Reason:            ev.Reason,
		Remediation:       ev.Remediation,
		Note:              r.Note,
		Exemption:         ev.Exemption,
		ExpiredExemptions: ev.ExpiredExemptions,
	}
	if f.MutablePatterns == nil {
		f.MutablePatterns = []string{}
	}
	if r.Kind == providers.KindACR {
		t, l := r.TagsTotal, r.TagsLocked
		f.TagsTotal, f.TagsLocked = &t, &l
	}
	if ev.Status == StatusCompliant {
		f.Remediation = ""
	}
	return f
}

// ChangeRecord is one planned or applied fix in a fix run's report.
type ChangeRecord struct {
	Provider   string                 `json:"provider"`
	Kind       providers.Kind         `json:"kind"`
	Scope      string                 `json:"scope"`
	Repository string                 `json:"repository"`
	Target     string                 `json:"target,omitempty"`
	FindingID  string                 `json:"finding_id,omitempty"`
	From       providers.Immutability `json:"from"`
	To         providers.Immutability `json:"to"`
	Action     string                 `json:"action"`
	Writes     int64                  `json:"writes"`
	// State is planned, applied, unverified (written, but the read-back
	// failed: the next run verifies it), verify-failed, failed, held-back
	// (never written; Error says why) or not-applied.
	State    string `json:"state"`
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`
}
