package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// OCSFVersion is the OCSF schema release the events follow.
const OCSFVersion = "1.8.0"

// OCSF class and enum values used (Compliance Finding, class 2003).
const (
	ocsfCategoryFindings   = 2
	ocsfClassCompliance    = 2003
	ocsfActivityCreate     = 1
	ocsfStatusNew          = 1
	ocsfStatusSuppressed   = 3
	ocsfCompliancePass     = 1
	ocsfComplianceFail     = 3
	ocsfComplianceUnknown  = 0
	ocsfSeverityInfo       = 1
	ocsfSeverityLow        = 2
	ocsfControl            = "tag-immutability"
	ocsfStandardImmutag    = "immutag tag immutability policy"
	ocsfStandardAWSFSBPECR = "AWS Foundational Security Best Practices ECR.2"
)

var ocsfSeverityName = map[int]string{0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

var ocsfCloud = map[providers.Kind]string{
	providers.KindECR: "AWS", providers.KindArtifactRegistry: "GCP", providers.KindACR: "Azure",
	providers.KindDockerHub: "Docker Hub", providers.KindQuay: "Quay", providers.KindHarbor: "Harbor",
}

var ocsfResourceType = map[providers.Kind]string{
	providers.KindECR: "AwsEcrRepository", providers.KindArtifactRegistry: "GcpArtifactRegistryRepository",
	providers.KindACR: "AzureContainerRegistryRepository", providers.KindDockerHub: "DockerHubRepository",
	providers.KindQuay: "QuayRepository", providers.KindHarbor: "HarborRepository",
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type ocsfMetadata struct {
	Version        string      `json:"version"`
	Product        ocsfProduct `json:"product"`
	UID            string      `json:"uid"`
	CorrelationUID string      `json:"correlation_uid"`
}

type ocsfFindingInfo struct {
	UID   string   `json:"uid"`
	Title string   `json:"title"`
	Desc  string   `json:"desc"`
	Types []string `json:"types"`
}

type ocsfCheck struct {
	UID      string `json:"uid"`
	Name     string `json:"name"`
	Desc     string `json:"desc"`
	Status   string `json:"status"`
	StatusID int    `json:"status_id"`
}

type ocsfCompliance struct {
	Control      string      `json:"control"`
	Standards    []string    `json:"standards"`
	Checks       []ocsfCheck `json:"checks"`
	Status       string      `json:"status"`
	StatusID     int         `json:"status_id"`
	StatusDetail string      `json:"status_detail,omitempty"`
}

type ocsfResource struct {
	UID    string            `json:"uid"`
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Region string            `json:"region,omitempty"`
	Group  map[string]string `json:"group"`
	Data   map[string]any    `json:"data"`
}

type ocsfEvent struct {
	ActivityID   int               `json:"activity_id"`
	ActivityName string            `json:"activity_name"`
	CategoryUID  int               `json:"category_uid"`
	CategoryName string            `json:"category_name"`
	ClassUID     int               `json:"class_uid"`
	ClassName    string            `json:"class_name"`
	TypeUID      int               `json:"type_uid"`
	TypeName     string            `json:"type_name"`
	Time         int64             `json:"time"`
	SeverityID   int               `json:"severity_id"`
	Severity     string            `json:"severity"`
	StatusID     int               `json:"status_id"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	Metadata     ocsfMetadata      `json:"metadata"`
	FindingInfo  ocsfFindingInfo   `json:"finding_info"`
	Compliance   ocsfCompliance    `json:"compliance"`
	Resources    []ocsfResource    `json:"resources"`
	Cloud        map[string]string `json:"cloud"`
	Remediation  *struct {
		Desc string `json:"desc"`
	} `json:"remediation,omitempty"`
	Unmapped map[string]any `json:"unmapped,omitempty"`
}

// regionOf extracts the region or location from an ECR or Artifact
// Registry scope ("ACCOUNT/REGION", "PROJECT/LOCATION").
func regionOf(kind providers.Kind, scope string) string {
	if kind != providers.KindECR && kind != providers.KindArtifactRegistry {
		return ""
	}
	if i := strings.LastIndexByte(scope, '/'); i >= 0 {
		return scope[i+1:]
	}
	return ""
}

func ocsfEventFor(r *audit.Report, f audit.Finding) ocsfEvent {
	ri, _ := ruleByID(f.Rule)
	ev := ocsfEvent{
		ActivityID: ocsfActivityCreate, ActivityName: "Create",
		CategoryUID: ocsfCategoryFindings, CategoryName: "Findings",
		ClassUID: ocsfClassCompliance, ClassName: "Compliance Finding",
		TypeUID: ocsfClassCompliance*100 + ocsfActivityCreate, TypeName: "Compliance Finding: Create",
		Time:       r.Run.FinishedAt.UnixMilli(),
		SeverityID: ri.OCSFSeverity,
		StatusID:   ocsfStatusNew, Status: "New",
		Message: f.Reason,
		Metadata: ocsfMetadata{Version: OCSFVersion,
			Product: ocsfProduct{Name: r.Tool.Name, VendorName: "immutag", Version: r.Tool.Version},
			UID:     r.Run.ID + "/" + f.ID, CorrelationUID: r.Run.ID},
		FindingInfo: ocsfFindingInfo{UID: f.ID, Title: ri.Short, Desc: f.Reason, Types: []string{f.Rule}},
	}
	standards := []string{ocsfStandardImmutag}
	if f.Kind == providers.KindECR {
		standards = append(standards, ocsfStandardAWSFSBPECR)
	}
	cs, cid := "Fail", ocsfComplianceFail
	switch f.Status {
	case audit.StatusCompliant:
		cs, cid = "Pass", ocsfCompliancePass
		ev.SeverityID = ocsfSeverityInfo
	case audit.StatusError:
		cs, cid = "Unknown", ocsfComplianceUnknown
		ev.SeverityID = ocsfSeverityLow
	case audit.StatusExempt:
		ev.StatusID, ev.Status = ocsfStatusSuppressed, "Suppressed"
	}
	ev.Severity = ocsfSeverityName[ev.SeverityID]
	// The control is the same for every verdict, so a SIEM can follow one
	// repository's compliance over time; the check is the rule that decided.
	ev.Compliance = ocsfCompliance{
		Control: ocsfControl, Standards: standards, Status: cs, StatusID: cid,
		Checks: []ocsfCheck{{UID: f.Rule, Name: ri.Short, Desc: ri.Full, Status: cs, StatusID: cid}},
	}
	if f.Exemption != nil {
		ev.Compliance.StatusDetail = exemptionText(f)
	}
	uid := f.URI
	if uid == "" {
		uid = resourceName(f)
	}
	data := map[string]any{"provider": f.Provider, "kind": f.Kind, "scope": f.Scope, "mode": f.Mode, "native": f.Native,
		"mutable_patterns": f.MutablePatterns}
	if len(f.Offending) > 0 {
		data["offending_patterns"] = f.Offending
	}
	if f.TagsTotal != nil && f.TagsLocked != nil {
		data["tags_total"], data["tags_locked"] = *f.TagsTotal, *f.TagsLocked
	}
	rtype := ocsfResourceType[f.Kind]
	if rtype == "" {
		rtype = "ContainerRepository"
	}
	region := regionOf(f.Kind, f.Scope)
	ev.Resources = []ocsfResource{{UID: uid, Name: f.Repository, Type: rtype, Region: region,
		Group: map[string]string{"name": f.Scope}, Data: data}}
	ev.Cloud = map[string]string{"provider": ocsfCloud[f.Kind]}
	if ev.Cloud["provider"] == "" {
		ev.Cloud["provider"] = string(f.Kind)
	}
	if region != "" {
		ev.Cloud["region"] = region
	}
	if f.Remediation != "" {
		ev.Remediation = &struct {
			Desc string `json:"desc"`
		}{Desc: f.Remediation}
	}
	um := map[string]any{"status": f.Status, "rule": f.Rule}
	if f.Exemption != nil {
		um["exemption"] = f.Exemption
	}
	if len(f.ExpiredExemptions) > 0 {
		um["expired_exemptions"] = f.ExpiredExemptions
	}
	ev.Unmapped = map[string]any{"immutag": um}
	return ev
}

// OCSF writes one OCSF Compliance Finding (class_uid 2003) per repository,
// one JSON object per line, for security data lakes and SIEMs. The control
// is tag-immutability for every event; the check is the finding's rule and
// finding_info.uid the finding id, stable across runs. Compliance
// status is Pass, Fail, or Unknown for unreadable repositories; exempt
// repositories Fail with the finding status Suppressed. A scope that could not
// be listed is one more event, Unknown, with rule scope-unreadable.
func OCSF(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := r.Findings.Each(func(f audit.Finding) error {
		return enc.Encode(ocsfEventFor(r, f))
	})
	// A scope that could not be listed is a finding of unknown compliance.
	for _, f := range scopeRows(r) {
		if err == nil {
			err = enc.Encode(ocsfEventFor(r, f))
		}
	}
	if err != nil {
		return fmt.Errorf("ocsf: %w", err)
	}
	return bw.Flush()
}
