package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

func TestServeFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		inErr string
		check func(*testing.T, *ServeOptions)
	}{
		{name: "defaults", check: func(t *testing.T, o *ServeOptions) {
			if o.Interval != time.Hour || o.Listen != "127.0.0.1:9100" || o.Keep != 24 || o.Enforce {
				t.Fatalf("defaults %+v", o)
			}
			if !strings.HasSuffix(o.ReportsDir, filepath.Join("immutag", "reports")) || !strings.HasSuffix(o.Journal, "journal.jsonl") {
				t.Fatalf("state paths %q %q", o.ReportsDir, o.Journal)
			}
		}},
		{name: "cron", args: []string{"--schedule", "0 */6 * * *", "--jitter", "30m"}, check: func(t *testing.T, o *ServeOptions) {
			if o.schedule == nil || !strings.Contains(o.schedule.String(), "0 */6") {
				t.Fatalf("schedule %v", o.schedule)
			}
		}},
		{name: "secret from env", args: []string{"--webhook-secret-env", "HOOK"}, env: map[string]string{"HOOK": "s3cr3t-value-long-enough"},
			check: func(t *testing.T, o *ServeOptions) {
				if o.secret != "s3cr3t-value-long-enough" {
					t.Fatal("secret not read from the environment")
				}
			}},
		{name: "both schedules", args: []string{"--interval", "1h", "--schedule", "@daily"}, inErr: "interval"},
		{name: "interval too short", args: []string{"--interval", "1s"}, inErr: "--interval 1s"},
		{name: "jitter too long", args: []string{"--interval", "10m", "--jitter", "10m"}, inErr: "--jitter"},
		{name: "cron jitter too long", args: []string{"--schedule", "*/5 * * * *", "--jitter", "6m"}, inErr: "--jitter"},
		{name: "negative jitter", args: []string{"--jitter", "-1s"}, inErr: "negative"},
		{name: "bad cron", args: []string{"--schedule", "every day"}, inErr: "--schedule"},
		{name: "secret env unset", args: []string{"--webhook-secret-env", "NOPE"}, inErr: "NOPE"},
		{name: "bad listen", args: []string{"--listen", "9100"}, inErr: "--listen"},
		{name: "keep zero", args: []string{"--keep", "0"}, inErr: "--keep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := testFactory(t)
			base := f.Getenv
			f.Getenv = func(k string) string {
				if v, ok := tc.env[k]; ok {
					return v
				}
				return base(k)
			}
			var got *ServeOptions
			cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.ExecuteContext(t.Context())
			if tc.inErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.inErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.inErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// lineWatcher is a stderr that reports lines matching a pattern.
type lineWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan string
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			break
		}
		if w.re.MatchString(line) {
			w.match <- line
		}
	}
	return len(p), nil
}

// serve runs in-process like main does: the first scan is at start, the
// report is served and written, and cancelling the context (SIGTERM) stops
// it with exit code 0.
func TestServeRunsAndStops(t *testing.T) {
	p := fake.New("a", providers.KindECR).
		Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)}).
		Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
	dir := t.TempDir()
	s := startServe(t, fakeFactory(t, p), "serve", "--log-level", "info", "--listen", "127.0.0.1:0", "--reports-dir", dir, "--interval", "1h")
	s.next("scan finished")
	var rep struct {
		Run     struct{ Command string } `json:"run"`
		Summary struct {
			Drift     int `json:"drift"`
			Compliant int `json:"compliant"`
		} `json:"summary"`
	}
	err := json.Unmarshal(s.get("/report/latest"), &rep)
	if err != nil || rep.Run.Command != "serve" || rep.Summary.Drift != 1 || rep.Summary.Compliant != 1 {
		t.Fatalf("latest report %+v (%v)", rep, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".json") {
		t.Fatalf("reports dir holds %v", entries)
	}
	if p.Writes != 0 {
		t.Fatal("serve without --enforce wrote to the registry")
	}
	s.stop()
}

