// Package audit turns what adapters read into statuses (pure policy
// evaluation), runs scans and fixes concurrently, and builds the report model.
package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Status is a repository's verdict (contract).
type Status string

// Statuses (contract, lower-case in JSON).
const (
	StatusCompliant Status = "compliant"
	StatusDrift     Status = "drift"
	StatusExempt    Status = "exempt"
	StatusError     Status = "error"
)

// Rule ids name the finding type; SARIF and JUnit use them.
const (
	RuleImmutable       = "immutable-tags"   // compliant
	RuleMutable         = "mutable-tags"     // nothing immutable
	RuleMutablePatterns = "mutable-patterns" // partial, some pattern not allowed
	RuleUnsupported     = "unsupported"      // registry cannot enforce
	RuleUnreadable      = "unreadable"       // setting could not be read
)

// Policy is the evaluated part of the config.
type Policy struct {
	MutableTagsAllowed []string
	Exemptions         []config.Exemption
	// Now decides which exemptions have expired.
	Now time.Time
	// AcceptImmutableAllowed lets fixes make allowed tags immutable where
	// the registry cannot keep them mutable (fix --accept-immutable-allowed-tags).
	AcceptImmutableAllowed bool
}

// PolicyFrom converts the config policy.
func PolicyFrom(p config.Policy, now time.Time) Policy {
	return Policy{MutableTagsAllowed: p.MutableTagsAllowed, Exemptions: p.Exemptions, Now: now}
}

// Fix returns the part of the policy a fix must respect.
func (p Policy) Fix() providers.FixPolicy {
	return providers.FixPolicy{MutableTagsAllowed: slices.Clone(p.MutableTagsAllowed), AcceptImmutableAllowed: p.AcceptImmutableAllowed}
}

// ExemptionRef records which exemption applied (or had expired).
type ExemptionRef struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	Expired bool   `json:"expired,omitempty"`
	// Default is true for exemptions built into immutag (pull-through cache, remote repositories).
	Default bool `json:"default,omitempty"`
}

// Evaluation is the verdict for one repository.
type Evaluation struct {
	Status      Status
	Rule        string
	Reason      string
	Remediation string
	// Offending are the mutable patterns the policy does not allow.
	Offending []string
	Exemption *ExemptionRef
	// ExpiredExemptions matched but are past their date; they are reported, not applied.
	ExpiredExemptions []ExemptionRef
}

// normalise is the only transformation applied before comparing patterns:
// anything more (regex equivalence, case folding) would be a guess.
func normalise(p string) string { return strings.TrimSpace(p) }

// allowed reports whether pattern is in the allow-list after normalisation.
func allowed(pattern string, allow []string) bool {
	n := normalise(pattern)
	for _, a := range allow {
		if normalise(a) == n && n != "" {
			return true
		}
	}
	return false
}

// Evaluate applies the policy to one repository. It is pure: same input, same output.
func Evaluate(r providers.Repository, p Policy) Evaluation {
	ev := evaluateMode(r, p)
	if ev.Status != StatusDrift {
		return ev
	}
	if r.DefaultExemption != "" {
		// Mutable by nature (a pull-through cache, a remote repository):
		// no remediation applies, and offering one would mislead.
		ev.Status = StatusExempt
		ev.Exemption = &ExemptionRef{Reason: r.DefaultExemption, Default: true}
		ev.Remediation = ""
		return ev
	}
	for _, e := range p.Exemptions {
		if !e.Matches(r.Provider, r.Scope, r.Name) {
			continue
		}
		ref := ExemptionRef{Reason: e.Reason}
		if !e.Expires.IsZero() {
			ref.Expires = e.Expires.Format(time.DateOnly)
		}
		if e.Active(p.Now) {
			ev.Status = StatusExempt
			ev.Exemption = &ref
			return ev
		}
		ref.Expired = true
		ev.ExpiredExemptions = append(ev.ExpiredExemptions, ref)
	}
	if n := len(ev.ExpiredExemptions); n > 0 {
		ev.Reason += fmt.Sprintf(" (exemption %q expired on %s)", ev.ExpiredExemptions[0].Reason, ev.ExpiredExemptions[0].Expires)
	}
	return ev
}

