package faultmatrix

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/cli"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// The AWS SDK reads credentials from the process environment, which tests
// running in parallel cannot change, so it is set once for the binary.
// STS follows each provider's endpoint when AWS_ENDPOINT_URL_STS is unset.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faultmatrix-aws-")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIAFAULTMATRIXTEST1",
		"AWS_SECRET_ACCESS_KEY":       "faultmatrix-secret",
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_ECR"} {
		os.Unsetenv(k)
	}
	// The size cells (oversize-body, gzip-bomb) need a body past the limit
	// in every adapter; at 2 MiB they stay cheap under -race. No healthy
	// answer in the matrix comes near it.
	httpapi.MaxBodyBytes = 2 << 20
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// jsonReport is the part of the JSON report the assertions read.
type jsonReport struct {
	Summary  audit.Summary        `json:"summary"`
	Scopes   []audit.ScopeResult  `json:"scopes"`
	Warnings []providers.Warning  `json:"warnings"`
	Findings []audit.Finding      `json:"findings"`
	Changes  []audit.ChangeRecord `json:"changes"`
}

type result struct {
	code           int
	err            error
	stdout, stderr string
	rep            jsonReport
	elapsed        time.Duration
}

// invocation is one in-process run of the immutag CLI.
type invocation struct {
	cfg   string                // config file
	env   map[string]string     // credential variables the config names
	hc    *http.Client          // when set, REST adapters use it (short per-attempt timeouts)
	retry providers.RetryTuning // when set, SDK-based adapters use it (short backoff and timeouts)
	args  []string
}

// run executes the root command the way main does, with its own factory,
// so runs are independent and can be parallel. The report is parsed when
// stdout holds one.
func run(t *testing.T, ctx context.Context, in invocation) result {
	t.Helper()
	f := cli.NewFactory(cli.IOStreams{})
	f.Getenv = func(k string) string {
		if v, ok := in.env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	if in.hc != nil || in.retry != (providers.RetryTuning{}) {
		f.BuildProviders = func(ctx context.Context, ps []config.Provider) ([]providers.Provider, error) {
			o := f.ProviderOptions()
			o.HTTPClient = in.hc
			o.Retry = in.retry
			return catalog.Build(ctx, ps, o)
		}
	}
	var out, errOut syncBuffer
	f.IO = cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := cli.NewRootCmd(f)
	cmd.SetArgs(append([]string{"--config", in.cfg}, in.args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	start := time.Now()
	err := cmd.ExecuteContext(ctx)
	r := result{code: cli.ExitCode(err), err: err, stdout: out.String(), stderr: errOut.String(), elapsed: time.Since(start)}
	if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		if jerr := json.Unmarshal([]byte(r.stdout), &r.rep); jerr != nil {
			t.Fatalf("stdout is not a JSON report: %v\n%s", jerr, r.stdout)
		}
	}
	return r
}

// writeConfig writes a config file (mode 0600, as the docs ask) for ps.
func writeConfig(t *testing.T, pol config.Policy, ps ...config.Provider) string {
	t.Helper()
	b, err := yaml.Marshal(&config.Config{Version: config.CurrentVersion, Providers: ps, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "immutag.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r jsonReport) scope(provider, name string) (audit.ScopeResult, bool) {
	for _, s := range r.Scopes {
		if s.Provider == provider && s.Scope == name {
			return s, true
		}
	}
	return audit.ScopeResult{}, false
}

func (r jsonReport) findingsIn(provider, scope string) []audit.Finding {
	var out []audit.Finding
	for _, f := range r.Findings {
		if f.Provider == provider && f.Scope == scope {
			out = append(out, f)
		}
	}
	return out
}

func (r jsonReport) finding(provider, scope, repo string) (audit.Finding, bool) {
	for _, f := range r.Findings {
		if f.Provider == provider && f.Scope == scope && f.Repository == repo {
			return f, true
		}
	}
	return audit.Finding{}, false
}
