package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/immutag/immutag/internal/testutil/pgtest"
)

func TestStartServesIndependentDatabases(t *testing.T) {
	s := pgtest.Start(t)
	ctx := context.Background()
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the DSN %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatalf("connect %s: %v", a, err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE x (v int); INSERT INTO x VALUES (41), (1)"); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := ca.QueryRow(ctx, "SELECT sum(v) FROM x").Scan(&sum); err != nil || sum != 42 {
		t.Fatalf("sum = %d, %v; want 42", sum, err)
	}
	out, err := s.Psql("postgres", `SELECT count(*) FROM pg_database WHERE datname LIKE 'test\_%'`)
	if err != nil || out != "2" {
		t.Fatalf("psql count of test databases = %q, %v; want 2", out, err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	if _, err := cb.Exec(ctx, "SELECT 1 FROM x"); err == nil {
		t.Fatal("the second database sees the first one's table")
	}
}

func TestTwoServersAtOnce(t *testing.T) {
	s1, s2 := pgtest.Start(t), pgtest.Start(t)
	if s1.Port == s2.Port || s1.Dir == s2.Dir {
		t.Fatalf("servers share port %d or dir %s", s1.Port, s1.Dir)
	}
	for _, s := range []*pgtest.Server{s1, s2} {
		if out, err := s.Psql("postgres", "SHOW listen_addresses"); err != nil || out != "127.0.0.1" {
			t.Fatalf("listen_addresses = %q, %v; want loopback only", out, err)
		}
	}
}