func evaluateMode(r providers.Repository, p Policy) Evaluation {
	im := r.Immutability
	switch im.Mode {
	case providers.ModeImmutable:
		reason := "every tag is immutable"
		if im.Note != "" {
			// e.g. ACR: today's tags are locked, tomorrow's will not be.
			reason += "; " + im.Note
		}
		return Evaluation{Status: StatusCompliant, Rule: RuleImmutable, Reason: reason}
	case providers.ModePartial:
		if len(im.MutablePatterns) == 0 {
			// Nothing says which tags stay mutable, so compliance cannot be shown.
			return Evaluation{Status: StatusDrift, Rule: RuleMutablePatterns,
				Reason:      "only some tags are immutable and the mutable ones are not known",
				Remediation: remediation(r, p)}
		}
		var off []string
		for _, m := range im.MutablePatterns {
			if !allowed(m, p.MutableTagsAllowed) {
				off = append(off, m)
			}
		}
		if len(off) == 0 {
			return Evaluation{Status: StatusCompliant, Rule: RuleImmutable,
				Reason: "immutable except " + quoteList(im.MutablePatterns) + ", allowed by policy.mutable_tags_allowed"}
		}
		return Evaluation{Status: StatusDrift, Rule: RuleMutablePatterns, Offending: off,
			Reason:      "tags matching " + quoteList(off) + " can be overwritten and policy.mutable_tags_allowed does not allow it",
			Remediation: remediation(r, p)}
	case providers.ModeMutable:
		return Evaluation{Status: StatusDrift, Rule: RuleMutable, Offending: []string{"*"},
			Reason: "every tag can be overwritten", Remediation: remediation(r, p)}
	case providers.ModeUnsupported:
		reason := "the registry cannot make this repository's tags immutable"
		if im.Note != "" {
			reason += ": " + im.Note
		}
		return Evaluation{Status: StatusDrift, Rule: RuleUnsupported, Reason: reason, Remediation: remediation(r, p)}
	default:
		reason := "immutability setting could not be read"
		if im.Error != "" {
			reason += ": " + im.Error
		}
		return Evaluation{Status: StatusError, Rule: RuleUnreadable, Reason: reason,
			Remediation: cmp.Or(r.Remediation, "grant read access to the repository's settings and run the audit again")}
	}
}

func quoteList(ps []string) string {
	q := make([]string, len(ps))
	for i, p := range ps {
		q[i] = fmt.Sprintf("%q", p)
	}
	return strings.Join(q, ", ")
}

// remediation says what would fix the repository, per registry.
func remediation(r providers.Repository, p Policy) string {
	if r.Remediation != "" {
		return r.Remediation
	}
	switch r.Kind {
	case providers.KindECR:
		if len(p.MutableTagsAllowed) > 0 {
			return fmt.Sprintf("set imageTagMutability IMMUTABLE (or IMMUTABLE_WITH_EXCLUSION with only %s): immutag fix --apply, or aws ecr put-image-tag-mutability --repository-name %s --image-tag-mutability IMMUTABLE", quoteList(p.MutableTagsAllowed), r.Name)
		}
		return fmt.Sprintf("set imageTagMutability IMMUTABLE: immutag fix --apply, or aws ecr put-image-tag-mutability --repository-name %s --image-tag-mutability IMMUTABLE", r.Name)
	case providers.KindArtifactRegistry:
		if len(p.MutableTagsAllowed) > 0 {
			return fmt.Sprintf("enable immutable tags (dockerConfig.immutableTags=true); Artifact Registry cannot keep %s mutable, so accept that they become immutable too: immutag fix --apply --accept-immutable-allowed-tags, or gcloud artifacts repositories update --immutable-tags", quoteList(p.MutableTagsAllowed))
		}
		return "enable immutable tags (dockerConfig.immutableTags=true): immutag fix --apply, or gcloud artifacts repositories update --immutable-tags"
	case providers.KindACR:
		if len(p.MutableTagsAllowed) > 0 {
			return fmt.Sprintf("lock every tag except %s (writeEnabled=false, deleteEnabled=false): immutag fix --apply; new tags start unlocked, so run immutag serve --enforce or a webhook", quoteList(p.MutableTagsAllowed))
		}
		return "lock every tag (writeEnabled=false, deleteEnabled=false): immutag fix --apply; new tags start unlocked, so run immutag serve --enforce or a webhook"
	case providers.KindDockerHub:
		if len(p.MutableTagsAllowed) > 0 {
			return fmt.Sprintf("enable immutable tags with one rule matching every tag except %s: immutag fix --apply", quoteList(p.MutableTagsAllowed))
		}
		return "enable immutable tags with the rule .*: immutag fix --apply, or the repository's Settings > Immutable tags"
	case providers.KindQuay:
		if r.Mode == providers.ModeUnsupported {
			return "enable FEATURE_IMMUTABLE_TAGS (Quay 3.17+) in the Quay config, then run immutag fix --apply"
		}
		if len(p.MutableTagsAllowed) > 0 {
			return fmt.Sprintf("add an immutability policy with tagPatternMatches false on the allowed tags (%s) to the organisation or repository: immutag fix --apply", quoteList(p.MutableTagsAllowed))
		}
		return "add an immutability policy {tagPattern: .*, tagPatternMatches: true} to the organisation or repository: immutag fix --apply"
	case providers.KindHarbor:
		return "add a project immutability rule (repositories **, tags **): immutag fix --apply"
	}
	return "make every tag immutable: immutag fix --apply"
}
