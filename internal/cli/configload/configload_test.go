package configload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers/catalog"
)

const minimal = `version: 1
providers:
  - name: aws
    kind: ecr
    regions: [us-east-1]
  - name: quay
    kind: quay
    namespaces: [acme]
policy:
  mutable_tags_allowed: [latest]
`

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envOf is an injected environment: only these variables exist.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// withName returns minimal with the first provider renamed, so a test can
// tell which file was loaded.
func withName(name string) string { return strings.Replace(minimal, "name: aws", "name: "+name, 1) }

func TestSearchOrder(t *testing.T) {
	work, xdg, home := t.TempDir(), t.TempDir(), t.TempDir()
	local := filepath.Join(work, "immutag.yaml")
	xdgFile := filepath.Join(xdg, "immutag", "config.yaml")
	homeFile := filepath.Join(home, ".config", "immutag", "config.yaml")
	named := filepath.Join(t.TempDir(), "named.yaml")
	fromEnv := filepath.Join(t.TempDir(), "env.yaml")
	write(t, local, withName("local"))
	write(t, xdgFile, withName("xdg"))
	write(t, homeFile, withName("home"))
	write(t, named, withName("named"))
	write(t, fromEnv, withName("fromenv"))

	env := envOf("XDG_CONFIG_HOME", xdg, "HOME", home, "IMMUTAG_CONFIG", fromEnv)
	load := func(o Options) string {
		t.Helper()
		c, err := Load(o)
		if err != nil {
			t.Fatal(err)
		}
		return c.Providers[0].Name + " " + c.File
	}
	if got := load(Options{File: named, Getenv: env, WorkDir: work}); got != "named "+named {
		t.Errorf("--config: got %q", got)
	}
	if got := load(Options{Getenv: env, WorkDir: work}); got != "fromenv "+fromEnv {
		t.Errorf("IMMUTAG_CONFIG: got %q", got)
	}
	env = envOf("XDG_CONFIG_HOME", xdg, "HOME", home)
	if got := load(Options{Getenv: env, WorkDir: work}); got != "local "+local {
		t.Errorf("./immutag.yaml first: got %q", got)
	}
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	if got := load(Options{Getenv: env, WorkDir: work}); got != "xdg "+xdgFile {
		t.Errorf("XDG_CONFIG_HOME next: got %q", got)
	}
	// Without XDG_CONFIG_HOME (or with a relative one, which the spec
	// says to ignore) the default is ~/.config.
	for _, e := range []func(string) string{envOf("HOME", home), envOf("HOME", home, "XDG_CONFIG_HOME", "rel/dir")} {
		if got := load(Options{Getenv: e, WorkDir: work}); got != "home "+homeFile {
			t.Errorf("~/.config default: got %q", got)
		}
	}
	// A relative --config is resolved against WorkDir.
	write(t, filepath.Join(work, "sub", "x.yaml"), withName("relative"))
	if got := load(Options{File: "sub/x.yaml", Getenv: env, WorkDir: work}); !strings.HasPrefix(got, "relative ") {
		t.Errorf("relative --config: got %q", got)
	}
}

func TestNoConfig(t *testing.T) {
	work, xdg := t.TempDir(), t.TempDir()
	_, err := Load(Options{Getenv: envOf("XDG_CONFIG_HOME", xdg), WorkDir: work})
	if !errors.Is(err, ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(work, "immutag.yaml"), filepath.Join(xdg, "immutag", "config.yaml"), "--config", "IMMUTAG_CONFIG"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("multi-line error %q", msg)
	}
	// A directory named immutag.yaml is not a config file.
	if err := os.Mkdir(filepath.Join(work, "immutag.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{Getenv: envOf("XDG_CONFIG_HOME", xdg), WorkDir: work}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("directory: err = %v", err)
	}
}

func TestExplicitFileMissing(t *testing.T) {
	work := t.TempDir()
	// A file in the default place must not be used when one was named.
	write(t, filepath.Join(work, "immutag.yaml"), minimal)
	missing := filepath.Join(work, "nope.yaml")
	for name, o := range map[string]Options{
		"--config":       {File: missing, Getenv: envOf(), WorkDir: work},
		"IMMUTAG_CONFIG": {Getenv: envOf("IMMUTAG_CONFIG", missing), WorkDir: work},
	} {
		_, err := Load(o)
		if err == nil {
			t.Fatalf("%s: loaded a missing file", name)
		}
		if got, want := err.Error(), "config file "+missing+": no such file"; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
		if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoConfig) {
			t.Errorf("%s: want fs.ErrNotExist and not ErrNoConfig: %v", name, err)
		}
	}
	// Unreadable is reported on one line naming the file too.
	dir := filepath.Join(work, "adir.yaml")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{File: dir, Getenv: envOf()})
	if err == nil || !strings.HasPrefix(err.Error(), "config file "+dir+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("directory as --config: %v", err)
	}
}

func TestLoadSetsFileSHAAndLines(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "c.yaml"), minimal)
	c, err := Load(Options{File: f, Getenv: envOf()})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(minimal))
	if c.File != f || c.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("File=%q SHA256=%q", c.File, c.SHA256)
	}
	if c.Providers[0].Line != 3 || c.Providers[1].Line != 6 {
		t.Errorf("lines = %d, %d; want 3, 6", c.Providers[0].Line, c.Providers[1].Line)
	}
}

