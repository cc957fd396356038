package lint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReusableMetadataRules: a caller passes docker/metadata-action tag
// rules to a local reusable workflow through an input. The semver rule
// makes the called metadata step emit latest on release tags, so both the
// caller's with: line and the called step are reported; applying every
// fix (the caller passes latest=false to the flavor input, the called
// step keeps its flavor expression on a line of its own and adds
// latest=false) leaves inputs the action accepts, a tag still pushed, and
// nothing to report.
func TestReusableMetadataRules(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/publish.yml": `on:
  push:
    tags: ["v*"]
jobs:
  publish:
    uses: ./.github/workflows/image.yml
    with:
      tags: |
        type=ref,event=branch
        type=semver,pattern={{version}}
`,
		".github/workflows/image.yml": `on:
  workflow_call:
    inputs:
      tags:
        type: string
        required: true
      flavor:
        type: string
        default: ""
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/example/app
          flavor: ${{ inputs.flavor }}
          tags: ${{ inputs.tags }}
      - run: |
          docker buildx imagetools create $(jq -cr '.tags | map("-t " + .) | join(" ")' <<< "$DOCKER_METADATA_OUTPUT_JSON") ghcr.io/example/app@sha256:0123
`,
	})
	caller := filepath.Join(root, ".github/workflows/publish.yml")
	res := Lint([]string{caller}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"image.yml:19:metadata-auto-latest", "publish.yml:10:metadata-auto-latest"}) {
		t.Fatalf("got %v", w)
	}
	for _, f := range res.Findings {
		if f.Fix == nil || len(f.Fix.Edits) == 0 {
			t.Fatalf("%s:%d: no edits", f.File, f.Line)
		}
	}
	// Linted on its own, the called workflow's tags are unknown.
	if own := Lint([]string{filepath.Join(root, ".github/workflows/image.yml")}, testCfg); len(own.Findings) != 0 {
		t.Fatalf("called workflow alone: %v", where(own.Findings))
	}
	plan, err := PlanFixes(res)
	if err != nil {
		t.Fatal(err)
	}
	// The caller's fix alone is enough: the called step reads latest=false
	// from its flavor input.
	for _, ff := range plan {
		if ff.File == caller {
			if err := WriteFix(ff); err != nil {
				t.Fatal(err)
			}
		}
	}
	if again := Lint([]string{caller}, testCfg); len(again.Findings) != 0 {
		t.Fatalf("after the caller's fix: %v", where(again.Findings))
	}
	for _, ff := range plan {
		if err := WriteFix(ff); err != nil {
			t.Fatal(err)
		}
	}
	if again := Lint([]string{caller}, testCfg); len(again.Findings) != 0 {
		t.Fatalf("after --fix: %v", where(again.Findings))
	}
	callerSrc, _ := os.ReadFile(caller)
	if !strings.Contains(string(callerSrc), "flavor: latest=false") {
		t.Fatalf("caller not fixed:\n%s", callerSrc)
	}
	called, _ := os.ReadFile(filepath.Join(root, ".github/workflows/image.yml"))
	in := metaInputs(t, "image.yml", called)
	if len(in) != 1 {
		t.Fatalf("metadata steps: %d", len(in))
	}
	// The called step as GitHub renders it for this caller: tags and
	// flavor come from the caller's with: values, and once more with no
	// flavor passed (another caller).
	tags := "type=ref,event=branch\ntype=semver,pattern={{version}}"
	for _, passed := range []string{"latest=false", ""} {
		flavor := strings.ReplaceAll(in[0][1], "true", passed)
		for _, r := range []mgRun{{"refs/tags/v1.2.3", "main"}, {"refs/heads/main", "main"}} {
			got, err := mgTags(tags, flavor, r)
			if err != nil {
				t.Fatalf("flavor %q rejected: %v", flavor, err)
			}
			if len(got) == 0 || slices.Contains(got, "latest") {
				t.Fatalf("flavor %q on %s: tags %v", flavor, r.ref, got)
			}
		}
	}
	// The edit a comma-joined flavor would have made is what the action
	// rejects when the input is empty.
	if _, err := mgTags(tags, ",latest=false", mgRun{"refs/tags/v1.2.3", "main"}); err == nil {
		t.Fatal("an empty flavor expression followed by ,latest=false should be rejected")
	}
}

// TestLocalCompositeAction: a workflow step runs a local composite action
// that runs docker/metadata-action and exports its tags, and the
// workflow then pushes them through DOCKER_METADATA_OUTPUT_JSON. Linting
// the workflow alone (the default path, .github/workflows) follows the
// action and reports its metadata step, with the rules the step passes in
// with:; an action whose tags do not make latest is not reported.
func TestLocalCompositeAction(t *testing.T) {
	action := `name: prepare
inputs:
  rules:
    default: type=sha
outputs:
  tags:
    value: ${{ steps.meta.outputs.tags }}
runs:
  using: composite
  steps:
    - id: meta
      uses: docker/metadata-action@v5
      with:
        images: ghcr.io/example/app
        tags: ${{ inputs.rules }}
`
	workflow := func(rules string) string {
		return `on:
  push:
    tags: ["v*"]
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/prepare
        with:
          rules: ` + rules + `
      - run: docker buildx imagetools create $(jq -cr '.tags | map("-t " + .) | join(" ")' <<< "$DOCKER_METADATA_OUTPUT_JSON") ghcr.io/example/app@sha256:0123
`
	}
	root := writeTree(t, map[string]string{
		".github/actions/prepare/action.yml": action,
		".github/workflows/release.yml":      workflow("type=semver,pattern={{version}}"),
		".github/workflows/snapshot.yml":     workflow("type=sha"),
	})
	res := Lint([]string{filepath.Join(root, ".github/workflows/release.yml")}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"action.yml:15:metadata-auto-latest"}) {
		t.Fatalf("got %v", w)
	}
	if res := Lint([]string{filepath.Join(root, ".github/workflows/snapshot.yml")}, testCfg); len(res.Findings) != 0 {
		t.Fatalf("snapshot: %v", where(res.Findings))
	}
}

// TestReusableOnePlaceOneFinding: a directory holding a reusable workflow
// and its caller lints the called file twice (on its own, with its inputs
// unknown, and from the caller, with them resolved). A line that pushes
// latest either way is one finding, with the caller's values.
func TestReusableOnePlaceOneFinding(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/main.yml": `on:
  push:
    branches: [main]
jobs:
  call:
    uses: ./.github/workflows/publish.yml
    with:
      org: ghcr.io/example
`,
		".github/workflows/publish.yml": `on:
  workflow_call:
    inputs:
      org:
        type: string
        required: true
jobs:
  push:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker buildx imagetools create \
            --tag ${{ inputs.org }}/app:latest \
            ${{ inputs.org }}/app:${{ github.sha }}
`,
	})
	res := Lint([]string{filepath.Join(root, ".github/workflows")}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"publish.yml:13:explicit-latest"}) {
		t.Fatalf("got %v", w)
	}
	if m := res.Findings[0].Message; !strings.Contains(m, "ghcr.io/example/app:latest") {
		t.Fatalf("message without the caller's value: %s", m)
	}
}

// TestReusableLatestValueInput: the called workflow writes
// latest=${{ inputs.tag-latest }} in its flavor and the caller passes
// 'auto' with semver tags in the called file: the caller's value is
// reported and the fix passes 'false' (latest=latest=false would be an
// invalid flavor entry).
func TestReusableLatestValueInput(t *testing.T) {
	root := writeTree(t, map[string]string{
		".github/workflows/release.yml": `on:
  push:
    tags: ["v*"]
jobs:
  merge:
    uses: ./.github/workflows/merge.yml
    with:
      tag-latest: 'auto'
      suffix: -gpu
`,
		".github/workflows/merge.yml": `on:
  workflow_call:
    inputs:
      tag-latest:
        type: string
        default: 'false'
      suffix:
        type: string
        default: ''
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: quay.io/example/ai
          tags: |
            type=semver,pattern={{raw}}
            type=sha
          flavor: |
            latest=${{ inputs.tag-latest }}
            suffix=${{ inputs.suffix }},onlatest=true
      - run: docker buildx imagetools create $(jq -cr '.tags | map("-t " + .) | join(" ")' <<< "$DOCKER_METADATA_OUTPUT_JSON") quay.io/example/ai@sha256:0123
`,
	})
	caller := filepath.Join(root, ".github/workflows/release.yml")
	res := Lint([]string{caller}, testCfg)
	if w := where(res.Findings); !slices.Contains(w, "release.yml:8:metadata-auto-latest") {
		t.Fatalf("got %v", w)
	}
	plan, err := PlanFixes(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, ff := range plan {
		if ff.File == caller {
			if !strings.Contains(string(ff.New), "tag-latest: 'false'") {
				t.Fatalf("caller fix:\n%s", ff.New)
			}
			if err := WriteFix(ff); err != nil {
				t.Fatal(err)
			}
		}
	}
	if again := Lint([]string{caller}, testCfg); len(again.Findings) != 0 {
		t.Fatalf("after the caller's fix: %v", where(again.Findings))
	}
	// What the called step then renders is accepted and still tags.
	got, err := mgTags("type=semver,pattern={{raw}}\ntype=sha", "latest=false\nsuffix=-gpu,onlatest=true", mgRun{"refs/tags/v1.2.3", "main"})
	if err != nil || len(got) == 0 || slices.Contains(got, "latest-gpu") {
		t.Fatalf("tags %v, %v", got, err)
	}
}

// TestSubPathBuilderAction: an action in a sub-directory of its
// repository (owner/repo/actions/build-image) that pushes when its push
// input is true, fed a block of tags through a reusable workflow input,
// one line of which is latest on the main branch. Both the push and the
// caller's line are reported; with push false nothing is.
func TestSubPathBuilderAction(t *testing.T) {
	called := `on:
  workflow_call:
    inputs:
      image-tags:
        type: string
        required: true
      push:
        type: boolean
        default: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: example-org/builder/actions/build-image@v1
        with:
          image: ghcr.io/example/base
          image-tags: ${{ inputs.image-tags }}
          push: ${{ inputs.push }}
`
	caller := func(push string) string {
		return `on:
  push:
    branches: [main]
jobs:
  base:
    uses: ./.github/workflows/build.yml
    with:
      push: ` + push + `
      image-tags: |
        3.22
        ${{ github.ref == 'refs/heads/main' && 'latest' || '' }}
`
	}
	root := writeTree(t, map[string]string{
		".github/workflows/build.yml":  called,
		".github/workflows/main.yml":   caller("true"),
		".github/workflows/nopush.yml": caller("false"),
	})
	res := Lint([]string{filepath.Join(root, ".github/workflows/main.yml")}, testCfg)
	if w := where(res.Findings); !slices.Equal(w, []string{"build.yml:17:explicit-latest", "main.yml:11:explicit-latest"}) {
		t.Fatalf("got %v", w)
	}
	if res := Lint([]string{filepath.Join(root, ".github/workflows/nopush.yml")}, testCfg); len(res.Findings) != 0 {
		t.Fatalf("push false: %v", where(res.Findings))
	}
}
