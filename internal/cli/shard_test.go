package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/audit"
)

// envChild makes the test binary run one immutag command, as main does, so
// a test can start real processes the way a Kubernetes Job starts pods.
const envChild = "IMMUTAG_CLI_CHILD_ARGS"

func childMain() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envChild)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad args:", err)
		return 1
	}
	f := NewFactory(SystemIO())
	cmd := NewRootCmd(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "immutag: "+err.Error())
	}
	return ExitCode(err)
}

// child runs immutag args in a new process of this test binary with the
// given extra environment and returns its exit code and stderr.
func child(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envChild+"="+string(a)), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		}
		t.Fatalf("start child: %v", err)
	}
	return 0, stderr.String()
}

// comparable strips what differs between any two runs (ids, times) and
// what only a shard or merged report carries.
func comparableReport(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	run := m["run"].(map[string]any)
	for _, k := range []string{"id", "started_at", "finished_at", "shard", "merged_shards"} {
		delete(run, k)
	}
	return m
}

func TestShardedAuditMergesToTheSingleRunReport(t *testing.T) {
	r, _ := startSandbox(t, "--seed", "40")
	// The sandbox's credentials travel in the children's environment.
	var env []string
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	dir := t.TempDir()
	env = append(env, "AWS_CONFIG_FILE="+filepath.Join(dir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "aws-credentials"),
		"AWS_PROFILE=", "XDG_STATE_HOME="+dir)

	single := filepath.Join(dir, "single.json")
	if code, stderr := child(t, env, "audit", "--config", r.path, "-o", "json", "--output", single); code != CodeOK {
		t.Fatalf("single audit: exit %d\n%s", code, stderr)
	}
	const n = 3
	var shards []string
	perShard := make([]int, n)
	for i := range n {
		out := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		code, stderr := child(t, append(env, fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)),
			"audit", "--config", r.path, "-o", "json", "--output", out, "--shard-from-env", "--shards", fmt.Sprint(n))
		if code != CodeOK {
			t.Fatalf("shard %d: exit %d\n%s", i, code, stderr)
		}
		shards = append(shards, out)
		var rep struct {
			Run     struct{ Shard *audit.Shard } `json:"run"`
			Summary struct{ Repositories int }   `json:"summary"`
		}
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Run.Shard == nil || *rep.Run.Shard != (audit.Shard{Index: i, Count: n}) {
			t.Errorf("shard %d report records run.shard %+v", i, rep.Run.Shard)
		}
		perShard[i] = rep.Summary.Repositories
	}
	total := 0
	for i, c := range perShard {
		if c == 0 {
			t.Errorf("shard %d audited no repository: %v", i, perShard)
		}
		total += c
	}

	merged := filepath.Join(dir, "merged.json")
	if code, stderr := child(t, env, append([]string{"report", "merge", "-o", "json", "--output", merged}, shards...)...); code != CodeOK {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	want, got := comparableReport(t, single), comparableReport(t, merged)
	if !reflect.DeepEqual(want, got) {
		wb, _ := json.MarshalIndent(want, "", " ")
		gb, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("merged report differs from the single run's:\n--- single\n%.3000s\n--- merged\n%.3000s", wb, gb)
	}
	if s := want["summary"].(map[string]any); int(s["repositories"].(float64)) != total {
		t.Errorf("shards audited %d repositories in all, the single run %v", total, s["repositories"])
	}

	// A missing shard: the merged report is incomplete and names it.
	code, stderr := child(t, env, "report", "merge", "-o", "json", "--output", filepath.Join(dir, "partial.json"), shards[0], shards[2])
	if code != CodeIncomplete || !strings.Contains(stderr, "shard 1/3 is missing") {
		t.Errorf("merge without shard 1: exit %d, stderr %q; want %d naming shard 1/3", code, stderr, CodeIncomplete)
	}
	// A shard whose pod failed wrote no file: still a missing shard.
	code, stderr = child(t, env, "report", "merge", "-o", "json", "--output", filepath.Join(dir, "nofile.json"), shards[0], filepath.Join(dir, "shard-1-never-written.json"), shards[2])
	if code != CodeIncomplete || !strings.Contains(stderr, "shard 1/3 is missing") || !strings.Contains(stderr, "shard-1-never-written.json") {
		t.Errorf("merge with a shard file absent: exit %d, stderr %q", code, stderr)
	}
	// A duplicated shard is named too.
	code, stderr = child(t, env, "report", "merge", "-o", "json", "--output", filepath.Join(dir, "dup.json"), shards[0], shards[1], shards[1], shards[2])
	if code != CodeIncomplete || !strings.Contains(stderr, "shard 1/3 is given twice") {
		t.Errorf("merge with shard 1 twice: exit %d, stderr %q", code, stderr)
	}
	// Shards of another split, or the single report, are refused.
	code, stderr = child(t, env, "report", "merge", shards[0], single)
	if code != CodeError || !strings.Contains(stderr, "not a shard report") {
		t.Errorf("merge with an unsharded report: exit %d, stderr %q; want %d", code, stderr, CodeError)
	}
}

