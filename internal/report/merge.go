package report

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/safefile"
)

// MergeProblem is a shard that is missing or given twice: the merged report
// is then incomplete, and the problem is recorded in it as an unreadable
// scope so every format and the exit code say so.
type MergeProblem struct {
	Shard   int
	Message string
}

// shardHead is what a shard report holds besides its findings and changes.
type shardHead struct {
	path       string
	tool       audit.Tool
	run        audit.Run
	prov       []string // summary.by_provider keys: the providers selected
	byProvider map[string]json.RawMessage
	scopes     []audit.ScopeResult
	warnings   []providers.Warning
	overwrites []audit.Overwrite
}

// Merge joins the reports of the shards of one split run (audit or fix
// --shard I/N) into the report a single run would have written: findings
// and changes in the one stable order, scopes split between shards joined,
// warnings unioned, the summary recomputed. Reports of different configs,
// provider selections, commands or shard counts are refused. A missing or
// duplicated shard does not stop the merge: it is returned as a problem
// and recorded in the report. Shards list their findings in the stable
// order already, so the merge streams them (memory does not grow with the
// number of findings); a report that is not in order is sorted on disk
// first. The caller closes the result.
func Merge(paths []string) (*audit.Report, []MergeProblem, error) {
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no report to merge")
	}
	var (
		heads  []*shardHead
		absent []string
	)
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			// A shard that failed wrote nothing: that is a missing shard,
			// which the merged report records, not a reason to write none.
			absent = append(absent, p)
			continue
		}
		h, err := readHead(p)
		if err != nil {
			return nil, nil, err
		}
		if h.run.Shard == nil {
			return nil, nil, fmt.Errorf("report %s: not a shard report (no run.shard: it was not written with --shard)", p)
		}
		if sh := h.run.Shard; sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
			return nil, nil, fmt.Errorf("report %s: run.shard %d/%d is impossible (want 0 <= index < count)", p, sh.Index, sh.Count)
		}
		if len(heads) > 0 {
			if err := sameRun(heads[0], h); err != nil {
				return nil, nil, err
			}
		}
		heads = append(heads, h)
	}
	if len(heads) == 0 {
		return nil, nil, fmt.Errorf("none of the shard reports exists: %s", strings.Join(absent, ", "))
	}
	first := heads[0]
	count := first.run.Shard.Count
	seen := map[int]string{}
	var problems []MergeProblem
	var use []*shardHead
	for _, h := range heads {
		i := h.run.Shard.Index
		if prev, dup := seen[i]; dup {
			problems = append(problems, MergeProblem{Shard: i, Message: fmt.Sprintf("shard %d/%d is given twice (%s and %s): only the first is used", i, count, prev, h.path)})
			continue
		}
		seen[i] = h.path
		use = append(use, h)
	}
	for i := range count {
		if _, ok := seen[i]; !ok {
			msg := fmt.Sprintf("shard %d/%d is missing: its repositories are not in this report", i, count)
			if len(absent) > 0 {
				msg += fmt.Sprintf(" (no such file: %s)", strings.Join(absent, ", "))
			}
			problems = append(problems, MergeProblem{Shard: i, Message: msg})
		}
	}
	slices.SortStableFunc(problems, func(a, b MergeProblem) int { return cmp.Compare(a.Shard, b.Shard) })

	out := &audit.Report{
		SchemaVersion: audit.SchemaVersion,
		Tool:          first.tool,
		Summary:       audit.Summary{ByProvider: map[string]audit.Counts{}},
	}
	for _, p := range first.prov {
		out.Summary.ByProvider[p] = audit.Counts{}
	}
	run := first.run
	run.Shard, run.ConfigLines = nil, nil
	run.MergedShards = len(use)
	type scopeKey struct{ provider, scope string }
	scopes := map[scopeKey]audit.ScopeResult{}
	warnings := map[providers.Warning]bool{}
	overwrites := map[audit.Overwrite]bool{}
	recorded := false
	for _, h := range use {
		run.StartedAt = minTime(run.StartedAt, h.run.StartedAt)
		if h.run.FinishedAt.After(run.FinishedAt) {
			run.FinishedAt = h.run.FinishedAt
		}
		for k, v := range h.run.ConfigLines {
			if run.ConfigLines == nil {
				run.ConfigLines = map[string]int{}
			}
			run.ConfigLines[k] = v
		}
		for _, s := range h.scopes {
			k := scopeKey{s.Provider, s.Scope}
			m, ok := scopes[k]
			if !ok {
				scopes[k] = s
				continue
			}
			// A scope split between shards: each listed it and kept its
			// own repositories.
			m.Repositories += s.Repositories
			if s.Status != "ok" && m.Status == "ok" {
				m.Status, m.Error = s.Status, s.Error
			}
			scopes[k] = m
		}
		for _, w := range h.warnings {
			warnings[w] = true
		}
		recorded = recorded || h.overwrites != nil
		for _, o := range h.overwrites {
			overwrites[o] = true
		}
	}
	out.Run = run

	count1 := func(f audit.Finding) {
		out.Summary.Counts.Add(f.Status)
		c := out.Summary.ByProvider[f.Provider]
		c.Add(f.Status)
		out.Summary.ByProvider[f.Provider] = c
	}
	findings, changes, err := mergeBodies(use, count1)
	if err != nil {
		return nil, nil, err
	}
	out.Findings, out.Changes = findings, changes

	for _, p := range problems {
		name := fmt.Sprintf("shard %d/%d", p.Shard, count)
		scopes[scopeKey{"*", name}] = audit.ScopeResult{Provider: "*", Kind: "shard", Scope: name, Status: "error", Error: p.Message}
	}
	out.Scopes = slices.SortedFunc(maps.Values(scopes), func(a, b audit.ScopeResult) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope))
	})
	for _, s := range out.Scopes {
		if s.Status != "ok" {
			out.Summary.ScopeErrors++
		}
	}
	out.Warnings = slices.SortedFunc(maps.Keys(warnings), audit.CompareWarnings)
	if out.Warnings == nil {
		out.Warnings = []providers.Warning{}
	}
	if recorded {
		out.Overwrites = nonNil(slices.SortedFunc(maps.Keys(overwrites), func(a, b audit.Overwrite) int {
			return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope),
				cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Tag, b.Tag), a.SeenAt.Compare(b.SeenAt))
		}))
	}
	return out, problems, nil
}

