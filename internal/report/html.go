package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
)

//go:embed assets/report.css
var htmlCSS string

//go:embed assets/report.js
var htmlJS string

var statusOrder = []audit.Status{audit.StatusCompliant, audit.StatusDrift, audit.StatusExempt, audit.StatusError}

var statusFill = map[audit.Status]string{
	audit.StatusCompliant: "#2e7d32", audit.StatusDrift: "#c62828",
	audit.StatusExempt: "#00838f", audit.StatusError: "#b26a00",
}

func countOf(c audit.Counts, s audit.Status) int {
	switch s {
	case audit.StatusCompliant:
		return c.Compliant
	case audit.StatusDrift:
		return c.Drift
	case audit.StatusExempt:
		return c.Exempt
	case audit.StatusError:
		return c.Error
	}
	return 0
}

type chartSeg struct {
	Status   audit.Status
	Count    int
	X, W     float64
	Fill     string
	Provider string
}

type chartRow struct {
	Provider string
	Total    int
	Y        int
	TextY    int
	EndX     float64
	Segs     []chartSeg
}

type legendItem struct {
	Status audit.Status
	Fill   string
	X      int
}

type chart struct {
	Width, Height, LegendY int
	LabelW                 int
	Rows                   []chartRow
	Legend                 []legendItem
}

const (
	chartLabelW = 170
	chartBarW   = 540
	chartRowH   = 30
	chartBarH   = 20
)

// buildChart lays out one stacked bar per provider on a shared scale, so
// providers of different sizes compare at a glance.
func buildChart(r *audit.Report) chart {
	names := providerNames(r)
	max := 1
	for _, n := range names {
		if c := r.Summary.ByProvider[n].Repositories; c > max {
			max = c
		}
	}
	scale := float64(chartBarW) / float64(max)
	ch := chart{LabelW: chartLabelW, Width: chartLabelW + chartBarW + 60}
	for i, n := range names {
		c := r.Summary.ByProvider[n]
		row := chartRow{Provider: n, Total: c.Repositories, Y: 8 + i*chartRowH}
		row.TextY = row.Y + chartBarH/2 + 4
		x := float64(chartLabelW)
		for _, s := range statusOrder {
			k := countOf(c, s)
			if k == 0 {
				continue
			}
			w := float64(k) * scale
			row.Segs = append(row.Segs, chartSeg{Status: s, Count: k, X: x, W: w, Fill: statusFill[s], Provider: n})
			x += w
		}
		row.EndX = x + 6
		ch.Rows = append(ch.Rows, row)
	}
	ch.LegendY = 8 + len(names)*chartRowH + 10
	ch.Height = ch.LegendY + 20
	for i, s := range statusOrder {
		ch.Legend = append(ch.Legend, legendItem{Status: s, Fill: statusFill[s], X: chartLabelW + i*110})
	}
	return ch
}

type htmlHead struct {
	R         *audit.Report
	Verdict   string
	VerdictID string
	Duration  string
	DryRun    string
	Providers []string
	ByProv    []provCounts
	Chart     chart
	CSS       template.CSS
	Statuses  []audit.Status
	BadScopes []audit.ScopeResult
	Rules     []ruleInfo
	Total     int
}

type provCounts struct {
	Name string
	audit.Counts
}

type htmlRow struct {
	F         audit.Finding
	Rank      int
	Mode      string
	Exemption string
}