func TestShardFlags(t *testing.T) {
	env := map[string]string{"JOB_COMPLETION_INDEX": "2"}
	get := func(k string) string { return env[k] }
	for _, tc := range []struct {
		fl   ShardFlags
		want string // shard or error substring
	}{
		{ShardFlags{Shard: "1/4"}, "1/4"},
		{ShardFlags{FromEnv: true, Count: 3}, "2/3"},
		{ShardFlags{FromEnv: true, Count: 2}, "want 0..1"},
		{ShardFlags{FromEnv: true}, "needs --shards"},
		{ShardFlags{Count: 3}, "needs --shard-from-env"},
		{ShardFlags{Shard: "4/4"}, "want 0..3"},
		{ShardFlags{Shard: "x"}, "INDEX/COUNT"},
		{ShardFlags{Shard: "0/2", FromEnv: true, Count: 2}, "not both"},
	} {
		sh, err := tc.fl.resolve(get)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = sh.String()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.fl, got, tc.want)
		}
	}
	if sh, _ := (&ShardFlags{}).resolve(get); sh != nil {
		t.Errorf("no flags: shard %v, want none", sh)
	}
	if got := shardJournal("/s/journal.jsonl", &audit.Shard{Index: 1, Count: 4}); got != "/s/journal.shard-1-of-4.jsonl" {
		t.Errorf("shard journal %s", got)
	}
}

// The sharded Kubernetes example passes flags the commands accept, with the
// same shard count in the Job and in the merge.
func TestShardedKubernetesExample(t *testing.T) {
	type container struct {
		Args []string `yaml:"args"`
	}
	var jobs [][]string
	var completions int
	for _, name := range []string{"sharded-audit.yaml", "sharded-merge.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc struct {
				Kind string `yaml:"kind"`
				Spec struct {
					CompletionMode string `yaml:"completionMode"`
					Completions    int    `yaml:"completions"`
					Template       struct {
						Spec struct{ Containers []container } `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			if doc.Kind != "Job" {
				continue
			}
			if doc.Spec.CompletionMode == "Indexed" {
				completions = doc.Spec.Completions
			}
			jobs = append(jobs, doc.Spec.Template.Spec.Containers[0].Args)
		}
	}
	if len(jobs) != 2 || completions < 2 {
		t.Fatalf("want an Indexed audit Job and a merge Job, found %d jobs, completions %d", len(jobs), completions)
	}
	for _, args := range jobs {
		root := NewRootCmd(testFactory(t))
		cmd, rest, err := root.Find(args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		switch cmd.Name() {
		case "audit":
			if n, _ := cmd.Flags().GetInt("shards"); n != completions {
				t.Errorf("audit --shards=%d, Job completions %d", n, completions)
			}
		case "merge":
			if n := len(cmd.Flags().Args()); n != completions {
				t.Errorf("merge reads %d shard reports, Job completions %d", n, completions)
			}
		default:
			t.Errorf("unexpected command %s", cmd.Name())
		}
	}
}