// readHead reads a report's small members, stopping at its findings.
func readHead(path string) (*shardHead, error) {
	f, err := safefile.Open(path, safefile.ReportLimit)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	defer f.Close()
	h := &shardHead{path: path}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, notReport(err))
	}
	var (
		version int
		summary struct {
			ByProvider map[string]json.RawMessage `json:"by_provider"`
		}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", path, notReport(err))
		}
		key, _ := tok.(string)
		switch key {
		case "schema_version":
			err = dec.Decode(&version)
		case "tool":
			err = dec.Decode(&h.tool)
		case "run":
			err = dec.Decode(&h.run)
		case "summary":
			err = dec.Decode(&summary)
			h.byProvider = summary.ByProvider
		case "scopes":
			err = dec.Decode(&h.scopes)
		case "warnings":
			err = dec.Decode(&h.warnings)
		case "overwrites":
			err = dec.Decode(&h.overwrites)
		case "findings", "changes":
			// The head ends here: findings and changes are streamed by
			// mergeBodies, which reads any member after them too.
			return h, checkHead(path, h, version)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, fmt.Errorf("report %s: %s: %w", path, key, err)
		}
	}
	return h, checkHead(path, h, version)
}

func checkHead(path string, h *shardHead, version int) error {
	h.prov = slices.Sorted(maps.Keys(h.byProvider))
	if version != audit.SchemaVersion {
		return fmt.Errorf("report %s: schema_version %d is not supported (this build reads %d)", path, version, audit.SchemaVersion)
	}
	if h.tool.Name != "immutag" {
		return fmt.Errorf("report %s: not an immutag JSON report: tool.name is %q", path, h.tool.Name)
	}
	return nil
}

