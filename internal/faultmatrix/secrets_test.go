package faultmatrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/report"
)

// TestNoCredentialsInOutput runs audit, fix (plan and apply) and report
// render with --log-level debug, in both log formats, against the
// emulators of every kind that takes credentials, and searches stdout,
// stderr, every report file and the journal for each secret: the values
// of the credential variables and everything that crossed the wire as a
// credential (Authorization values, Basic passwords, minted tokens).
func TestNoCredentialsInOutput(t *testing.T) {
	var (
		ps      []config.Provider
		env     = map[string]string{}
		proxies []*proxy
	)
	for _, start := range []func(*testing.T) *fixture{startECR, startAR, startACR, startHub, startQuay, startHarbor, startOCI, startGHCR} {
		fx := start(t)
		for _, p := range fx.providers {
			// acr-good talks to its registry directly; only proxied traffic is tapped.
			if p.Name == "acr-good" {
				continue
			}
			ps = append(ps, p)
		}
		for k, v := range fx.env {
			env[k] = v
		}
		if fx.px != nil {
			proxies = append(proxies, fx.px)
		}
	}
	cfg := writeConfig(t, config.Policy{MutableTagsAllowed: []string{"latest"}}, ps...)
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.jsonl")
	saved := filepath.Join(dir, "audit.json")

	var outputs []string
	add := func(what, s string) { outputs = append(outputs, what+"\x00"+s) }
	cli := func(format string, args ...string) result {
		t.Helper()
		r := run(t, t.Context(), invocation{cfg: cfg, env: env, args: append([]string{"--log-level", "debug", "--log-format", format}, args...)})
		if r.code != 0 {
			t.Fatalf("%v: exit %d err %v\n%s", args, r.code, r.err, r.stderr)
		}
		if args[0] != "report" && !strings.Contains(strings.ToLower(r.stderr), "debug") {
			t.Fatalf("%v: no debug logging on stderr, the test would prove nothing", args)
		}
		add(strings.Join(args, " ")+" stdout", r.stdout)
		add(strings.Join(args, " ")+" stderr", r.stderr)
		return r
	}

	cli("text", "audit", "-o", "json", "--output", saved)
	cli("json", "audit", "-o", "table")
	// Accepted: Artifact Registry cannot keep latest mutable, and a
	// held-back change would end the run non-zero.
	cli("text", "fix", "--accept-immutable-allowed-tags", "-o", "json")
	cli("json", "fix", "--accept-immutable-allowed-tags", "--apply", "--yes", "--journal", journal, "-o", "json")
	for _, f := range report.Formats {
		out := filepath.Join(dir, "render."+f)
		cli("text", "report", "render", saved, "-o", f, "--output", out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		add("report "+f, string(b))
	}
	for _, p := range []string{saved, journal} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(p), string(b))
	}

	secrets := map[string]bool{os.Getenv("AWS_SECRET_ACCESS_KEY"): true, os.Getenv("AWS_ACCESS_KEY_ID"): true}
	for _, v := range env {
		if len(v) >= 8 {
			secrets[v] = true
		}
	}
	for _, px := range proxies {
		for _, c := range px.credentials() {
			secrets[c] = true
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets collected; the taps are not working", len(secrets))
	}
	for _, o := range outputs {
		what, text, _ := strings.Cut(o, "\x00")
		for s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains a credential (%q...)", what, s[:4])
			}
		}
	}
	t.Logf("%d secrets checked against %d outputs", len(secrets), len(outputs))
}

// TestReadableConfigWarns: a config readable by others that names
// credential variables draws a warning; the same file at 0600 does not.
func TestReadableConfigWarns(t *testing.T) {
	fx := startQuay(t)
	cfg := writeConfig(t, config.Policy{}, fx.providers...)
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o644, true}, {0o640, true}} {
		if err := os.Chmod(cfg, tc.mode); err != nil {
			t.Fatal(err)
		}
		r := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: []string{"audit", "-o", "json"}})
		if got := strings.Contains(r.stderr, "readable by group or others"); got != tc.warn {
			t.Errorf("mode %04o: warning %v, want %v\n%s", tc.mode, got, tc.warn, r.stderr)
		}
		if strings.Contains(r.stderr, fx.env["FM_QUAY_TOKEN"]) {
			t.Errorf("mode %04o: the warning leaks the token", tc.mode)
		}
	}
}

// TestInsecureSkipVerifyWarns: issue 12 case 13. insecure_skip_verify draws
// a warning naming the provider on every run; without it, none.
func TestInsecureSkipVerifyWarns(t *testing.T) {
	fx := startQuay(t)
	for _, insecure := range []bool{false, true} {
		ps := append([]config.Provider(nil), fx.providers...)
		ps[0].TLS.InsecureSkipVerify = insecure
		cfg := writeConfig(t, config.Policy{}, ps...)
		for range 2 {
			r := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: []string{"audit", "-o", "json"}})
			got := strings.Contains(r.stderr, "insecure_skip_verify is on") && strings.Contains(r.stderr, "provider="+ps[0].Name)
			if got != insecure {
				t.Errorf("insecure_skip_verify=%v: warning %v\n%s", insecure, got, r.stderr)
			}
		}
	}
}
