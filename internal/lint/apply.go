package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FileFix is the result of applying a lint run's fixes to one file.
type FileFix struct {
	File     string
	Old, New []byte
	// Fixed counts the findings whose edits were applied; Skipped those
	// whose edits conflict with another finding's (a later run of --fix
	// takes them once the first edits are in).
	Fixed, Skipped int
}

// PlanFixes reads every file with fixable findings and applies their
// edits in memory: finding by finding, in file order, skipping a finding
// whose edits conflict with the ones already taken. Suppressed findings and
// findings without edits are left alone. Nothing is written.
func PlanFixes(res *Result) ([]FileFix, error) {
	byFile := map[string][]Finding{}
	var order []string
	for _, f := range res.Findings {
		if f.Suppressed() || f.Fix == nil || len(f.Fix.Edits) == 0 {
			continue
		}
		if _, ok := byFile[f.File]; !ok {
			order = append(order, f.File)
		}
		byFile[f.File] = append(byFile[f.File], f)
	}
	sort.Strings(order)
	var out []FileFix
	for _, file := range order {
		src, err := readLocal(file)
		if err != nil {
			return out, fmt.Errorf("--fix: %w", err)
		}
		ff := FileFix{File: file, Old: src}
		var taken []Edit
		for _, f := range byFile[file] {
			try := append(append([]Edit(nil), taken...), f.Fix.Edits...)
			if _, err := ApplyEdits(src, try); err != nil {
				ff.Skipped++
				continue
			}
			taken = try
			ff.Fixed++
		}
		if ff.New, err = ApplyEdits(src, taken); err != nil {
			return out, fmt.Errorf("--fix %s: %w", file, err)
		}
		out = append(out, ff)
	}
	return out, nil
}

// WriteFix replaces the file with its fixed text atomically, keeping its
// permissions.
func WriteFix(ff FileFix) error {
	info, err := os.Stat(ff.File)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(ff.File), ".immutag-fix-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(ff.New); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), ff.File)
}

// UnifiedDiff renders the change from a to b as a unified diff with three
// lines of context, or "" when they are equal.
func UnifiedDiff(name string, a, b []byte) string {
	x, y := splitLinesKeep(string(a)), splitLinesKeep(string(b))
	ops := diffLines(x, y)
	var sb strings.Builder
	const ctx = 3
	// Group the ops into hunks.
	all := ops
	changed := false
	for _, o := range all {
		if o.kind != ' ' {
			changed = true
		}
	}
	if !changed {
		return ""
	}
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", name, name)
	i := 0
	ai, bi := 1, 1 // line numbers at all[i]
	for i < len(all) {
		// Find the next change.
		j := i
		la, lb := ai, bi
		for j < len(all) && all[j].kind == ' ' {
			j++
			la++
			lb++
		}
		if j == len(all) {
			break
		}
		start := max(i, j-ctx)
		sa, sb2 := la-(j-start), lb-(j-start)
		// Extend the hunk while changes are within 2*ctx of each other.
		end := j
		for end < len(all) {
			if all[end].kind != ' ' {
				end++
				continue
			}
			k := end
			for k < len(all) && all[k].kind == ' ' {
				k++
			}
			if k == len(all) || k-end > 2*ctx {
				end = min(end+ctx, len(all))
				break
			}
			end = k
		}
		na, nb := 0, 0
		for _, o := range all[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(sa, na), hunkRange(sb2, nb))
		for _, o := range all[start:end] {
			sb.WriteByte(o.kind)
			sb.WriteString(o.text)
			if !strings.HasSuffix(o.text, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		// Advance the line counters to end.
		for k := i; k < end; k++ {
			if all[k].kind != '+' {
				ai++
			}
			if all[k].kind != '-' {
				bi++
			}
		}
		i = end
	}
	return sb.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func splitLinesKeep(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

type diffOp struct {
	kind byte
	text string
}

// diffLines is a longest-common-subsequence line diff; the common prefix
// and suffix are taken first, so a fix's few changed lines cost little.
func diffLines(a, b []string) []diffOp {
	var out []diffOp
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		out = append(out, diffOp{' ', a[p]})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if len(ma)*len(mb) > 4_000_000 {
		for _, l := range ma {
			out = append(out, diffOp{'-', l})
		}
		for _, l := range mb {
			out = append(out, diffOp{'+', l})
		}
	} else {
		n, m := len(ma), len(mb)
		dp := make([][]int, n+1)
		for i := range dp {
			dp[i] = make([]int, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					dp[i][j] = dp[i+1][j+1] + 1
				} else {
					dp[i][j] = max(dp[i+1][j], dp[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				out = append(out, diffOp{' ', ma[i]})
				i++
				j++
			case i < n && (j == m || dp[i+1][j] >= dp[i][j+1]):
				out = append(out, diffOp{'-', ma[i]})
				i++
			default:
				out = append(out, diffOp{'+', mb[j]})
				j++
			}
		}
	}
	for k := len(a) - s; k < len(a); k++ {
		out = append(out, diffOp{' ', a[k]})
	}
	return out
}
