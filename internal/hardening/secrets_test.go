package hardening

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/cli"
	"github.com/immutag/immutag/internal/config"
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers/catalog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoLeaksNoCredentials runs `immutag demo --log-level debug`. The
// demo generates its emulators' secrets and hands them to its adapters; they
// are searched for in everything the demo printed.
func TestDemoLeaksNoCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("demo runs all six emulators")
	}
	for _, format := range []string{"text", "json"} {
		var out, errOut lockedBuffer
		f := cli.NewFactory(cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		f.Now = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }
		var env map[string]string
		run := func(ctx context.Context, o *cli.DemoOptions) error {
			o.Started = func(e map[string]string) { env = e }
			return cli.RunDemo(ctx, o)
		}
		// The root command with its global flags, its demo built with the
		// seam that catches the secrets.
		cmd := cli.NewRootCmd(f)
		if old, _, err := cmd.Find([]string{"demo"}); err == nil && old != cmd {
			cmd.RemoveCommand(old)
		}
		cmd.AddCommand(cli.NewCmdDemo(f, run))
		cmd.SetArgs([]string{"demo", "--log-level", "debug", "--log-format", format})
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		if err := cmd.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("demo (%s logs): %v\n%s", format, err, errOut.String())
		}
		if !strings.Contains(strings.ToLower(errOut.String()), "debug") {
			t.Fatalf("no debug logging on stderr")
		}
		var secrets []string
		for _, v := range []string{"AWS_SECRET_ACCESS_KEY", acremu.DemoPasswordEnv, hubemu.DemoTokenEnv, quayemu.DemoTokenEnv, harboremu.DemoPasswordEnv} {
			s := env[v]
			if len(s) < 8 {
				t.Fatalf("the demo did not hand its adapters %s; cannot check it", v)
			}
			secrets = append(secrets, s)
		}
		for _, s := range secrets {
			for what, text := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
				if strings.Contains(text, s) {
					t.Errorf("demo %s (%s logs) contains a credential (%q...)", what, format, s[:4])
				}
			}
		}
	}
}

// TestInlineSecretNotEchoed: a config that holds a secret inline is
// refused, and the refusal names the key but never repeats the value.
func TestInlineSecretNotEchoed(t *testing.T) {
	const secret = "hunter2-inline-secret"
	for _, body := range []string{
		"version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example.com\n    credentials:\n      username_env: U\n      password: " + secret + "\n",
		"version: 1\nproviders:\n  - name: q\n    kind: quay\n    token: " + secret + "\n",
		"version: 1\nproviders:\n  - name: a\n    kind: ecr\n    aws_secret_access_key: " + secret + "\n",
		"version: 1\nproviders:\n  - name: a\n    kind: ecr\n    endpoint: https://user:" + secret + "@ecr.example.com\n",
	} {
		_, err := config.Decode("inline.yaml", []byte(body), nil, catalog.Kinds())
		if err == nil {
			t.Errorf("accepted an inline secret:\n%s", body)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
}

// TestAliasBombIsRefusedQuickly is the regression for a config of nested
// YAML aliases that took minutes to decode (the seed is in
// testdata/config/alias-bomb.yaml).
func TestAliasBombIsRefusedQuickly(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "config", "alias-bomb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = config.Decode("bomb.yaml", raw, nil, catalog.Kinds())
	if err == nil || !strings.Contains(err.Error(), "aliases") {
		t.Fatalf("Decode: %v", err)
	}
	// The bomb took minutes before the fix; the bound is loose so a loaded
	// machine does not fail it.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %s", d)
	}
	// The permission check walks the same file before any command runs.
	p := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_ = config.PermissionWarning(p)
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("PermissionWarning took %s", d)
	}
}
