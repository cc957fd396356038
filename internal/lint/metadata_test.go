package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const (
	onTags     = "on:\n  push:\n    tags: ['v*']\n"
	onBranches = "on:\n  push:\n    branches: [trunk]\n  pull_request:\n"
)

// metaWorkflow writes a one-step workflow; flavor "" and tags nil leave
// the input out.
func metaWorkflow(on, flavor string, tags []string) string {
	var b strings.Builder
	b.WriteString(on)
	b.WriteString("jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/metadata-action@v5\n        with:\n          images: ghcr.io/acme/app\n")
	if flavor != "" {
		fmt.Fprintf(&b, "          flavor: %s\n", flavor)
	}
	if tags != nil {
		b.WriteString("          tags: |\n")
		for _, t := range tags {
			fmt.Fprintf(&b, "            %s\n", t)
		}
	}
	b.WriteString(pushMeta)
	return b.String()
}

// pushMeta ends a metadata-action step with an id and pushes its tags:
// findings are only raised for tags that reach a push.
const pushMeta = "        id: meta\n      - uses: docker/build-push-action@v6\n        with:\n          push: true\n          tags: ${{ steps.meta.outputs.tags }}\n"

func ruleSet(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+":"+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

// TestMetadataFlavorByTagType crosses each flavor with each tag type on a
// workflow that runs on git tags. The expectations are metadata-action's
// documented behaviour (src/meta.ts): under latest=auto only ref,event=tag,
// semver, pep440, match and the defaults of an empty tags input emit
// latest; latest=true always does; latest=false never does.
func TestMetadataFlavorByTagType(t *testing.T) {
	types := []struct {
		name    string
		tags    []string
		autoOn  bool     // emits latest under latest=auto on a tag run
		always  []string // findings whatever the flavor
		noTagIn bool     // tags input absent
	}{
		{name: "ref-tag", tags: []string{"type=ref,event=tag"}, autoOn: true},
		{name: "semver", tags: []string{"type=semver,pattern={{version}}"}, autoOn: true},
		{name: "pep440", tags: []string{"type=pep440,pattern={{version}}"}, autoOn: true},
		{name: "match", tags: []string{`type=match,pattern=\d.\d.\d`}, autoOn: true},
		{name: "no-tags-input", noTagIn: true, autoOn: true},
		{name: "empty-tags-input", tags: []string{}, autoOn: true},
		{name: "only-comment-lines", tags: []string{"# nothing yet"}, autoOn: true},
		{name: "raw", tags: []string{"type=raw,value=v1"}},
		{name: "bare-word", tags: []string{"release-1"}},
		{name: "sha", tags: []string{"type=sha"}},
		{name: "ref-branch", tags: []string{"type=ref,event=branch"}},
		{name: "ref-pr", tags: []string{"type=ref,event=pr"}},
		{name: "schedule", tags: []string{"type=schedule,pattern={{date 'YYYYMMDD'}}"}},
		{name: "edge", tags: []string{"type=edge"}, always: []string{"mutable-tag:warning"}},
		{name: "unknown-type", tags: []string{"type=bogus,value=x"}},
	}
	flavors := []struct {
		name, value string
		latest      string // auto, true or false
	}{
		{"absent", "", "auto"},
		{"auto", "latest=auto", "auto"},
		{"auto-with-prefix", "prefix=v,onlatest=true", "auto"},
		{"true", "latest=true", "true"},
		{"false", "latest=false", "false"},
		{"invalid", "latest=TRUE", "invalid"},
	}
	for _, ty := range types {
		for _, fl := range flavors {
			t.Run(ty.name+"/"+fl.name, func(t *testing.T) {
				tags := ty.tags
				if ty.noTagIn {
					tags = nil
				}
				want := append([]string{}, ty.always...)
				switch {
				case fl.latest == "true":
					want = append(want, "metadata-latest-true:error")
				case fl.latest == "auto" && ty.autoOn:
					want = append(want, "metadata-auto-latest:error")
				}
				slices.Sort(want)
				src := metaWorkflow(onTags, fl.value, tags)
				fs, err := LintBytes("w.yml", []byte(src), testCfg)
				if err != nil {
					t.Fatal(err)
				}
				if have := ruleSet(fs); !slices.Equal(have, want) {
					t.Errorf("want %v, have %v\n%s", want, have, src)
				}
			})
		}
	}
}

// TestMetadataLatestDecisions covers priority, enable conditions, value=
// and triggers: true and false positives by hand.
func TestMetadataLatestDecisions(t *testing.T) {
	cases := []struct {
		name   string
		on     string
		flavor string
		tags   []string
		want   []string
	}{
		{"sha with higher priority decides first", onTags, "", []string{"type=semver,pattern={{version}}", "type=sha,priority=1000"}, nil},
		{"raw with higher priority decides first", onTags, "", []string{"type=semver,pattern={{version}}", "type=raw,value=v1,priority=950"}, nil},
		{"raw enabled on the default branch only is off on tag refs", onTags, "",
			[]string{"type=semver,pattern={{version}}", "type=raw,value=v1,priority=950,enable={{is_default_branch}}"}, []string{"metadata-auto-latest:error"}},
		{"raw with a run-time condition may be off", onTags, "",
			[]string{"type=semver,pattern={{version}}", "type=raw,value=v1,priority=950,enable=${{ inputs.x }}"}, []string{"metadata-auto-latest:error"}},
		{"low-priority match loses to sha", onTags, "", []string{"type=match,pattern=v.*,priority=50", "type=sha"}, nil},
		{"disabled semver, ref tag still decides", onTags, "", []string{"type=semver,pattern={{version}},enable=false", "type=ref,event=tag"}, []string{"metadata-auto-latest:error"}},
		{"disabled semver alone", onTags, "", []string{"type=semver,pattern={{version}},enable=false", "type=sha"}, nil},
		{"semver with value= on branch builds", onBranches, "", []string{"type=semver,pattern={{version}},value=1.2.3"}, []string{"metadata-auto-latest:error"}},
		{"pep440 with value from an input on branch builds", onBranches, "", []string{"type=pep440,pattern={{version}},value=${{ inputs.v }}"}, []string{"metadata-auto-latest:error"}},
		{"semver without value on branch builds", onBranches, "", []string{"type=semver,pattern={{version}}", "type=ref,event=tag"}, nil},
		{"defaults on branch builds push the branch name", onBranches, "", nil, []string{"mutable-tag:warning"}},
		{"ref branch on any branch pushes its name", "on:\n  push:\n", "latest=false", []string{"type=ref,event=branch", "type=semver,pattern={{version}}"}, []string{"mutable-tag:warning"}},
		{"ref branch in a tag-only job", "on:\n  push:\n    tags: ['v*']\n", "latest=false", []string{"type=ref,event=branch", "type=semver,pattern={{version}}"}, nil},
		{"release events run on tags", "on: release\n", "", []string{"type=semver,pattern={{version}}"}, []string{"metadata-auto-latest:error"}},
		{"manual runs can pick a tag", "on: [workflow_dispatch]\n", "", []string{"type=ref,event=tag"}, []string{"metadata-auto-latest:error"}},
		{"reusable workflows run for tagged callers", "on:\n  workflow_call:\n", "", []string{"type=semver,pattern={{version}}"}, []string{"metadata-auto-latest:error"}},
		{"schedule runs on the default branch", "on:\n  schedule:\n    - cron: '0 0 * * *'\n", "", []string{"type=semver,pattern={{version}}"}, nil},
		{"push with only path filters includes tags", "on:\n  push:\n    paths: [src/**]\n", "", []string{"type=semver,pattern={{version}}"}, []string{"metadata-auto-latest:error"}},
		{"no on: key assumes every run", "", "", []string{"type=semver,pattern={{version}}"}, []string{"metadata-auto-latest:error"}},
		{"disabled raw latest and semver", onTags, "", []string{"type=semver,pattern={{version}}", "type=raw,value=latest,enable=false"}, []string{"disabled-latest-no-veto:error"}},
		{"disabled raw latest without a trigger", onTags, "", []string{"type=sha", "type=raw,value=latest,enable=false"}, []string{"disabled-latest-no-veto:warning"}},
		{"disabled raw latest with flavor false", onTags, "latest=false", []string{"type=semver,pattern={{version}}", "type=raw,value=latest,enable=false"}, nil},
		{"raw latest is explicit even with flavor false", onTags, "latest=false", []string{"type=raw,value=latest"}, []string{"explicit-latest:error"}},
		{"raw latest on the default branch", onBranches, "", []string{"type=raw,value=latest,enable={{is_default_branch}}"}, []string{"explicit-latest:error"}},
		{"raw LATEST is another tag", onTags, "latest=false", []string{"type=raw,value=Latest"}, nil},
		{"latest from an expression", onBranches, "latest=${{ inputs.latest }}", []string{"type=sha"}, []string{"metadata-latest-true:error"}},
		{"last latest key wins", onTags, "\"latest=true,latest=false\"", []string{"type=semver,pattern={{version}}"}, nil},
		{"ref branch on main pushes main", "on:\n  push:\n    branches: [main]\n", "latest=false", []string{"type=ref,event=branch"}, []string{"mutable-tag:warning"}},
		{"ref branch on a glob is not judged", "on:\n  push:\n    branches: ['rel/*']\n", "latest=false", []string{"type=ref,event=branch"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := metaWorkflow(c.on, c.flavor, c.tags)
			fs, err := LintBytes("w.yml", []byte(src), testCfg)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{}, c.want...)
			slices.Sort(want)
			if have := ruleSet(fs); !slices.Equal(have, want) {
				t.Errorf("want %v, have %v\n%s", want, have, src)
			}
		})
	}
}

