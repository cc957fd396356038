package ledger

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestBatchPlansUseIndexes keeps recording linear: no batch statement may
// scan the intervals table (that made 100,000 tags take a minute, each
// batch walking every open interval).
func TestBatchPlansUseIndexes(t *testing.T) {
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, d := range []string{stageDDL, doneDDL} {
		if _, err := s.db.ExecContext(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for name, q := range map[string]string{"overwrites": batchSQL.overwrites, "closeMoved": batchSQL.closeMoved, "extend": batchSQL.extend, "touch": batchSQL.touch, "open": batchSQL.open, "history": batchSQL.history, "closeGone": batchSQL.closeGone, "nested": batchSQL.closeGoneNested} {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = i + 1
		}
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(name, err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(detail, "SCAN i") || strings.HasPrefix(detail, "SCAN ledger_intervals") {
				t.Errorf("%s scans the intervals table: %s", name, detail)
			}
		}
		rows.Close()
	}
}