// servingCmd is a serve command running in the background for a test.
type servingCmd struct {
	t      *testing.T
	addr   string // the address it listens on
	w      *lineWatcher
	done   chan error
	cancel context.CancelFunc
}

// startServe runs the root command with args (a serve command with
// --log-level info and --listen 127.0.0.1:0) and waits until it serves.
func startServe(t *testing.T, f *Factory, args ...string) *servingCmd {
	t.Helper()
	s := &servingCmd{t: t, w: &lineWatcher{re: regexp.MustCompile(`msg=serving|msg="scan finished"`), match: make(chan string, 10)},
		done: make(chan error, 1)}
	f.IO.ErrOut = s.w
	cmd := NewRootCmd(f)
	cmd.SetArgs(args)
	ctx, cancel := context.WithCancel(t.Context())
	s.cancel = cancel
	t.Cleanup(cancel)
	go func() { s.done <- cmd.ExecuteContext(ctx) }()
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(s.next("serving line"))
	if addr == nil {
		t.Fatal("no listen address logged")
	}
	s.addr = addr[1]
	return s
}

// next waits for the next line the watcher matches.
func (s *servingCmd) next(what string) string {
	s.t.Helper()
	select {
	case l := <-s.w.match:
		return l
	case err := <-s.done:
		s.t.Fatalf("serve ended before %s: %v", what, err)
	case <-time.After(30 * time.Second):
		s.t.Fatalf("no %s", what)
	}
	return ""
}

// get answers a GET of path on the serving address.
func (s *servingCmd) get(path string) []byte {
	s.t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return body
}

