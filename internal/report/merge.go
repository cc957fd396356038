package report

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// MergeProblem is a shard that is missing or given twice: the merged report
// is then incomplete, and the problem is recorded in it as an unreadable
// scope so every format and the exit code say so.
type MergeProblem struct {
	Shard   int
	Message string
}

// Merge joins the reports of the shards of one split run (audit or fix
// --shard I/N) into the report a single run would have written: findings
// and changes in the one stable order, scopes split between shards joined,
// warnings unioned, the summary recomputed. Reports of different configs,
// provider selections, commands or shard counts are refused. A missing or
// duplicated shard does not stop the merge: it is returned as a problem
// and recorded in the report. Memory stays bounded: findings are merged
// through on-disk runs. The caller closes the result.
func Merge(paths []string) (*audit.Report, []MergeProblem, error) {
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no report to merge")
	}
	type shardInfo struct {
		path string
		run  audit.Run
		tool audit.Tool
		prov []string
	}
	infos := make([]shardInfo, 0, len(paths))
	var first *shardInfo
	var absent []string
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			// A shard that failed wrote nothing: that is a missing shard,
			// which the merged report records, not a reason to write none.
			absent = append(absent, p)
			continue
		}
		r, err := LoadFile(p)
		if err != nil {
			return nil, nil, err
		}
		si := shardInfo{path: p, run: r.Run, tool: r.Tool, prov: slices.Sorted(maps.Keys(r.Summary.ByProvider))}
		r.Close()
		if si.run.Shard == nil {
			return nil, nil, fmt.Errorf("report %s: not a shard report (no run.shard: it was not written with --shard)", p)
		}
		if first == nil {
			first = &si
		} else if err := sameRun(first.path, first.run, first.prov, p, si.run, si.prov); err != nil {
			return nil, nil, err
		}
		infos = append(infos, si)
	}
	if first == nil {
		return nil, nil, fmt.Errorf("none of the shard reports exists: %s", strings.Join(absent, ", "))
	}
	count := first.run.Shard.Count
	seen := map[int]string{}
	var problems []MergeProblem
	for _, si := range infos {
		i := si.run.Shard.Index
		if prev, dup := seen[i]; dup {
			problems = append(problems, MergeProblem{Shard: i, Message: fmt.Sprintf("shard %d/%d is given twice (%s and %s): only the first is used", i, count, prev, si.path)})
			continue
		}
		seen[i] = si.path
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
	run.Shard = nil
	run.MergedShards = len(seen)
	run.ConfigLines = nil
	type scopeKey struct{ provider, scope string }
	scopes := map[scopeKey]audit.ScopeResult{}
	warnings := map[providers.Warning]bool{}
	var changes *audit.Spool[audit.ChangeRecord]
	cleanup := func() {
		out.Close()
		if changes != nil {
			changes.Close()
		}
	}
	findings, err := audit.SortSpool(audit.CompareFindings, audit.SortRun, func(add func(audit.Finding) error) error {
		for _, si := range infos {
			if seen[si.run.Shard.Index] != si.path {
				continue // the second copy of a duplicated shard
			}
			r, err := LoadFile(si.path)
			if err != nil {
				return err
			}
			err = func() error {
				defer r.Close()
				run.StartedAt = minTime(run.StartedAt, r.Run.StartedAt)
				if r.Run.FinishedAt.After(run.FinishedAt) {
					run.FinishedAt = r.Run.FinishedAt
				}
				for k, v := range r.Run.ConfigLines {
					if run.ConfigLines == nil {
						run.ConfigLines = map[string]int{}
					}
					run.ConfigLines[k] = v
				}
				for _, s := range r.Scopes {
					k := scopeKey{s.Provider, s.Scope}
					m, ok := scopes[k]
					if !ok {
						scopes[k] = s
						continue
					}
					// A scope split between shards: each listed it and
					// kept its own repositories.
					m.Repositories += s.Repositories
					if s.Status != "ok" && m.Status == "ok" {
						m.Status, m.Error = s.Status, s.Error
					}
					scopes[k] = m
				}
				for _, w := range r.Warnings {
					warnings[w] = true
				}
				if r.Changes != nil {
					if changes == nil {
						changes = audit.NewSpool[audit.ChangeRecord]()
					}
					if err := r.Changes.Each(changes.Add); err != nil {
						return fmt.Errorf("report %s: changes: %w", si.path, err)
					}
				}
				return r.Findings.Each(add)
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	out.Findings = findings
	out.Run = run
	if changes != nil {
		sorted, err := audit.SortSpool(audit.CompareChanges, audit.SortRun, func(add func(audit.ChangeRecord) error) error {
			return changes.Each(add)
		})
		changes.Close()
		changes = nil
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		out.Changes = sorted
	}
	for _, p := range problems {
		scopes[scopeKey{"*", fmt.Sprintf("shard %d/%d", p.Shard, count)}] = audit.ScopeResult{
			Provider: "*", Kind: "shard", Scope: fmt.Sprintf("shard %d/%d", p.Shard, count), Status: "error", Error: p.Message,
		}
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
	err = out.Findings.Each(func(f audit.Finding) error {
		out.Summary.Counts.Add(f.Status)
		c := out.Summary.ByProvider[f.Provider]
		c.Add(f.Status)
		out.Summary.ByProvider[f.Provider] = c
		return nil
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return out, problems, nil
}

// sameRun refuses to join reports that do not come from one split run.
func sameRun(pa string, a audit.Run, aprov []string, pb string, b audit.Run, bprov []string) error {
	switch {
	case a.ConfigSHA256 != b.ConfigSHA256:
		return fmt.Errorf("reports %s and %s come from different configs (config_sha256 %.12s and %.12s): shards of one run read one config", pa, pb, a.ConfigSHA256, b.ConfigSHA256)
	case a.Shard.Count != b.Shard.Count:
		return fmt.Errorf("reports %s and %s were split differently (%d and %d shards)", pa, pb, a.Shard.Count, b.Shard.Count)
	case a.Command != b.Command:
		return fmt.Errorf("reports %s and %s come from different commands (%s and %s)", pa, pb, a.Command, b.Command)
	case (a.DryRun == nil) != (b.DryRun == nil) || (a.DryRun != nil && *a.DryRun != *b.DryRun):
		return fmt.Errorf("reports %s and %s mix a dry run and an applied fix", pa, pb)
	case !slices.Equal(aprov, bprov):
		return fmt.Errorf("reports %s and %s cover different providers (%s and %s): run every shard with the same --provider",
			pa, pb, strings.Join(aprov, ","), strings.Join(bprov, ","))
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