var htmlTmpl = template.Must(template.New("html").Funcs(template.FuncMap{
	"f1":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"rfc": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join": func(s []string) string {
		return strings.Join(s, ", ")
	},
}).Parse(`{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="{{.R.Tool.Name}} {{.R.Tool.Version}}">
<title>immutag {{.R.Run.Command}} report · {{rfc .R.Run.FinishedAt}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header>
<h1>Container image tag immutability: {{.R.Run.Command}} report</h1>
<p class="verdict" id="verdict" data-verdict="{{.VerdictID}}">{{.Verdict}}</p>
</header>

<section id="run">
<h2>Run</h2>
<dl class="meta">
<dt>Tool</dt><dd id="meta-tool">{{.R.Tool.Name}} {{.R.Tool.Version}}</dd>
<dt>Run id</dt><dd id="meta-run-id">{{.R.Run.ID}}</dd>
<dt>Command</dt><dd id="meta-command">{{.R.Run.Command}}{{.DryRun}}</dd>
<dt>Started</dt><dd id="meta-started">{{rfc .R.Run.StartedAt}}</dd>
<dt>Finished</dt><dd id="meta-finished">{{rfc .R.Run.FinishedAt}} ({{.Duration}})</dd>
{{- if .R.Run.ConfigFile}}
<dt>Config file</dt><dd id="meta-config-file">{{.R.Run.ConfigFile}}</dd>
{{- end}}
<dt>Config SHA-256</dt><dd id="meta-config-sha256">{{if .R.Run.ConfigSHA256}}{{.R.Run.ConfigSHA256}}{{else}}(none){{end}}</dd>
<dt>Report schema</dt><dd>schema_version {{.R.SchemaVersion}}</dd>
</dl>
</section>

<section id="summary">
<h2>Summary</h2>
<div class="cards">
<div class="card"><span class="num" id="count-repositories">{{.R.Summary.Repositories}}</span>repositories</div>
<div class="card compliant"><span class="num" id="count-compliant">{{.R.Summary.Compliant}}</span>compliant</div>
<div class="card drift"><span class="num" id="count-drift">{{.R.Summary.Drift}}</span>drift</div>
<div class="card exempt"><span class="num" id="count-exempt">{{.R.Summary.Exempt}}</span>exempt</div>
<div class="card error"><span class="num" id="count-error">{{.R.Summary.Error}}</span>error (unreadable)</div>
<div class="card error"><span class="num" id="count-scope-errors">{{.R.Summary.ScopeErrors}}</span>unreadable scopes</div>
</div>
<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}" role="img" aria-label="Repositories by status for each provider">
{{- range .Chart.Rows}}
<text x="{{$.Chart.LabelW}}" dx="-8" y="{{.TextY}}" text-anchor="end">{{.Provider}}</text>
{{- $row := .}}
{{- range .Segs}}
<rect class="seg" data-provider="{{.Provider}}" data-status="{{.Status}}" data-count="{{.Count}}" x="{{f1 .X}}" y="{{$row.Y}}" width="{{f1 .W}}" height="20" fill="{{.Fill}}"><title>{{.Provider}}: {{.Count}} {{.Status}}</title></rect>
{{- end}}
<text class="total" x="{{f1 .EndX}}" y="{{.TextY}}" data-provider="{{.Provider}}">{{.Total}}</text>
{{- end}}
{{- range .Chart.Legend}}
<rect x="{{.X}}" y="{{$.Chart.LegendY}}" width="12" height="12" fill="{{.Fill}}"></rect><text x="{{.X}}" dx="16" y="{{$.Chart.LegendY}}" dy="11">{{.Status}}</text>
{{- end}}
</svg>
<table id="by-provider">
<thead><tr><th>Provider</th><th class="n">Repositories</th><th class="n">Compliant</th><th class="n">Drift</th><th class="n">Exempt</th><th class="n">Error</th></tr></thead>
<tbody>
{{- range .ByProv}}
<tr data-provider="{{.Name}}"><td>{{.Name}}</td><td class="n repositories">{{.Repositories}}</td><td class="n compliant">{{.Compliant}}</td><td class="n drift">{{.Drift}}</td><td class="n exempt">{{.Exempt}}</td><td class="n error">{{.Error}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- if .BadScopes}}

<section id="unreadable-scopes">
<h2>Unreadable scopes</h2>
<p>These scopes could not be listed; their repositories are not in this report.</p>
<ul>
{{- range .BadScopes}}
<li><strong>{{.Provider}}</strong> <code>{{.Scope}}</code>: {{.Error}}</li>
{{- end}}
</ul>
</section>
{{- end}}
{{- if .R.Overwrites}}

<section id="overwrites">
<h2>Overwritten tags ({{len .R.Overwrites}})</h2>
<p>Tags naming another image than the ledger recorded; in a repository immutable now, an incident. <code>immutag history --moved</code> lists them all.</p>
<table id="overwrites-table">
<thead><tr><th>Provider</th><th>Scope</th><th>Tag</th><th>Previous digest</th><th>Last seen</th><th>New digest</th><th>Seen</th><th>Immutable now</th></tr></thead>
<tbody>
{{- range .R.Overwrites}}
<tr data-immutable="{{.Immutable}}"><td>{{.Provider}}</td><td><code>{{.Scope}}</code></td><td><code>{{.Repository}}:{{.Tag}}</code></td><td><code>{{.Previous}}</code></td><td>{{rfc .LastSeenAt}}</td><td><code>{{.Digest}}</code></td><td>{{rfc .SeenAt}}</td><td>{{if .Immutable}}<strong>yes: incident</strong>{{else}}no{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .R.Warnings}}

<section id="warnings">
<h2>Warnings</h2>
<ul>
{{- range .R.Warnings}}
<li><strong>{{.Provider}}</strong>{{if .Scope}} <code>{{.Scope}}</code>{{end}} [{{.Code}}]: {{.Message}}</li>
{{- end}}
</ul>
</section>
{{- end}}

<section id="findings">
<h2>Findings</h2>
<div class="controls">
<input id="filter" type="search" placeholder="Filter by repository, scope, reason…" aria-label="Filter findings">
<select id="status-filter" aria-label="Status"><option value="">all statuses</option>{{range .Statuses}}<option value="{{.}}">{{.}}</option>{{end}}</select>
<select id="provider-filter" aria-label="Provider"><option value="">all providers</option>{{range .Providers}}<option value="{{.}}">{{.}}</option>{{end}}</select>
<span id="shown" data-shown="{{.Total}}">{{.Total}} of {{.Total}} shown</span>
</div>
<table id="findings-table">
<thead><tr><th data-key="status">Status</th><th data-key="provider">Provider</th><th data-key="scope">Scope</th><th data-key="repository">Repository</th><th data-key="mode">Mode</th><th data-key="reason">Reason</th><th data-key="remediation">Remediation</th></tr></thead>
<tbody>
{{- end}}

{{define "row"}}
<tr data-status="{{.F.Status}}" data-provider="{{.F.Provider}}" data-id="{{.F.ID}}"><td data-sort="{{.Rank}}"><span class="badge {{.F.Status}}">{{.F.Status}}</span></td><td>{{.F.Provider}}</td><td><code>{{.F.Scope}}</code></td><td>{{.F.Repository}}{{if .F.URI}}<div class="uri">{{.F.URI}}</div>{{end}}</td><td>{{.Mode}}{{if .F.MutablePatterns}}<div class="sub">mutable: {{join .F.MutablePatterns}}</div>{{end}}</td><td>{{.F.Reason}}{{if .Exemption}}<div class="sub">{{.Exemption}}</div>{{end}}</td><td class="remediation">{{.F.Remediation}}</td></tr>
{{- end}}

{{define "tail"}}
</tbody>
</table>
</section>
{{- end}}

{{define "changes-head"}}

<section id="changes">
<h2>Changes ({{.}})</h2>
<table id="changes-table">
<thead><tr><th>Provider</th><th>Scope</th><th>Repository</th><th>State</th><th>From</th><th>To</th><th>Action</th><th class="n">Writes</th></tr></thead>
<tbody>
{{- end}}

{{define "change"}}
<tr data-state="{{.State}}"><td>{{.Provider}}</td><td><code>{{.Scope}}</code></td><td>{{.Repository}}{{if .Target}} [{{.Target}}]{{end}}</td><td>{{.State}}{{if .Error}}: {{.Error}}{{end}}</td><td>{{.From.String}}</td><td>{{.To.String}}</td><td>{{.Action}}</td><td class="n">{{.Writes}}</td></tr>
{{- end}}

{{define "changes-tail"}}
</tbody>
</table>
</section>
{{- end}}

{{define "foot"}}

<section id="rules">
<h2>Finding types</h2>
<dl class="meta">
{{- range .Rules}}
<dt><code>{{.ID}}</code></dt><dd>{{.Short}}. {{.Help}}</dd>
{{- end}}
</dl>
</section>
<footer>Generated by immutag. This file is self-contained: it loads nothing from the network.</footer>
<script>{{.JS}}</script>
</body>
</html>
{{end}}`))

