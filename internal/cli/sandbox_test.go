package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers/catalog"
)

type sandboxReady struct {
	path string
	env  map[string]string
}

// startSandbox runs `immutag sandbox args...` until the test ends and
// returns its stdout once it serves.
func startSandbox(t *testing.T, args ...string) (sandboxReady, string) {
	t.Helper()
	f := testFactory(t)
	var out, errOut bytes.Buffer
	f.IO.Out, f.IO.ErrOut = &out, &errOut
	ready := make(chan sandboxReady, 1)
	cmd := NewCmdSandbox(f, func(ctx context.Context, o *SandboxOptions) error {
		o.ready = func(p string, env map[string]string) { ready <- sandboxReady{p, env} }
		return sandboxRun(ctx, o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		// Idle keep-alive connections would hold the emulators' graceful shutdown.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("sandbox returned %v", err)
		}
	})
	select {
	case r := <-ready:
		return r, out.String()
	case err := <-errc:
		errc <- nil
		t.Fatalf("sandbox stopped before serving: %v\n%s", err, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("sandbox did not become ready")
	}
	return sandboxReady{}, ""
}

// sandboxFactory is a factory whose environment is the sandbox's exports.
func sandboxFactory(t *testing.T, r sandboxReady) *Factory {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	t.Setenv("AWS_PROFILE", "")
	for k, v := range r.env {
		// The AWS SDK reads its credentials from the process environment.
		t.Setenv(k, v)
	}
	f := testFactory(t)
	f.Getenv = os.Getenv
	return f
}

func TestSandboxWritesAReadyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.yaml")
	r, stdout := startSandbox(t, "--write-config", path)
	if r.path != path {
		t.Errorf("config written to %s, want %s", r.path, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	body, _ := os.ReadFile(path)
	if len(r.env) < 5 {
		t.Fatalf("env %v: want the credentials of every emulator", r.env)
	}
	for k, v := range r.env {
		if len(v) >= 8 && bytes.Contains(body, []byte(v)) && !strings.HasPrefix(k, "AWS_ENDPOINT") && k != "AWS_REGION" {
			t.Errorf("the value of %s is written into the config file", k)
		}
		if !strings.Contains(stdout, "export "+k+"=") {
			t.Errorf("stdout has no export line for %s:\n%s", k, stdout)
		}
	}
	for _, kind := range catalog.Kinds().Names() {
		if !strings.Contains(stdout, kind) {
			t.Errorf("stdout does not list the %s endpoint:\n%s", kind, stdout)
		}
	}
	// The endpoint list is a table: every URL starts in one column
	// (artifactory-demo, longer than the names before it, pushed its row
	// out of line).
	col := -1
	for _, line := range strings.Split(stdout, "\n") {
		i := strings.Index(line, "://")
		if !strings.HasPrefix(line, "  ") || i < 0 || strings.Contains(line, "export") {
			continue
		}
		start := strings.LastIndex(line[:i], " ") + 1
		if col == -1 {
			col = start
		} else if start != col {
			t.Errorf("endpoint URL at column %d, the first at %d:\n%s", start, col, stdout)
		}
	}

	f := sandboxFactory(t, r)
	res := run(t, f, "", "audit", "--config", path, "-o", "json")
	if res.code != CodeOK {
		t.Fatalf("audit against the sandbox: exit %d, %v\n%s", res.code, res.err, res.stderr)
	}
	var rep struct {
		Summary struct {
			Repositories int `json:"repositories"`
			Drift        int `json:"drift"`
			Compliant    int `json:"compliant"`
			ByProvider   map[string]struct {
				Repositories int `json:"repositories"`
			} `json:"by_provider"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	if len(rep.Summary.ByProvider) != len(catalog.Kinds()) || rep.Summary.Drift == 0 || rep.Summary.Compliant == 0 {
		t.Errorf("summary %+v: want every provider, with drift and compliant repositories", rep.Summary)
	}
	for name, c := range rep.Summary.ByProvider {
		if c.Repositories == 0 {
			t.Errorf("%s: no repository audited", name)
		}
	}

	// Without accepting it, Artifact Registry's repositories are held back
	// (the policy allows latest, which AR cannot keep mutable): exit 1.
	res = run(t, f, "", "fix", "--config", path, "--apply", "--yes", "--journal", filepath.Join(t.TempDir(), "j.jsonl"), "-o", "json")
	if res.code != CodeError || !strings.Contains(res.stderr, "held back") {
		t.Fatalf("fix --apply without accepting: exit %d, %v\n%s", res.code, res.err, res.stderr)
	}
	// The walkthrough the sandbox prints: fix everything, then the gate passes.
	res = run(t, f, "", "fix", "--config", path, "--apply", "--yes", "--accept-immutable-allowed-tags", "--journal", filepath.Join(t.TempDir(), "j.jsonl"), "-o", "json")
	if res.code != CodeOK {
		t.Fatalf("fix --apply against the sandbox: exit %d, %v\n%s", res.code, res.err, res.stderr)
	}
	res = run(t, f, "", "audit", "--config", path, "--fail-on-drift", "-o", "json")
	if res.code != CodeOK {
		t.Fatalf("re-audit after the fix: exit %d, %v\n%s", res.code, res.err, res.stderr)
	}
}

func TestSandboxSeedFaultsAndDeny(t *testing.T) {
	r, stdout := startSandbox(t, "--seed", "30", "--page-size", "7", "--faults-on", "harbor,quay", "--deny", "quay/acme")
	for _, want := range []string{"page size 7 on harbor, quay", "denied scopes: quay/acme", "up to 30 repositories"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	f := sandboxFactory(t, r)
	res := run(t, f, "", "audit", "--config", r.path, "-o", "json", "--provider", "quay-demo,harbor-demo")
	if res.code != CodeIncomplete {
		t.Fatalf("audit with a denied scope: exit %d (%v), want %d", res.code, res.err, CodeIncomplete)
	}
	var rep struct {
		Scopes []struct {
			Provider, Scope, Status string
		} `json:"scopes"`
		Summary struct {
			ByProvider map[string]struct {
				Repositories int `json:"repositories"`
			} `json:"by_provider"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Scopes {
		if want := s.Provider == "quay-demo" && s.Scope == "acme"; (s.Status == "error") != want {
			t.Errorf("scope %s/%s status %s", s.Provider, s.Scope, s.Status)
		}
	}
	if n := rep.Summary.ByProvider["harbor-demo"].Repositories; n != 30 {
		t.Errorf("harbor repositories = %d with --seed 30 and page size 7, want 30", n)
	}
}

func TestSandboxFlagValidation(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0"},
		{"--listen", "127.0.0.1:9000"},
		{"--listen", "::1"},
		{"--seed", "-1"},
		{"--error-rate", "1.5"},
		{"--throttle-rate", "-0.1"},
		{"--page-size", "-2"},
		{"--faults-on", "gcr"},
		{"--deny", "quay"},
	} {
		f := testFactory(t)
		res := run(t, f, "", append([]string{"sandbox"}, args...)...)
		if res.code != CodeError || res.err == nil {
			t.Errorf("sandbox %v: exit %d, err %v; want a flag error", args, res.code, res.err)
		}
	}
}
