package report

import (
	"sort"

	"github.com/immutag/immutag/internal/audit"
)

// ruleInfo describes one finding type for the formats that carry rule
// metadata (SARIF, OCSF, HTML). The ids are audit.Rule*; they are part of the
// SARIF contract, since code scanning matches alerts across runs by rule id.
type ruleInfo struct {
	ID    string
	Name  string // PascalCase, SARIF reportingDescriptor.name
	Short string // one line
	Full  string
	Help  string
	// Level is the SARIF default level; SecuritySeverity the GitHub
	// code scanning score (0.1-10), empty for the passing rule.
	Level            string
	SecuritySeverity string
	// OCSF severity_id: 1 informational, 2 low, 3 medium, 4 high.
	OCSFSeverity int
}

var ruleTable = []ruleInfo{
	{
		ID: audit.RuleMutable, Name: "MutableTags", Level: "error", SecuritySeverity: "8.0", OCSFSeverity: 4,
		Short: "Every tag in the repository can be overwritten",
		Full: "The repository does not make any tag immutable. Anyone with push access can replace a release " +
			"tag with a different image, so nobody can say which image a tag pointed to when it was deployed.",
		Help: "Make every tag immutable: run 'immutag fix --apply', or set the registry's native control " +
			"(ECR imageTagMutability IMMUTABLE, Artifact Registry immutable tags, ACR tag locks, " +
			"Docker Hub immutable tags rule .*, Quay immutability policy .*, Harbor immutability rule **).",
	},
	{
		ID: audit.RuleMutablePatterns, Name: "MutablePatterns", Level: "error", SecuritySeverity: "6.5", OCSFSeverity: 3,
		Short: "Some tag patterns stay mutable and the policy does not allow them",
		Full: "The repository makes only some tags immutable. The patterns left mutable are not listed in " +
			"policy.mutable_tags_allowed, so tags matching them (possibly release tags) can be overwritten.",
		Help: "Make every tag immutable, keeping as exceptions only the patterns policy.mutable_tags_allowed " +
			"allows: run 'immutag fix --apply'. Or add the pattern to policy.mutable_tags_allowed if it is meant to move.",
	},
	{
		ID: audit.RuleUnsupported, Name: "ImmutabilityUnsupported", Level: "warning", SecuritySeverity: "5.0", OCSFSeverity: 3,
		Short: "The registry cannot make this repository's tags immutable",
		Full: "The registry or repository type offers no immutability control (for example Quay without " +
			"FEATURE_IMMUTABLE_TAGS, or an Artifact Registry remote repository), so its tags stay mutable.",
		Help: "Enable the registry feature that provides immutable tags, move the images to a repository " +
			"that supports them, or record a policy.exemptions entry with a reason and an expiry date.",
	},
	{
		ID: audit.RuleUnreadable, Name: "ImmutabilityUnreadable", Level: "warning", SecuritySeverity: "3.0", OCSFSeverity: 2,
		Short: "The immutability setting could not be read",
		Full: "immutag could not read this repository's tag immutability setting (permission denied or an " +
			"API error). It is never counted as compliant.",
		Help: "Grant the scanning identity read access to the repository settings (see examples/ for " +
			"least-privilege policies) and run the audit again.",
	},
	{
		ID: audit.RuleImmutable, Name: "ImmutableTags", Level: "none", OCSFSeverity: 1,
		Short: "Every tag is immutable",
		Full:  "Every tag in the repository is immutable, or only tags that policy.mutable_tags_allowed names stay mutable.",
		Help:  "Nothing to do.",
	},
}

func ruleByID(id string) (ruleInfo, int) {
	for i, r := range ruleTable {
		if r.ID == id {
			return r, i
		}
	}
	if id == RuleScopeUnreadable {
		// Not in ruleTable: SARIF reports unreadable scopes as notifications.
		return ruleInfo{ID: id, Name: "ScopeUnreadable", Level: "error", OCSFSeverity: 2,
			Short: "A scope could not be listed",
			Full:  "immutag could not list this scope (account and region, project, registry or namespace): none of its repositories is in the report.",
			Help:  "Grant the scanning identity list access to the scope (see examples/iam) and run the audit again."}, -1
	}
	return ruleInfo{ID: id, Name: id, Short: id, Full: id, Help: "See the finding's remediation.", Level: "warning", SecuritySeverity: "5.0", OCSFSeverity: 3}, -1
}

// providerNames returns the providers of the summary in a stable order.
func providerNames(r *audit.Report) []string {
	names := make([]string, 0, len(r.Summary.ByProvider))
	for n := range r.Summary.ByProvider {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// badScopes are the scopes that could not be listed.
func badScopes(r *audit.Report) []audit.ScopeResult {
	var bad []audit.ScopeResult
	for _, s := range r.Scopes {
		if s.Status != "ok" {
			bad = append(bad, s)
		}
	}
	return bad
}

// RuleScopeUnreadable is the rule of a scope that could not be listed, in
// the formats that are one row per repository.
const RuleScopeUnreadable = "scope-unreadable"

// scopeRows are findings standing for the scopes that could not be listed,
// for the formats that are one row per repository (CSV, OCSF): without them
// a denied account reads as one with nothing to report. Their id is the
// scope's (no repository is named "").
func scopeRows(r *audit.Report) []audit.Finding {
	var rows []audit.Finding
	for _, s := range badScopes(r) {
		rows = append(rows, audit.Finding{ID: audit.FindingID(s.Provider, s.Scope, ""), Rule: RuleScopeUnreadable,
			Provider: s.Provider, Kind: s.Kind, Scope: s.Scope, Status: audit.StatusError,
			Reason: "scope could not be listed; its repositories are not in this report: " + s.Error})
	}
	return rows
}

// exemptionText is the human line for an exempt finding.
func exemptionText(f audit.Finding) string {
	if f.Exemption == nil {
		return ""
	}
	s := "exempt: " + f.Exemption.Reason
	if f.Exemption.Expires != "" {
		s += " (until " + f.Exemption.Expires + ")"
	}
	return s
}
