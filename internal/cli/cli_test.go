package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

type result struct {
	stdout, stderr string
	err            error
	code           int
}

// run executes the root command in-process with buffer streams, the way main does.
func run(t *testing.T, f *Factory, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f.IO.In, f.IO.Out, f.IO.ErrOut = strings.NewReader(stdin), &out, &errOut
	cmd := NewRootCmd(f)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	return result{stdout: out.String(), stderr: errOut.String(), err: err, code: ExitCode(err)}
}

func testFactory(t *testing.T) *Factory {
	t.Helper()
	f := NewFactory(IOStreams{})
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "XDG_STATE_HOME": t.TempDir()}
	f.Getenv = func(k string) string { return env[k] }
	f.Now = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
	return f
}

// fakeFactory serves the given fake providers for a config naming them.
func fakeFactory(t *testing.T, ps ...*fake.Provider) *Factory {
	f := testFactory(t)
	cfg := &config.Config{Version: 1, SHA256: strings.Repeat("0", 64)}
	for _, p := range ps {
		cfg.Providers = append(cfg.Providers, config.Provider{Name: p.NameV, Kind: p.KindV})
	}
	f.Config = func() (*config.Config, error) { return cfg, nil }
	f.BuildProviders = func(_ context.Context, sel []config.Provider) ([]providers.Provider, error) {
		var out []providers.Provider
		for _, s := range sel {
			for _, p := range ps {
				if p.NameV == s.Name {
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
	return f
}

func imm(m providers.Mode) providers.Immutability { return providers.Immutability{Mode: m} }

func TestAuditExitCodes(t *testing.T) {
	clean := func() *fake.Provider {
		return fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	}
	cases := []struct {
		name  string
		prov  func() *fake.Provider
		args  []string
		want  int
		inErr string
	}{
		{"clean", clean, nil, CodeOK, ""},
		{"clean-fail-on-drift", clean, []string{"--fail-on-drift"}, CodeOK, ""},
		{"drift-no-flag", func() *fake.Provider {
			return clean().Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, nil, CodeOK, ""},
		{"drift", func() *fake.Provider {
			return clean().Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, []string{"--fail-on-drift"}, CodeDrift, "drift found: 1 of 2"},
		{"incomplete-scope", func() *fake.Provider {
			return clean().FailScope("s2", errors.New("AccessDenied"))
		}, []string{"--fail-on-drift"}, CodeIncomplete, "scan incomplete"},
		{"incomplete-repo", func() *fake.Provider {
			return clean().Add("s1", fake.Repo{Name: "unk", Immutability: imm(providers.ModeUnknown)})
		}, nil, CodeIncomplete, "1 unreadable repository"},
		{"drift-wins-over-incomplete", func() *fake.Provider {
			return clean().FailScope("s2", errors.New("denied")).Add("s1", fake.Repo{Name: "bad", Immutability: imm(providers.ModeMutable)})
		}, []string{"--fail-on-drift"}, CodeDrift, "drift found"},
		{"bad-format", clean, []string{"-o", "xml"}, CodeError, `-o "xml"`},
		{"unknown-provider", clean, []string{"--provider", "nope"}, CodeError, "nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeFactory(t, tc.prov())
			f.Config = func() (*config.Config, error) {
				c := &config.Config{Version: 1, Providers: []config.Provider{{Name: "a", Kind: "ecr"}}}
				return c, nil
			}
			r := run(t, f, "", append([]string{"audit"}, tc.args...)...)
			if r.code != tc.want {
				t.Fatalf("exit %d, want %d (err %v)\nstdout: %s", r.code, tc.want, r.err, r.stdout)
			}
			if tc.inErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.inErr)) {
				t.Fatalf("error %v does not contain %q", r.err, tc.inErr)
			}
			if tc.want != CodeError {
				// Not a terminal: JSON by default, and it parses.
				var rep map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
				}
			}
		})
	}
}

func TestAuditFormatsAndOutputFile(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s", fake.Repo{Name: "r", Immutability: imm(providers.ModeMutable)})
	f := fakeFactory(t, p)
	r := run(t, f, "", "audit", "-o", "table")
	if r.err != nil || !strings.Contains(r.stdout, "REPOSITORY") || !strings.Contains(r.stdout, "total: 1 repository,") {
		t.Fatalf("table: %v\n%s", r.err, r.stdout)
	}
	f.IO.StdoutTTY = true
	r = run(t, f, "", "audit")
	if !strings.Contains(r.stdout, "REPOSITORY") {
		t.Fatalf("terminal default is not table:\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	r = run(t, f, "", "audit", "--output", out)
	if r.err != nil || r.stdout != "" {
		t.Fatalf("--output: %v stdout %q", r.err, r.stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Issue 12 case 13: a report is written 0600, like the journal.
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("report file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	var rep struct {
		SchemaVersion int `json:"schema_version"`
		Run           audit.Run
	}
	if err := json.Unmarshal(b, &rep); err != nil || rep.SchemaVersion != 1 || rep.Run.Command != "audit" {
		t.Fatalf("file report: %v %+v", err, rep)
	}
}

func TestFixDryRunApplyAndConfirmation(t *testing.T) {
	p := fake.New("a", providers.KindECR).
		Add("s", fake.Repo{Name: "r1", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "r2", Immutability: imm(providers.ModeImmutable)})
	f := fakeFactory(t, p)
	journal := filepath.Join(t.TempDir(), "j.jsonl")

	r := run(t, f, "", "fix", "-o", "json")
	if r.err != nil || p.Writes != 0 {
		t.Fatalf("dry run: err %v writes %d", r.err, p.Writes)
	}
	var rep struct {
		Run     audit.Run
		Changes []audit.ChangeRecord
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].State != "planned" || rep.Changes[0].Repository != "r1" || rep.Run.DryRun == nil || !*rep.Run.DryRun {
		t.Fatalf("plan %+v", rep)
	}

	// Not a terminal and no --yes: refused, nothing written.
	r = run(t, f, "", "fix", "--apply", "--journal", journal)
	if r.code != CodeError || !strings.Contains(r.err.Error(), "--yes") || p.Writes != 0 {
		t.Fatalf("apply without --yes: code %d err %v writes %d", r.code, r.err, p.Writes)
	}
	// A terminal that answers no: nothing written.
	f.IO.StdinTTY = true
	r = run(t, f, "n\n", "fix", "--apply", "--journal", journal)
	if r.code != CodeError || p.Writes != 0 {
		t.Fatalf("answer no: code %d writes %d", r.code, p.Writes)
	}
	r = run(t, f, "y\n", "fix", "--apply", "--journal", journal, "-o", "json")
	if r.err != nil || p.Writes != 1 {
		t.Fatalf("answer yes: %v writes %d stderr %s", r.err, p.Writes, r.stderr)
	}
	if got, _ := p.Get("s", "r1"); got.Mode != providers.ModeImmutable {
		t.Fatalf("r1 not fixed: %+v", got)
	}
	b, err := os.ReadFile(journal)
	if err != nil || strings.Count(string(b), "\n") != 3 { // intent, write, verified
		t.Fatalf("journal: %v\n%s", err, b)
	}
	// Idempotent: a second apply plans nothing and writes nothing.
	f.IO.StdinTTY = false
	r = run(t, f, "", "fix", "--apply", "--yes", "--journal", journal)
	if r.err != nil || p.Writes != 1 || !strings.Contains(r.stderr, "nothing to change") {
		t.Fatalf("second apply: %v writes %d stderr %s", r.err, p.Writes, r.stderr)
	}
}

func TestFixVerifyFailureExitsNonZero(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s", fake.Repo{Name: "r1", Immutability: imm(providers.ModeMutable)})
	p.BreakVerify = true
	f := fakeFactory(t, p)
	r := run(t, f, "", "fix", "--apply", "--yes", "--journal", filepath.Join(t.TempDir(), "j"))
	if r.code != CodeError || !strings.Contains(r.err.Error(), "could not be verified") {
		t.Fatalf("code %d err %v", r.code, r.err)
	}
}

func TestConfigErrorsAreOneLineExit1(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const okProv = "  - name: aws\n    kind: ecr\n    regions: [us-east-1]\n"
	cases := []struct {
		name, body string
		want       []string
		extraArgs  []string
	}{
		{"missing", "", []string{"nope.yaml"}, nil},
		{"yaml-syntax", "version: 1\nproviders:\n  - name: [unclosed\n", []string{"yaml-syntax.yaml:3"}, nil},
		{"unknown-kind", "version: 1\nproviders:\n  - name: x\n    kind: ecrr\n", []string{"unknown-kind.yaml", "providers[0].kind"}, nil},
		{"duplicate-name", "version: 1\nproviders:\n" + okProv + okProv, []string{"duplicate-name.yaml", "providers[1].name"}, nil},
		{"typo", "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regoins: [us-east-1]\n", []string{"typo.yaml:5", "regoins"}, nil},
		{"inline-secret", "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    namespaces: [acme]\n    credentials:\n      password: hunter2-very-secret\n", []string{"inline-secret.yaml", "credentials.password"}, nil},
		{"provider-names-nothing", "version: 1\nproviders:\n" + okProv, []string{"ghost"}, []string{"--provider", "ghost"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "nope.yaml")
			if tc.body != "" {
				path = write(tc.name+".yaml", tc.body)
			}
			f := testFactory(t)
			r := run(t, f, "", append([]string{"audit", "--config", path}, tc.extraArgs...)...)
			if r.code != CodeError || r.err == nil {
				t.Fatalf("exit %d err %v", r.code, r.err)
			}
			msg := r.err.Error()
			if strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
				t.Fatalf("not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error echoes the secret: %q", msg)
			}
		})
	}
}

func TestVersionAndHelpNeedNoConfig(t *testing.T) {
	f := testFactory(t)
	f.Config = func() (*config.Config, error) { t.Fatal("config read"); return nil, nil }
	if r := run(t, f, "", "version"); r.err != nil || !strings.HasPrefix(r.stdout, "immutag ") {
		t.Fatalf("%v %q", r.err, r.stdout)
	}
	r := run(t, f, "", "fix", "--help")
	if r.err != nil || !strings.Contains(r.stdout, "--apply") || !strings.Contains(r.stdout, "never") {
		t.Fatalf("%v %q", r.err, r.stdout)
	}
	if r := run(t, f, "", "audit", "--log-level", "loud"); r.code != CodeError {
		t.Fatalf("bad log level accepted: %v", r.err)
	}
}

func ExampleExitCode() {
	fmt.Println(ExitCode(nil), ExitCode(errors.New("x")), ExitCode(&ExitError{Code: CodeIncomplete}), ExitCode(&ExitError{Code: CodeDrift}))
	// Output: 0 1 2 3
}

// --output to a device writes through it (the bug renamed a temporary file
// over /dev/null); an unwritable directory is reported with the user's
// path, not an internal temporary name.
func TestOutputToDevicesAndBadPaths(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	r := run(t, fakeFactory(t, p), "", "audit", "-o", "json", "--output", os.DevNull)
	if r.code != CodeOK {
		t.Fatalf("--output %s: exit %d %v", os.DevNull, r.code, r.err)
	}
	if fi, err := os.Lstat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v", os.DevNull, err)
	}
	r = run(t, fakeFactory(t, p), "", "audit", "-o", "json", "--output", "/nonexistent/dir/r.json")
	if r.code != CodeError || !strings.Contains(r.err.Error(), "--output /nonexistent/dir/r.json: ") || strings.Contains(r.err.Error(), "immutag-report") || strings.Contains(r.err.Error(), ".tmp-") {
		t.Fatalf("bad directory: exit %d %v", r.code, r.err)
	}
}

func TestSmallCLIContracts(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	// An empty --provider used to select nothing and audit everything.
	for _, v := range []string{"", "a,", ",a"} {
		if r := run(t, fakeFactory(t, p), "", "audit", "-o", "json", "--provider", v); r.code == CodeOK || !strings.Contains(r.err.Error(), "empty name") {
			t.Errorf("--provider %q: exit %d %v", v, r.code, r.err)
		}
	}
	if r := run(t, fakeFactory(t, p), "", "audit", "-o", "json", "--provider", "a"); r.code != CodeOK {
		t.Errorf("--provider a: exit %d %v", r.code, r.err)
	}
	if r := run(t, testFactory(t), "", "--version"); r.code != CodeOK || !strings.HasPrefix(r.stdout, "immutag ") {
		t.Errorf("--version: exit %d %q %v", r.code, r.stdout, r.err)
	}
	if r := run(t, testFactory(t), "", "report", "diff", "only-one.json"); r.code == CodeOK || !strings.Contains(r.err.Error(), "report diff takes two reports") {
		t.Errorf("report diff with one argument: %v", r.err)
	}
	r := run(t, fakeFactory(t, p), "", "__complete", "audit", "-o", "")
	if !strings.Contains(r.stdout, "sarif\n") {
		t.Errorf("completion for -o: %q", r.stdout)
	}
	r = run(t, fakeFactory(t, p), "", "__complete", "audit", "--provider", "")
	if !strings.HasPrefix(r.stdout, "a\n") {
		t.Errorf("completion for --provider: %q", r.stdout)
	}
	// One repository is "1 repository".
	r = run(t, fakeFactory(t, p), "", "audit", "-o", "table")
	if strings.Contains(r.stdout, "1 repositories") || !strings.Contains(r.stdout, "1 repository,") {
		t.Errorf("table summary: %s", r.stdout)
	}
}

// When no scope at all could be read, the run did not audit anything: exit
// 1 "cannot run" naming each provider's error, not 2 with an empty report.
func TestNothingReadableCannotRun(t *testing.T) {
	a := fake.New("a", providers.KindECR).FailScope("s1", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"))
	b := fake.New("b", providers.KindQuay).FailScope("ns", errors.New("lookup quay.invalid: no such host"))
	r := run(t, fakeFactory(t, a, b), "", "audit", "-o", "json")
	if r.code != CodeError || !strings.Contains(r.err.Error(), "cannot run") ||
		!strings.Contains(r.err.Error(), "a: dial tcp 127.0.0.1:1: connect: connection refused") || !strings.Contains(r.err.Error(), "b: lookup quay.invalid") {
		t.Fatalf("exit %d %v", r.code, r.err)
	}
	// One readable scope is an incomplete audit, exit 2 as before.
	a.Add("s2", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	if r := run(t, fakeFactory(t, a, b), "", "audit", "-o", "json"); r.code != CodeIncomplete {
		t.Fatalf("partly readable: exit %d %v", r.code, r.err)
	}
}
