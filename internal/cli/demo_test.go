package cli

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDemoLeavesEnvironmentAlone runs the whole demo with an AWS setup in
// the process environment that would break it if it were read (a profile
// that does not exist, a session token that does not belong to the demo's
// keys) and checks that the process environment is the same while the
// emulators run and afterwards: the adapters get everything through Getenv.
func TestDemoLeavesEnvironmentAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs every emulator")
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "immutag-no-such-profile")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_SESSION_TOKEN", "not-the-demo-keys-token")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	before := slices.Sorted(slices.Values(os.Environ()))

	var out, errOut bytes.Buffer
	f := testFactory(t)
	f.IO.Out, f.IO.ErrOut = &out, &errOut
	var during []string
	var handed map[string]string
	opts := &DemoOptions{Deps: f.Deps(), Started: func(env map[string]string) {
		during = slices.Sorted(slices.Values(os.Environ()))
		handed = env
	}}
	if err := RunDemo(t.Context(), opts); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "demo finished") {
		t.Fatalf("the demo did not finish:\n%s", out.String())
	}
	if handed["AWS_ACCESS_KEY_ID"] == "" || handed["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("the demo handed its adapters no AWS keys: %v", slices.Sorted(maps.Keys(handed)))
	}
	after := slices.Sorted(slices.Values(os.Environ()))
	if !slices.Equal(before, during) {
		t.Errorf("the process environment changed while the emulators ran:\n%s", envDiff(before, during))
	}
	if !slices.Equal(before, after) {
		t.Errorf("the process environment changed after the demo:\n%s", envDiff(before, after))
	}
}

func envDiff(a, b []string) string {
	var d []string
	for _, kv := range a {
		if !slices.Contains(b, kv) {
			d = append(d, "- "+kv)
		}
	}
	for _, kv := range b {
		if !slices.Contains(a, kv) {
			d = append(d, "+ "+kv)
		}
	}
	return strings.Join(d, "\n")
}

// TestDemoGetenv: the emulators' variables win, the user's cloud SDK
// variables are hidden, anything else is the user's.
func TestDemoGetenv(t *testing.T) {
	user := map[string]string{"NO_COLOR": "1", "AWS_SESSION_TOKEN": "user-token", "AWS_ACCESS_KEY_ID": "user-key", "AZURE_CLIENT_SECRET": "user-secret"}
	get := demoGetenv(map[string]string{"AWS_ACCESS_KEY_ID": "demo-key", "X_DEMO": ""}, func(k string) string { return user[k] })
	for k, want := range map[string]string{"AWS_ACCESS_KEY_ID": "demo-key", "AWS_SESSION_TOKEN": "", "AZURE_CLIENT_SECRET": "", "NO_COLOR": "1", "X_DEMO": ""} {
		if got := get(k); got != want {
			t.Errorf("Getenv(%s) = %q, want %q", k, got, want)
		}
	}
}