// TestEnvOverrides: IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED replaces the list
// (comma separated) and IMMUTAG_VERSION the version, both through the
// injected Getenv and through the process environment viper reads itself.
func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	f := write(t, filepath.Join(dir, "c.yaml"), minimal)
	noPolicy := write(t, filepath.Join(dir, "nopolicy.yaml"), strings.Split(minimal, "policy:")[0])

	c, err := Load(Options{File: f, Getenv: envOf("IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED", "latest,dev-*, nightly")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Policy.MutableTagsAllowed, "|"); got != "latest|dev-*|nightly" {
		t.Errorf("injected override: %q", got)
	}
	// The key need not be in the file.
	c, err = Load(Options{File: noPolicy, Getenv: envOf("IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED", "edge")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Policy.MutableTagsAllowed, "|"); got != "edge" {
		t.Errorf("override of an absent key: %q", got)
	}
	// The digest is the file's alone without overrides; with them it covers
	// them too, and they are named: a report (and report merge) must not
	// pass a policy the environment replaced off as the reviewed file's.
	plain, err := Load(Options{File: noPolicy, Getenv: envOf()})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(noPolicy)
	if err != nil {
		t.Fatal(err)
	}
	fileSum := sha256.Sum256(raw)
	if plain.SHA256 != hex.EncodeToString(fileSum[:]) || len(plain.Overrides) != 0 || len(plain.Policy.MutableTagsAllowed) != 0 {
		t.Errorf("without overrides: SHA %s (want the file's), overrides %v, policy %+v", plain.SHA256, plain.Overrides, plain.Policy)
	}
	if c.SHA256 == plain.SHA256 || strings.Join(c.Overrides, ",") != "policy.mutable_tags_allowed" {
		t.Errorf("with IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED: SHA %s (the file's is %s), overrides %v", c.SHA256, plain.SHA256, c.Overrides)
	}
	star, err := Load(Options{File: noPolicy, Getenv: envOf("IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED", "*")})
	if err != nil {
		t.Fatal(err)
	}
	if star.SHA256 == c.SHA256 || star.SHA256 == plain.SHA256 {
		t.Errorf("two override values, one digest: %s", star.SHA256)
	}

	_, err = Load(Options{File: f, Getenv: envOf("IMMUTAG_VERSION", "2")})
	if err == nil || !strings.Contains(err.Error(), f+":1: version: unsupported version 2") {
		t.Errorf("IMMUTAG_VERSION=2: %v", err)
	}

	// The process environment, read by viper's AutomaticEnv.
	t.Setenv("IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED", "from-process")
	c, err = Load(Options{File: f})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Policy.MutableTagsAllowed, "|"); got != "from-process" {
		t.Errorf("process env override: %q", got)
	}
}

func TestLoadErrorsAreLocated(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
		secret              string
	}{
		{"syntax", "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  mutable_tags_allowed: a: b\n",
			"immutag.yaml:7: yaml: mapping values are not allowed in this context", ""},
		{"duplicate key (viper refuses first)", "version: 1\nversion: 1\n", "immutag.yaml:2: version: duplicate key (first set at line 1)", ""},
		{"typo", "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regoins: [us-east-1]\n",
			"immutag.yaml:5: providers[0].regoins: unknown key (did you mean regions?)", ""},
		{"inline secret", "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials: {username_env: U, password: Tr0ub4dor}\n",
			"immutag.yaml:6: providers[0].credentials.password: inline secrets are refused; put the secret in an environment variable and name it in credentials.password_env", "Tr0ub4dor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			write(t, filepath.Join(sub, "immutag.yaml"), tc.content)
			t.Chdir(sub)
			_, err := Load(Options{Getenv: envOf("XDG_CONFIG_HOME", t.TempDir())})
			if err == nil {
				t.Fatal("loaded")
			}
			if err.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", err, tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("%T is not a *config.Error", err)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Error("secret echoed")
			}
		})
	}
}

func TestExampleLoads(t *testing.T) {
	f, err := filepath.Abs("../../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{File: f, Getenv: envOf()})
	if err != nil {
		t.Fatalf("configs/example.yaml: %v", err)
	}
	kinds := map[string]bool{}
	for _, p := range c.Providers {
		kinds[string(p.Kind)] = true
	}
	for _, k := range catalog.Kinds().Names() {
		if !kinds[k] {
			t.Errorf("example covers kinds %v, not %s", kinds, k)
		}
	}
	if _, err := c.Select([]string{"hub", "harbor-onprem"}); err != nil {
		t.Errorf("select from example: %v", err)
	}
}

// TestConcurrentLoads: every Load has its own viper, so different
// environments in parallel never bleed into each other (run with -race).
func TestConcurrentLoads(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "c.yaml"), minimal)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			want := fmt.Sprintf("tag-%d", i)
			c, err := Load(Options{File: f, Getenv: envOf("IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED", want)})
			if err != nil {
				errs <- err
				return
			}
			if got := strings.Join(c.Policy.MutableTagsAllowed, ","); got != want {
				errs <- fmt.Errorf("load %d got %q", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLoadReadsTheFileOnce: the permission check uses what the one parse
// saw, so a file changed after Load does not change the warning, and an
// override of a key the file sets is laid over that parse.
func TestLoadReadsTheFileOnce(t *testing.T) {
	withCreds := "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials: {token_env: QUAY_TOKEN}\n"
	f := write(t, filepath.Join(t.TempDir(), "c.yaml"), withCreds)
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{File: f, Getenv: envOf("IMMUTAG_VERSION", "1")})
	if err != nil {
		t.Fatal(err)
	}
	// Rewritten without credentials, same mode: the decoded file named some.
	if err := os.WriteFile(f, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := c.PermissionWarning(); !strings.Contains(w, "chmod 600 "+f) {
		t.Errorf("warning %q", w)
	}
	if w := config.PermissionWarning(f); w != "" {
		t.Errorf("the rewritten file names no credentials, yet: %q", w)
	}
	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	if w := c.PermissionWarning(); w != "" {
		t.Errorf("private file: %q", w)
	}
}
