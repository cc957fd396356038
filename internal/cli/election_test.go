package cli

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

// Leader election lives in the shared PostgreSQL ledger: a local SQLite
// ledger cannot coordinate replicas, and serve says so before it starts.
func TestLeaderElectionNeedsPostgres(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: imm(providers.ModeImmutable)})
	f := fakeFactory(t, p)
	r := run(t, f, "", "serve", "--listen", "127.0.0.1:0", "--reports-dir", t.TempDir(), "--enforce", "--leader-election")
	if r.code != CodeError || !strings.Contains(r.stderr+errText(r.err), "needs the replicas' shared PostgreSQL ledger") {
		t.Fatalf("exit %d, %v\n%s", r.code, r.err, r.stderr)
	}
	f = fakeFactory(t, p)
	f.Ledger = "postgres://immutag:hunter2@127.0.0.1:1/x"
	r = run(t, f, "", "serve", "--listen", "127.0.0.1:0", "--reports-dir", t.TempDir(), "--enforce", "--leader-election")
	if r.code != CodeError || strings.Contains(r.stderr+errText(r.err), "hunter2") {
		t.Fatalf("a DSN with a password on the command line: exit %d, %v", r.code, r.err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