// bodyStream reads one shard report's findings, then its changes.
type bodyStream struct {
	path string
	f    io.ReadCloser
	dec  *json.Decoder
	// inFindings: the decoder is inside the findings array.
	inFindings bool
	cur        audit.Finding
	have       bool // cur holds a finding read before
	changesTo  *audit.Spool[audit.ChangeRecord]
	sawChanges bool
}

// mergeBodies streams every shard's findings in the stable order into a new
// spool, calling count for each, and gathers their changes in order.
func mergeBodies(heads []*shardHead, count func(audit.Finding)) (*audit.Spool[audit.Finding], *audit.Spool[audit.ChangeRecord], error) {
	var streams []*bodyStream
	defer func() {
		for _, s := range streams {
			s.f.Close()
		}
	}()
	changes := audit.NewSpool[audit.ChangeRecord]()
	hasChanges := false
	for _, h := range heads {
		s, err := openBody(h.path, changes)
		if err != nil {
			changes.Close()
			return nil, nil, err
		}
		streams = append(streams, s)
	}
	out := audit.NewSpool[audit.Finding]()
	fail := func(err error) (*audit.Spool[audit.Finding], *audit.Spool[audit.ChangeRecord], error) {
		out.Close()
		changes.Close()
		return nil, nil, err
	}
	sorted := true
	h := &streamHeap{}
	for _, s := range streams {
		ok, err := s.next(&sorted)
		if err != nil {
			return fail(err)
		}
		if ok {
			h.items = append(h.items, s)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		s := h.items[0]
		f := s.cur
		if err := out.Add(f); err != nil {
			return fail(err)
		}
		count(f)
		ok, err := s.next(&sorted)
		if err != nil {
			return fail(err)
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	for _, s := range streams {
		if err := s.rest(); err != nil {
			return fail(err)
		}
		if s.sawChanges {
			hasChanges = true
		}
	}
	if !sorted {
		// A shard report out of order (edited, or from another tool):
		// sort what was merged on disk rather than emit it wrong.
		resorted, err := audit.SortSpool(audit.CompareFindings, audit.SortRun, out.Each)
		out.Close()
		if err != nil {
			changes.Close()
			return nil, nil, err
		}
		out = resorted
	}
	if !hasChanges {
		changes.Close()
		return out, nil, nil
	}
	sortedChanges, err := audit.SortSpool(audit.CompareChanges, audit.SortRun, changes.Each)
	changes.Close()
	if err != nil {
		out.Close()
		return nil, nil, err
	}
	return out, sortedChanges, nil
}

func openBody(path string, changes *audit.Spool[audit.ChangeRecord]) (*bodyStream, error) {
	f, err := safefile.Open(path, safefile.ReportLimit)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	s := &bodyStream{path: path, f: f, dec: json.NewDecoder(bufio.NewReaderSize(f, 256<<10)), changesTo: changes}
	if err := expectDelim(s.dec, '{'); err != nil {
		f.Close()
		return nil, fmt.Errorf("report %s: %w", path, notReport(err))
	}
	// Skip to the findings array; changes before it are gathered.
	for s.dec.More() {
		key, err := s.key()
		if err != nil {
			f.Close()
			return nil, err
		}
		switch key {
		case "findings":
			if err := expectDelim(s.dec, '['); err != nil {
				f.Close()
				return nil, fmt.Errorf("report %s: findings: %w", path, err)
			}
			s.inFindings = true
			s.changesTo = changes
			return s, nil
		case "changes":
			if err := s.readChanges(changes); err != nil {
				f.Close()
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := s.dec.Decode(&skip); err != nil {
				f.Close()
				return nil, fmt.Errorf("report %s: %s: %w", path, key, err)
			}
		}
	}
	f.Close()
	return nil, fmt.Errorf("report %s: not an immutag JSON report: no \"findings\"", path)
}

func (s *bodyStream) key() (string, error) {
	tok, err := s.dec.Token()
	if err != nil {
		return "", fmt.Errorf("report %s: %w", s.path, notReport(err))
	}
	k, _ := tok.(string)
	return k, nil
}

// next decodes the next finding; false at the end of the array. It clears
// *sorted when the shard's findings are not in the stable order.
func (s *bodyStream) next(sorted *bool) (bool, error) {
	if !s.inFindings || !s.dec.More() {
		if s.inFindings {
			if err := expectDelim(s.dec, ']'); err != nil {
				return false, fmt.Errorf("report %s: findings: %w", s.path, err)
			}
			s.inFindings = false
		}
		return false, nil
	}
	var f audit.Finding
	if err := s.dec.Decode(&f); err != nil {
		return false, fmt.Errorf("report %s: findings: %w", s.path, err)
	}
	if err := checkFinding(f); err != nil {
		return false, fmt.Errorf("report %s: findings: %w", s.path, err)
	}
	if s.have && audit.CompareFindings(s.cur, f) > 0 {
		*sorted = false
	}
	s.cur, s.have = f, true
	return true, nil
}

// rest reads what follows the findings: changes (fix runs) and anything a
// newer writer added, which is skipped.
func (s *bodyStream) rest() error {
	for s.dec.More() {
		key, err := s.key()
		if err != nil {
			return err
		}
		if key == "changes" {
			if err := s.readChanges(s.changesTo); err != nil {
				return err
			}
			continue
		}
		var skip json.RawMessage
		if err := s.dec.Decode(&skip); err != nil {
			return fmt.Errorf("report %s: %s: %w", s.path, key, err)
		}
	}
	return expectDelim(s.dec, '}')
}

func (s *bodyStream) readChanges(to *audit.Spool[audit.ChangeRecord]) error {
	if err := expectDelim(s.dec, '['); err != nil {
		return fmt.Errorf("report %s: changes: %w", s.path, err)
	}
	for s.dec.More() {
		var c audit.ChangeRecord
		if err := s.dec.Decode(&c); err != nil {
			return fmt.Errorf("report %s: changes: %w", s.path, err)
		}
		if err := to.Add(c); err != nil {
			return err
		}
	}
	s.sawChanges = true
	return expectDelim(s.dec, ']')
}

// streamHeap orders shard streams by their current finding; ties go to
// the stream listed first, which keeps the merge deterministic.
type streamHeap struct{ items []*bodyStream }

func (h *streamHeap) Len() int { return len(h.items) }
func (h *streamHeap) Less(i, j int) bool {
	return audit.CompareFindings(h.items[i].cur, h.items[j].cur) < 0
}
func (h *streamHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *streamHeap) Push(x any)    { h.items = append(h.items, x.(*bodyStream)) }
func (h *streamHeap) Pop() any {
	old := h.items
	x := old[len(old)-1]
	h.items = old[:len(old)-1]
	return x
}

// sameRun refuses to join reports that do not come from one split run.
func sameRun(a, b *shardHead) error {
	pa, pb := a.path, b.path
	switch {
	case a.run.ConfigSHA256 != b.run.ConfigSHA256:
		return fmt.Errorf("reports %s and %s come from different configs (config_sha256 %.12s and %.12s): shards of one run read one config", pa, pb, a.run.ConfigSHA256, b.run.ConfigSHA256)
	case a.run.Shard.Count != b.run.Shard.Count:
		return fmt.Errorf("reports %s and %s were split differently (%d and %d shards)", pa, pb, a.run.Shard.Count, b.run.Shard.Count)
	case a.run.Command != b.run.Command:
		return fmt.Errorf("reports %s and %s come from different commands (%s and %s)", pa, pb, a.run.Command, b.run.Command)
	case (a.run.DryRun == nil) != (b.run.DryRun == nil) || (a.run.DryRun != nil && *a.run.DryRun != *b.run.DryRun):
		return fmt.Errorf("reports %s and %s mix a dry run and an applied fix", pa, pb)
	case !slices.Equal(a.prov, b.prov):
		return fmt.Errorf("reports %s and %s cover different providers (%s and %s): run every shard with the same --provider",
			pa, pb, strings.Join(a.prov, ","), strings.Join(b.prov, ","))
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