// TestFlavorFixes checks the exact edit for each way flavor can be written.
func TestFlavorFixes(t *testing.T) {
	base := "on: release\njobs:\n  j:\n    steps:\n      - uses: docker/metadata-action@v5\n        with:\n"
	cases := []struct {
		name, with string
		want       []Edit
	}{
		{"no flavor input", "          images: x\n          tags: type=semver,pattern={{version}}\n",
			[]Edit{{Line: 7, Old: "          images: x", New: []string{"          flavor: latest=false", "          images: x"}}}},
		{"one-line flavor", "          images: x\n          flavor: prefix=v\n          tags: type=semver,pattern={{version}}\n",
			[]Edit{{Line: 8, Old: "          flavor: prefix=v", New: []string{"          flavor: prefix=v,latest=false"}}}},
		{"quoted flavor", "          images: x\n          flavor: 'prefix=v'\n          tags: type=semver,pattern={{version}}\n",
			[]Edit{{Line: 8, Old: "          flavor: 'prefix=v'", New: []string{"          flavor: 'prefix=v,latest=false'"}}}},
		{"block flavor", "          images: x\n          flavor: |\n            prefix=v\n          tags: type=semver,pattern={{version}}\n",
			[]Edit{{Line: 9, Old: "            prefix=v", New: []string{"            prefix=v", "            latest=false"}}}},
		{"explicit auto", "          images: x\n          flavor: |\n            latest = auto\n            prefix=v\n          tags: type=semver,pattern={{version}}\n",
			[]Edit{{Line: 9, Old: "            latest = auto", New: []string{"            latest=false"}}}},
		{"latest true", "          images: x\n          flavor: suffix=-slim,latest=true\n          tags: type=sha\n",
			[]Edit{{Line: 8, Old: "          flavor: suffix=-slim,latest=true", New: []string{"          flavor: suffix=-slim,latest=false"}}}},
		{"flow mapping cannot be edited", "          {images: x, tags: 'type=ref,event=tag'}\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := base + c.with + pushMeta
			if strings.HasPrefix(strings.TrimSpace(c.with), "{") {
				src = strings.Replace(base, "with:\n", "with: "+strings.TrimSpace(c.with)+"\n", 1) + pushMeta
			}
			fs, err := LintBytes("w.yml", []byte(src), testCfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 1 || fs[0].Fix == nil {
				t.Fatalf("want one finding with a fix, got %+v\n%s", fs, src)
			}
			got := fs[0].Fix.Edits
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("edits\n got %+v\nwant %+v", got, c.want)
			}
			if len(got) == 0 {
				return
			}
			fixed, err := ApplyEdits([]byte(src), got)
			if err != nil {
				t.Fatal(err)
			}
			after, err := LintBytes("w.yml", fixed, testCfg)
			if err != nil || len(after) != 0 {
				t.Errorf("after the fix: %v %v\n%s", after, err, fixed)
			}
		})
	}
}
