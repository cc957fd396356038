package serve

import "github.com/prometheus/client_golang/prometheus"

// MetricLeader is 1 on the replica that may write (enforce, lock webhook
// tags), 0 on the others.
const MetricLeader = "immutag_leader"

// Leader says whether this replica may write now (see internal/leader).
type Leader interface {
	IsLeader() bool
}

// leads reports whether this replica may write.
func (s *Service) leads() bool {
	return s.opts.Leader == nil || s.opts.Leader.IsLeader()
}

// leaderGauge reads leadership at scrape time, so it is never stale.
func (s *Service) leaderGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricLeader,
		Help: "1 when this replica may write (enforce fixes, lock ACR webhook tags): always without leader election, else while it holds the lease."},
		func() float64 {
			if s.leads() {
				return 1
			}
			return 0
		})
}
