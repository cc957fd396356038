package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/immutag/immutag/internal/audit"
)

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitCase struct {
	XMLName   xml.Name      `xml:"testcase"`
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitOut     `xml:"system-out,omitempty"`
}

type junitOut struct {
	Text string `xml:",cdata"`
}

func attr(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }

// JUnit writes a JUnit XML report: one test suite per provider, one test
// case per repository (drift = failure, unreadable = error, exempt =
// skipped), plus an error case per scope that could not be listed, so any
// CI system shows the audit as tests. Each provider's suite is one pass over
// the findings spool: suites need their cases together and memory stays flat.
func JUnit(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")

	scopeErrs := map[string][]audit.ScopeResult{}
	for _, s := range badScopes(r) {
		scopeErrs[s.Provider] = append(scopeErrs[s.Provider], s)
	}
	total := r.Summary.Counts
	secs := strconv.FormatFloat(r.Run.FinishedAt.Sub(r.Run.StartedAt).Seconds(), 'f', 3, 64)
	root := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: []xml.Attr{
		attr("name", "immutag "+r.Run.Command),
		attr("tests", strconv.Itoa(total.Repositories+r.Summary.ScopeErrors)),
		attr("failures", strconv.Itoa(total.Drift)),
		attr("errors", strconv.Itoa(total.Error+r.Summary.ScopeErrors)),
		attr("skipped", strconv.Itoa(total.Exempt)),
		attr("time", secs),
	}}
	if err := enc.EncodeToken(root); err != nil {
		return err
	}
	for _, name := range providerNames(r) {
		c := r.Summary.ByProvider[name]
		se := scopeErrs[name]
		suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: []xml.Attr{
			attr("name", name),
			attr("tests", strconv.Itoa(c.Repositories+len(se))),
			attr("failures", strconv.Itoa(c.Drift)),
			attr("errors", strconv.Itoa(c.Error+len(se))),
			attr("skipped", strconv.Itoa(c.Exempt)),
			attr("time", "0"),
			attr("timestamp", r.Run.StartedAt.UTC().Format("2006-01-02T15:04:05")),
		}}
		if err := enc.EncodeToken(suite); err != nil {
			return err
		}
		for _, s := range se {
			tc := junitCase{Name: "scope " + s.Scope, Classname: name + "." + s.Scope, Time: "0",
				Error: &junitProblem{Message: "scope could not be listed: " + oneLine(s.Error), Type: "scope-unreadable",
					Body: xmlText("The repositories of this scope are not in the report.\n" + s.Error)}}
			if err := enc.Encode(tc); err != nil {
				return err
			}
		}
		err := r.Findings.Each(func(f audit.Finding) error {
			if f.Provider != name {
				return nil
			}
			return enc.Encode(junitCaseFor(f))
		})
		if err != nil {
			return fmt.Errorf("junit: %w", err)
		}
		if err := enc.EncodeToken(suite.End()); err != nil {
			return err
		}
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func junitCaseFor(f audit.Finding) junitCase {
	tc := junitCase{Name: f.Repository, Classname: f.Provider + "." + f.Scope, Time: "0"}
	var b strings.Builder
	fmt.Fprintf(&b, "repository: %s\nuri: %s\nmode: %s", f.Repository, f.URI, f.Mode)
	if f.Native != "" {
		fmt.Fprintf(&b, " (%s)", f.Native)
	}
	if len(f.MutablePatterns) > 0 {
		fmt.Fprintf(&b, "\nmutable patterns: %s", strings.Join(f.MutablePatterns, ", "))
	}
	fmt.Fprintf(&b, "\nreason: %s", f.Reason)
	if f.Remediation != "" {
		fmt.Fprintf(&b, "\nremediation: %s", f.Remediation)
	}
	fmt.Fprintf(&b, "\nfinding id: %s", f.ID)
	switch f.Status {
	case audit.StatusDrift:
		tc.Failure = &junitProblem{Message: oneLine(f.Reason), Type: f.Rule, Body: xmlText(b.String())}
	case audit.StatusError:
		tc.Error = &junitProblem{Message: oneLine(f.Reason), Type: f.Rule, Body: xmlText(b.String())}
	case audit.StatusExempt:
		tc.Skipped = &junitSkipped{Message: exemptionText(f)}
	default:
		tc.SystemOut = &junitOut{Text: xmlText(b.String())}
	}
	return tc
}

// xmlText drops characters XML 1.0 cannot carry: CDATA sections are written
// verbatim, and an API error message may hold control characters.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return -1
	}, s)
}
