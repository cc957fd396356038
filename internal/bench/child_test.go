package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/cli"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil/moto"
)

// Environment of a child run.
const (
	envChild   = "IMMUTAG_BENCH_CHILD"  // set: this process is a child running one command
	envArgs    = "IMMUTAG_BENCH_ARGS"   // JSON array: the immutag command line
	envResult  = "IMMUTAG_BENCH_RESULT" // where the child writes its childResult
	envProfile = "IMMUTAG_BENCH_PROFILE_DIR"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

// childResult is what a child reports about its one command.
type childResult struct {
	WallNS int64  `json:"wall_ns"`
	Code   int    `json:"code"`
	Err    string `json:"error,omitempty"`
	HWMKB  int64  `json:"vm_hwm_kb"`
}

// childMain runs one immutag command, in process, exactly as main does
// (config file, adapters, engine, renderer), and times it. With
// IMMUTAG_BENCH_PROFILE_DIR set it also writes cpu.pprof and heap.pprof of
// immutag (the benchmark process's own profiles would show the emulators).
func childMain() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bench child: bad args:", err)
		return 1
	}
	prof := os.Getenv(envProfile)
	if prof != "" {
		f, err := os.Create(filepath.Join(prof, "cpu.pprof"))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	f := cli.NewFactory(cli.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: os.Stderr})
	cmd := cli.NewRootCmd(f)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(os.Stderr)
	start := time.Now()
	err := cmd.ExecuteContext(context.Background())
	res := childResult{WallNS: time.Since(start).Nanoseconds(), Code: cli.ExitCode(err), HWMKB: vmHWM()}
	if err != nil {
		res.Err = err.Error()
	}
	if prof != "" {
		if hf, err := os.Create(filepath.Join(prof, "heap.pprof")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(hf, 0)
			hf.Close()
		}
	}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(os.Getenv(envResult), b, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// childRun is one immutag command run in a child process.
type childRun struct {
	Wall   time.Duration // the command itself, measured inside the child
	RSSMB  float64       // peak resident set size of the child (its VmHWM)
	Code   int
	Err    string
	Stderr string
}

// runImmutag runs `immutag args...` in a fresh child process whose
// environment is the sandbox's exports on top of an isolated one.
func runImmutag(b *testing.B, env map[string]string, args ...string) childRun {
	b.Helper()
	dir := b.TempDir()
	resPath := filepath.Join(dir, "result.json")
	argv, _ := json.Marshal(args)
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = childEnviron(dir, env, envChild+"=1", envArgs+"="+string(argv), envResult+"="+resPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("immutag %s: child failed: %v\n%s", strings.Join(args, " "), err, tail(stderr.String()))
	}
	var res childResult
	body, err := os.ReadFile(resPath)
	if err == nil {
		err = json.Unmarshal(body, &res)
	}
	if err != nil {
		b.Fatalf("immutag %s: no result: %v\n%s", strings.Join(args, " "), err, tail(stderr.String()))
	}
	if res.HWMKB <= 0 {
		b.Fatalf("immutag %s: the child could not read its peak RSS (VmHWM)", strings.Join(args, " "))
	}
	return childRun{Wall: time.Duration(res.WallNS), RSSMB: float64(res.HWMKB) / 1024, Code: res.Code, Err: res.Err, Stderr: stderr.String()}
}

// vmHWM is this process's peak resident set size in kilobytes. The child
// reads it itself: rusage maxrss, as the parent sees it after wait, also
// counts the parent's memory, which Linux carries into a vforked child's
// maxrss at exec, and the parent holds every emulator's state.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// childEnviron keeps the parent's environment minus anything that could
// point the SDKs at real accounts, then adds env and the extras.
func childEnviron(dir string, env map[string]string, extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "GOOGLE_") ||
			strings.HasPrefix(k, "IMMUTAG_") || k == "XDG_STATE_HOME" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"XDG_STATE_HOME="+dir)
	if p := os.Getenv(envProfile); p != "" {
		out = append(out, envProfile+"="+p)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return append(out, extra...)
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// writeConfig writes cfg where a child can read it (0600, like the sandbox).
func writeConfig(b *testing.B, cfg *config.Config) string {
	b.Helper()
	body, err := yaml.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "immutag.yaml")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// report is the part of the JSON report the benchmarks read.
type report struct {
	Summary struct {
		Repositories int `json:"repositories"`
		Error        int `json:"error"`
		ScopeErrors  int `json:"scope_errors"`
		ByProvider   map[string]struct {
			Repositories int `json:"repositories"`
		} `json:"by_provider"`
	} `json:"summary"`
	Scopes []struct {
		Provider     string         `json:"provider"`
		Kind         providers.Kind `json:"kind"`
		Scope        string         `json:"scope"`
		Status       string         `json:"status"`
		Repositories int            `json:"repositories"`
	} `json:"scopes"`
	Warnings []struct {
		Provider string `json:"provider"`
		Scope    string `json:"scope"`
		Code     string `json:"code"`
	} `json:"warnings"`
	Changes []struct {
		Repository string `json:"repository"`
		State      string `json:"state"`
		Writes     int64  `json:"writes"`
		Verified   bool   `json:"verified"`
	} `json:"changes"`
}

func readReport(b *testing.B, path string) *report {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var r report
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		b.Fatalf("report %s: %v", path, err)
	}
	return &r
}

// record appends one result as a JSON line to $IMMUTAG_BENCH_RESULTS, when
// set, so BENCHMARKS.md can be written from a run.
func record(name string, v map[string]any) {
	path := os.Getenv("IMMUTAG_BENCH_RESULTS")
	if path == "" {
		return
	}
	v["name"] = name
	v["time"] = time.Now().UTC().Format(time.RFC3339)
	v["loadavg"] = loadAvg()
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(b, '\n'))
}

// loadAvg is the machine's load average (1, 5, 15 minutes): the figures
// are only comparable between runs on a similarly idle machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
