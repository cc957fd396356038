package lint

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBakeOverridesWin: a bake file a pipeline pushes is reported with
// what that pipeline makes of it: a variable its env: sets (every value an
// expression can take) replaces the HCL default, a set: TARGET.tags=
// replaces the target's tags, only the targets it builds (targets:, the
// default group, docker buildx bake TARGET) count, and the file's
// defaults alone are not reported beside them when the repository is
// linted as a whole.
func TestBakeOverridesWin(t *testing.T) {
	bake := `variable TAG {
  default = "latest"
}
variable "REPO" {
  default = "ghcr.io/acme/app"
}
group "default" {
  targets = ["app"]
}
target "app" {
  tags = ["${REPO}:${TAG}"]
}
target "worker" {
  tags = ["${REPO}-worker:latest"]
}
`
	cases := []struct {
		name, workflow string
		want           []string
		msg            string // a message must contain it
	}{
		{"env overrides the default", `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/bake-action@v6
        env:
          TAG: ${{ github.sha }}
        with:
          push: true
          targets: app
`, nil, ""},
		{"every value of an expression", `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    env:
      TAG: ${{ github.event_name == 'schedule' && 'nightly' || github.sha }}
    steps:
      - uses: docker/bake-action@v6
        with:
          push: true
`, []string{"docker-bake.hcl:11:mutable-tag"}, `"nightly" (ghcr.io/acme/app:nightly)`},
		{"set replaces the tags", `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/bake-action@v6
        with:
          push: true
          targets: app,worker
          set: |
            *.tags=ghcr.io/acme/app:${{ github.sha }}
`, nil, ""},
		{"targets named", `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    env:
      TAG: ${{ github.sha }}
    steps:
      - uses: docker/bake-action@v6
        with:
          push: true
          targets: |
            worker
`, []string{"docker-bake.hcl:14:explicit-latest"}, "app-worker:latest"},
		{"bake in a run step", `on: push
env:
  TAG: ${{ github.sha }}
jobs:
  bake:
    runs-on: ubuntu-latest
    steps:
      - run: docker buildx bake --push
      - run: docker buildx bake --push --set app.tags=ghcr.io/acme/app:main app
`, nil, ""},
		{"no override: the default is pushed", `on: push
jobs:
  bake:
    runs-on: ubuntu-latest
    steps:
      - run: docker buildx bake --push app
`, []string{"docker-bake.hcl:11:explicit-latest"}, "ghcr.io/acme/app:latest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{".github/workflows/bake.yml": c.workflow, "docker-bake.hcl": bake})
			res := Lint([]string{root}, Config{MutableTags: DefaultMutableTags})
			var got []string
			for _, f := range res.Findings {
				if filepath.Base(f.File) == "docker-bake.hcl" {
					got = append(got, filepath.Base(f.File)+":"+strconv.Itoa(f.Line)+":"+f.RuleID)
					if !strings.Contains(f.Message, c.msg) {
						t.Errorf("message %q does not name %q", f.Message, c.msg)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				for _, f := range res.Findings {
					t.Log(f.File, f.Line, f.RuleID, f.Message)
				}
				t.Fatalf("bake findings %v, want %v", got, c.want)
			}
			// Linted alone, the file reports its defaults (a local
			// docker buildx bake --push pushes them).
			alone := Lint([]string{filepath.Join(root, "docker-bake.hcl")}, Config{MutableTags: DefaultMutableTags})
			if len(alone.Findings) != 2 {
				t.Errorf("the file alone: %d findings, want its 2 defaults", len(alone.Findings))
			}
		})
	}
}
