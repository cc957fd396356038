package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"", "", true},
		{"", "a", false},
		{"sandbox/*", "sandbox/app", true},
		{"sandbox/*", "sandbox/team/app", true}, // * crosses "/"
		{"sandbox/*", "sandbox", false},
		{"sandbox/*", "prod/sandbox/app", false}, // full match, not substring
		{"*/cache", "a/b/cache", true},
		{"*/cache", "a/b/cache/x", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a*b", "aab", true},
		{"a*a*a", "aaaa", true},
		{"a*a*a", "aa", false},
		{"v?", "v1", false}, // ? is literal
		{"v?", "v?", true},
		{"[ab]", "a", false}, // brackets are literal
		{"[ab]", "[ab]", true},
		{"team.*", "teamX", false}, // . is literal
		{"App", "app", false},      // case-sensitive
		{"**", "x/y", true},
		{"123456789012/*", "123456789012/us-east-1", true},
	} {
		if got := Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestExemptionActiveExpired(t *testing.T) {
	day := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	jan31 := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		expires time.Time
		now     time.Time
		active  bool
	}{
		{"no expiry", time.Time{}, day("2099-01-01T00:00:00Z"), true},
		{"day before", jan31, day("2027-01-30T12:00:00Z"), true},
		{"last day start", jan31, day("2027-01-31T00:00:00Z"), true},
		{"last day end", jan31, day("2027-01-31T23:59:59Z"), true},
		{"day after", jan31, day("2027-02-01T00:00:00Z"), false},
		{"long after", jan31, day("2028-06-01T00:00:00Z"), false},
		// The UTC date counts, not the local one.
		{"local still jan 31, UTC feb 1", jan31, day("2027-01-31T20:00:00-05:00"), false},
		{"local feb 1, UTC jan 31", jan31, day("2027-02-01T01:00:00+02:00"), true},
		// An RFC 3339 expiry counts by its UTC date.
		{"rfc3339 expiry", day("2027-01-31T23:00:00-05:00"), day("2027-02-01T10:00:00Z"), true},
	} {
		e := Exemption{Repository: "x", Reason: "y", Expires: tc.expires}
		if got := e.Active(tc.now); got != tc.active {
			t.Errorf("%s: Active = %v, want %v", tc.name, got, tc.active)
		}
		if got := e.Expired(tc.now); got == tc.active {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, !tc.active)
		}
	}
}

func TestExemptionMatches(t *testing.T) {
	e := Exemption{Repository: "sandbox/*"}
	if !e.Matches("any", "123456789012/us-east-1", "sandbox/a/b") {
		t.Error("empty provider/scope should match everything")
	}
	e.Provider, e.Scope = "aws-*", "*/eu-west-1"
	for _, tc := range []struct {
		provider, scope, repo string
		want                  bool
	}{
		{"aws-prod", "1/eu-west-1", "sandbox/x", true},
		{"gcp", "1/eu-west-1", "sandbox/x", false},
		{"aws-prod", "1/us-east-1", "sandbox/x", false},
		{"aws-prod", "1/eu-west-1", "prod/x", false},
	} {
		if got := e.Matches(tc.provider, tc.scope, tc.repo); got != tc.want {
			t.Errorf("Matches(%q,%q,%q) = %v", tc.provider, tc.scope, tc.repo, got)
		}
	}
}

func TestSelect(t *testing.T) {
	c := &Config{File: "immutag.yaml", Providers: []Provider{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	names := func(ps []Provider) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	all, err := c.Select(nil)
	if err != nil || names(all) != "a,b,c" {
		t.Fatalf("Select(nil) = %q, %v", names(all), err)
	}
	all[0].Name = "changed"
	if c.Providers[0].Name != "a" {
		t.Error("Select returned the config's own slice")
	}
	got, err := c.Select([]string{"c", "a", "c"})
	if err != nil || names(got) != "a,c" {
		t.Errorf("Select(c,a,c) = %q, %v; want config order without duplicates", names(got), err)
	}
	_, err = c.Select([]string{"a", "nope", "zz"})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"immutag.yaml", `"nope"`, `"zz"`, "configured: a, b, c"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("multi-line error %q", msg)
	}
	globbed := &Config{File: "immutag.yaml", Providers: []Provider{{Name: "aws-prod"}, {Name: "hub"}, {Name: "aws-dev"}}}
	got, err = globbed.Select([]string{"aws-*"})
	if err != nil || names(got) != "aws-prod,aws-dev" {
		t.Errorf("Select(aws-*) = %q, %v; want every provider the pattern matches, in config order", names(got), err)
	}
	got, err = globbed.Select([]string{"hub", "aws-?ev"})
	if err != nil || names(got) != "hub,aws-dev" {
		t.Errorf("Select(hub, aws-?ev) = %q, %v", names(got), err)
	}
	if _, err := globbed.Select([]string{"gcp-*"}); err == nil || !strings.Contains(err.Error(), `unknown provider "gcp-*"`) {
		t.Errorf("a pattern matching nothing: %v; want it named as unknown", err)
	}
	if _, err := globbed.Select([]string{"aws-[prod"}); err == nil || !strings.Contains(err.Error(), `"aws-[prod" is not a valid pattern`) {
		t.Errorf("a malformed pattern: %v", err)
	}
	empty := &Config{}
	if _, err := empty.Select([]string{"x"}); err == nil || !strings.Contains(err.Error(), "configured: none") {
		t.Errorf("empty config: %v", err)
	}
}

func TestPermissionWarning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on windows")
	}
	dir := t.TempDir()
	withCreds := "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials: {token_env: QUAY_TOKEN}\n"
	noCreds := "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n"
	emptyEnv := "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials: {token_env: \"\"}\n"
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		warn    bool
	}{
		{"world readable with creds", withCreds, 0o644, true},
		{"group readable with creds", withCreds, 0o640, true},
		{"private with creds", withCreds, 0o600, false},
		{"world readable without creds", noCreds, 0o644, false},
		{"empty env name", emptyEnv, 0o644, false},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
		if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, tc.mode); err != nil {
			t.Fatal(err)
		}
		got := PermissionWarning(f)
		if (got != "") != tc.warn {
			t.Errorf("%s: warning %q, want warn=%v", tc.name, got, tc.warn)
		}
		if got != "" && (!strings.Contains(got, f) || !strings.Contains(got, "chmod 600")) {
			t.Errorf("%s: warning %q should name the file and the fix", tc.name, got)
		}
	}
	if got := PermissionWarning(filepath.Join(dir, "missing.yaml")); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
