package serve

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/immutag/immutag/internal/audit"
)

func TestOverwritesCounter(t *testing.T) {
	m := NewMetrics("test")
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	rep := func(ow ...audit.Overwrite) *audit.Report {
		return &audit.Report{
			Summary:    audit.Summary{ByProvider: map[string]audit.Counts{"aws": {}, "hub": {}}},
			Run:        audit.Run{StartedAt: now, FinishedAt: now},
			Overwrites: ow,
		}
	}
	m.observeReport(rep(audit.Overwrite{Provider: "aws", Tag: "prod"}, audit.Overwrite{Provider: "aws", Tag: "latest"}))
	m.observeReport(rep(audit.Overwrite{Provider: "aws", Tag: "prod"}))
	m.observeReport(rep())
	if got := testutil.ToFloat64(m.overwrites.WithLabelValues("aws")); got != 3 {
		t.Errorf("%s{provider=aws} = %v, want 3 (2 + 1 + 0 across scans)", MetricTagOverwrites, got)
	}
	if got := testutil.ToFloat64(m.overwrites.WithLabelValues("hub")); got != 0 {
		t.Errorf("%s{provider=hub} = %v, want 0", MetricTagOverwrites, got)
	}
	n, err := testutil.GatherAndCount(m.Registry(), MetricTagOverwrites)
	if err != nil || n != 2 {
		t.Errorf("exposed %d %s series, %v; want one per provider", n, MetricTagOverwrites, err)
	}
}