// HTML writes one self-contained, offline HTML file for auditors: run
// metadata, counts, an inline SVG chart of status by provider, a findings
// table with remediation per repository that filters and sorts with a
// little inline JavaScript, unreadable scopes, warnings and changes.
// Rows are sorted (drift first) when the estate is at most sortLimit
// repositories, else they stream in arrival order.
func HTML(w io.Writer, r *audit.Report, _ Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	verdictID := "clean"
	switch {
	case r.Summary.Drift > 0:
		verdictID = "drift"
	case r.Summary.Incomplete():
		verdictID = "incomplete"
	}
	head := htmlHead{
		R: r, Verdict: headline(r), VerdictID: verdictID,
		Duration:  r.Run.FinishedAt.Sub(r.Run.StartedAt).Round(time.Millisecond).String(),
		Providers: providerNames(r), Chart: buildChart(r), CSS: template.CSS(htmlCSS),
		Statuses: statusOrder, BadScopes: badScopes(r), Total: r.Findings.Len(),
	}
	if r.Run.DryRun != nil {
		if *r.Run.DryRun {
			head.DryRun = " (dry run: nothing changed)"
		} else {
			head.DryRun = " (--apply)"
		}
	}
	for _, n := range head.Providers {
		head.ByProv = append(head.ByProv, provCounts{Name: n, Counts: r.Summary.ByProvider[n]})
	}
	if err := htmlTmpl.ExecuteTemplate(bw, "head", head); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	err := r.Findings.EachSorted(sortLimit, compareFinding, func(f audit.Finding) error {
		mode := string(f.Mode)
		if f.Native != "" {
			mode += " (" + f.Native + ")"
		}
		return htmlTmpl.ExecuteTemplate(bw, "row", htmlRow{F: f, Rank: statusRank(f.Status), Mode: mode, Exemption: exemptionText(f)})
	})
	if err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if err := htmlTmpl.ExecuteTemplate(bw, "tail", nil); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if r.Changes != nil && r.Changes.Len() > 0 {
		if err := htmlTmpl.ExecuteTemplate(bw, "changes-head", r.Changes.Len()); err != nil {
			return fmt.Errorf("html: %w", err)
		}
		err := r.Changes.Each(func(c audit.ChangeRecord) error {
			return htmlTmpl.ExecuteTemplate(bw, "change", c)
		})
		if err != nil {
			return fmt.Errorf("html: %w", err)
		}
		if err := htmlTmpl.ExecuteTemplate(bw, "changes-tail", nil); err != nil {
			return fmt.Errorf("html: %w", err)
		}
	}
	foot := struct {
		Rules []ruleInfo
		JS    template.JS
	}{ruleTable, template.JS(htmlJS)}
	if err := htmlTmpl.ExecuteTemplate(bw, "foot", foot); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return bw.Flush()
}