// stop cancels serve as SIGTERM does and wants a clean exit.
func (s *servingCmd) stop() {
	s.t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if code := ExitCode(err); code != CodeOK {
			s.t.Fatalf("exit %d after SIGTERM (%v)", code, err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("serve did not stop")
	}
}

// The Kubernetes examples pass flags the commands accept.
func TestKubernetesExampleArgs(t *testing.T) {
	type container struct {
		Args []string `yaml:"args"`
	}
	type podSpec struct {
		Containers []container `yaml:"containers"`
	}
	checked := 0
	for _, name := range []string{"serve.yaml", "cronjob.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Template    struct{ Spec podSpec } `yaml:"template"`
					JobTemplate struct {
						Spec struct {
							Template struct{ Spec podSpec } `yaml:"template"`
						} `yaml:"spec"`
					} `yaml:"jobTemplate"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			var args []string
			switch doc.Kind {
			case "Deployment":
				args = doc.Spec.Template.Spec.Containers[0].Args
			case "CronJob":
				args = doc.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
			default:
				continue
			}
			f := testFactory(t)
			f.Getenv = func(k string) string {
				if k == "IMMUTAG_WEBHOOK_SECRET" {
					return "a-secret-long-enough-for-the-example"
				}
				return ""
			}
			root := NewRootCmd(f)
			ran := ""
			for _, c := range root.Commands() {
				switch c.Name() {
				case "serve":
					root.RemoveCommand(c)
					root.AddCommand(NewCmdServe(f, func(context.Context, *ServeOptions) error { ran = "serve"; return nil }))
				case "audit":
					root.RemoveCommand(c)
					root.AddCommand(NewCmdAudit(f, func(context.Context, *AuditOptions) error { ran = "audit"; return nil }))
				}
			}
			root.SetArgs(args)
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			if err := root.ExecuteContext(t.Context()); err != nil || ran != args[0] {
				t.Errorf("%s %s: %v %v (ran %q)", name, doc.Kind, args, err, ran)
			}
			checked++
		}
	}
	if checked != 2 {
		t.Fatalf("checked %d containers, want the Deployment and the CronJob", checked)
	}
}

// taggedFake is a fake registry that lists tags with digests and keeps a
// tag history, as the Quay, Harbor and Docker Hub adapters do.
type taggedFake struct{ *fake.Provider }

func (taggedFake) Tags(_ context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	return yield(providers.Tag{Name: "v1", Digest: "sha256:" + strings.Repeat("b", 64)})
}

func (taggedFake) TagHistory(_ context.Context, r providers.Repository, _ time.Time, yield func(providers.Tag) error) (time.Time, error) {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	return at.Add(time.Hour), yield(providers.Tag{Name: "v1", Digest: "sha256:" + strings.Repeat("a", 64), Pushed: at, Ended: at.Add(time.Hour), Source: "fake-auditlog"})
}

// TestServeRecordRecordsTags: serve --record records what audit --record
// does. serve counts every call through a wrapper of each provider, and the
// wrapper hid the adapters' tag listing and history: every provider was
// "cannot list tags", and the ledger stayed empty.
func TestServeRecordRecordsTags(t *testing.T) {
	p := taggedFake{fake.New("a", providers.KindHarbor).Add("s1", fake.Repo{Name: "app", Immutability: imm(providers.ModeMutable)})}
	f := fakeFactory(t, p.Provider)
	f.BuildProviders = func(context.Context, []config.Provider) ([]providers.Provider, error) {
		return []providers.Provider{p}, nil
	}
	dsn := filepath.Join(t.TempDir(), "ledger.db")
	srv := startServe(t, f, "serve", "--record", "--ledger", dsn, "--log-level", "info", "--listen", "127.0.0.1:0", "--reports-dir", t.TempDir(), "--interval", "1h")
	srv.next("scan finished")
	srv.stop()
	r := run(t, testFactory(t), "", "history", "--ledger", dsn, "a/app:v1", "-o", "json")
	var hs []struct {
		Intervals []struct{ Digest, Source string }
	}
	if r.code != CodeOK || json.Unmarshal([]byte(r.stdout), &hs) != nil || len(hs) != 1 || len(hs[0].Intervals) != 2 ||
		hs[0].Intervals[0].Source != "fake-auditlog" || hs[0].Intervals[1].Source != "scan" {
		t.Fatalf("the ledger after serve --record: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
}

// TestServeRecordCountsOverwrites: serve --record against a real adapter
// (Harbor's, on its emulator) counts an overwrite in
// immutag_tag_overwrites_total{provider}: a first serve records v1, v1 is
// pushed again with another image, and the next serve's scan sees the move.
func TestServeRecordCountsOverwrites(t *testing.T) {
	hr := newHarborRecording(t)
	dsn := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Now().Add(-time.Hour)
	if err := hr.s.SeedPush("apps", "api", "v1", "sha256:"+strings.Repeat("a", 64), now); err != nil {
		t.Fatal(err)
	}
	// serveOnce runs serve until its first scan finishes and returns what
	// /metrics exposes then.
	serveOnce := func() string {
		t.Helper()
		srv := startServe(t, hr.factory(t, time.Time{}), "serve", "--config", hr.cfg, "--record", "--ledger", dsn, "--log-level", "info",
			"--listen", "127.0.0.1:0", "--reports-dir", t.TempDir(), "--interval", "1h")
		srv.next("scan finished")
		metrics := srv.get("/metrics")
		srv.stop()
		return string(metrics)
	}
	counted := regexp.MustCompile(`(?m)^immutag_tag_overwrites_total\{provider="hb"\} (\S+)$`)
	if m := counted.FindStringSubmatch(serveOnce()); m != nil && m[1] != "0" {
		t.Fatalf("first serve --record counts overwrites: %s", m[0])
	}
	if err := hr.s.SeedPush("apps", "api", "v1", "sha256:"+strings.Repeat("b", 64), now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	metrics := serveOnce()
	if m := counted.FindStringSubmatch(metrics); m == nil || m[1] != "1" {
		t.Fatalf("after v1 was pushed again: %v; metrics:\n%s", m, grepLines(metrics, "immutag_tag_overwrites"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
