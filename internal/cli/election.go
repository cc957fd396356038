package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/leader"
)

// startElection joins the leader election of serve replicas that share the
// PostgreSQL ledger, and keeps taking part until ctx ends.
func startElection(ctx context.Context, d Deps, cfg *config.Config) (*leader.Elector, error) {
	dsn, from, err := d.ledgerDSN(cfg)
	if err != nil {
		return nil, fmt.Errorf("--leader-election: %w", err)
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, fmt.Errorf("--leader-election needs the replicas' shared PostgreSQL ledger (ledger.dsn_env naming a postgres:// DSN, or --ledger); the ledger from %s is a local SQLite file", from)
	}
	e, err := leader.New(ctx, leader.Options{DSN: dsn, Log: d.Logger()})
	if err != nil {
		return nil, err
	}
	go func() { _ = e.Run(ctx) }()
	d.Logger().Info("leader election: joined", "replica", e.ID(), "ledger", from)
	return e, nil
}
