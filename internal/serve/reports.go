package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/report"
)

// Report file names sort by time, then by a sequence number for reports
// finished within the same clock tick:
// immutag-report-20261126T120000.000000000Z-000001-<run id>.json.
const (
	reportPrefix = "immutag-report-"
	reportSuffix = ".json"
)

// history keeps the last N JSON reports in a directory and remembers the
// newest for /report/latest.
type history struct {
	dir  string
	keep int

	mu     sync.Mutex
	seq    int
	latest string
}

func newHistory(dir string, keep int) (*history, error) {
	if keep < 1 {
		keep = 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("reports dir %s: %w", dir, err)
	}
	return &history{dir: dir, keep: keep}, nil
}

// write renders r as JSON beside its final name and renames it into place,
// so neither a reader of the directory nor /report/latest sees half a report.
func (h *history) write(r *audit.Report) (string, error) {
	h.mu.Lock()
	h.seq++
	seq := h.seq
	h.mu.Unlock()
	name := fmt.Sprintf("%s%s-%06d-%s%s", reportPrefix, r.Run.FinishedAt.UTC().Format("20060102T150405.000000000Z"),
		seq%1000000, safeID(r.Run.ID), reportSuffix)
	path := filepath.Join(h.dir, name)
	tmp, err := os.CreateTemp(h.dir, ".immutag-report-*")
	if err != nil {
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := report.JSON(tmp, r); err != nil {
		tmp.Close()
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	// 0600 like the journal: a report is an inventory of the estate.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	h.mu.Lock()
	h.latest = path
	h.mu.Unlock()
	return path, h.prune(path)
}

// prune removes the oldest reports beyond keep; the one just written is
// never removed, whatever the clock did.
func (h *history) prune(newest string) error {
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		return fmt.Errorf("reports dir %s: %w", h.dir, err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, reportPrefix) && strings.HasSuffix(n, reportSuffix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var errs []error
	for len(names) > h.keep {
		n := names[0]
		names = names[1:]
		if filepath.Join(h.dir, n) == newest {
			continue
		}
		if err := os.Remove(filepath.Join(h.dir, n)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("prune reports in %s: %v", h.dir, errs[0])
	}
	return nil
}

func (h *history) latestPath() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// safeID keeps a run id usable in a file name.
func safeID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "run"
	}
	return string(b)
}
