package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

// countingFactory is fakeFactory that counts how often providers are built
// (each build precedes the first registry call).
func countingFactory(t *testing.T) (*Factory, *atomic.Int32) {
	t.Helper()
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
	f := fakeFactory(t, p)
	var n atomic.Int32
	build := f.BuildProviders
	f.BuildProviders = func(ctx context.Context, sel []config.Provider) ([]providers.Provider, error) {
		n.Add(1)
		return build(ctx, sel)
	}
	return f, &n
}

// TestBadPathsFailBeforeTheScan: an --output that is a directory or in a
// directory that does not exist, or a --journal that is not a journal,
// fails at once naming the flag and the path, before any registry is
// read (a large estate takes many minutes and API calls to audit), and
// leaves nothing behind.
func TestBadPathsFailBeforeTheScan(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("important notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "such", "dir", "r.json")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"audit", "--output", dir}, []string{"--output", dir, "is a directory"}},
		{[]string{"audit", "--output", missing}, []string{"--output", missing, "no such file or directory"}},
		{[]string{"fix", "--output", dir}, []string{"--output", dir, "is a directory"}},
		{[]string{"fix", "--apply", "--yes", "--journal", dir}, []string{"journal", dir, "not a regular file"}},
		{[]string{"fix", "--apply", "--yes", "--journal", notes}, []string{"journal", notes, "not an immutag journal"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f, builds := countingFactory(t)
			r := run(t, f, "", tc.args...)
			if r.code != CodeError {
				t.Fatalf("exit %d, want %d (err %v)", r.code, CodeError, r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q does not contain %q", r.err, w)
				}
			}
			if n := builds.Load(); n != 0 {
				t.Errorf("the registries were read (%d provider builds) before the bad path was refused", n)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left in %s: %v", dir, names)
	}
}
