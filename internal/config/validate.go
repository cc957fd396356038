package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// envRE is the conventional shape of a variable name: a value of a
	// *_env key outside it is most likely a secret pasted in its place.
	envRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// Validate checks what the key-level decode cannot: unique names, that the
// kind is one of kinds, the kind's own rules (its Spec), value shapes, that
// tls.ca_file exists, and the policy. It is for configs built in code
// (Decode already runs it). Errors are *Error and locate providers by
// Provider.Line when it is set.
func (c *Config) Validate(kinds Kinds) error {
	return c.validate(func(path string) int {
		rest, ok := strings.CutPrefix(path, "providers[")
		if !ok {
			return 0
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return 0
		}
		i, err := strconv.Atoi(rest[:end])
		if err != nil || i < 0 || i >= len(c.Providers) {
			return 0
		}
		return c.Providers[i].Line
	}, kinds)
}

type validator struct {
	c      *Config
	lineOf func(path string) int
	kinds  Kinds
}

func (v *validator) bad(path, format string, args ...any) error {
	return &Error{File: v.c.File, Line: v.lineOf(path), Key: path, Msg: fmt.Sprintf(format, clipArgs(args)...)}
}

func (c *Config) validate(lineOf func(path string) int, kinds Kinds) error {
	v := &validator{c: c, lineOf: lineOf, kinds: kinds}
	switch {
	case c.Version == 0:
		return v.bad("version", "missing; start the file with version: %d", CurrentVersion)
	case c.Version != CurrentVersion:
		return v.bad("version", "unsupported version %d (this build reads version %d)", c.Version, CurrentVersion)
	}
	if len(c.Providers) == 0 {
		return v.bad("providers", "empty; configure at least one registry (see configs/example.yaml)")
	}
	seen := map[string]int{}
	for i := range c.Providers {
		if err := v.provider(i, seen); err != nil {
			return err
		}
	}
	return v.policy(seen)
}

func (v *validator) provider(i int, seen map[string]int) error {
	p := &v.c.Providers[i]
	path := index("providers", i)
	at := func(key string) string { return path + "." + key }

	switch {
	case p.Name == "":
		return v.bad(at("name"), "missing; every provider needs a unique name (used in reports and --provider)")
	case !nameRE.MatchString(p.Name):
		return v.bad(at("name"), "invalid name %q: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", p.Name)
	}
	if j, dup := seen[p.Name]; dup {
		return v.bad(at("name"), "duplicate name %q (also providers[%d])", p.Name, j)
	}
	seen[p.Name] = i

	spec := v.kinds.Lookup(p.Kind)
	switch {
	case p.Kind == "":
		return v.bad(at("kind"), "missing (want one of %s)", v.kinds.list())
	case spec == nil:
		return v.bad(at("kind"), "unknown kind %q (want one of %s)", p.Kind, v.kinds.list())
	}
	if err := v.settings(p, spec, path); err != nil {
		return err
	}
	creds := []struct {
		key, val string
	}{
		{"username_env", p.Credentials.UsernameEnv},
		{"password_env", p.Credentials.PasswordEnv},
		{"token_env", p.Credentials.TokenEnv},
	}
	for _, cr := range creds {
		if cr.val == "" {
			continue
		}
		key := "credentials." + cr.key
		if !spec.applies(key) {
			return v.bad(at(key), "not used by kind %s", p.Kind)
		}
		// A value that is not a variable name is most likely the secret
		// pasted in place of the name, so it must not be echoed.
		if what := pastedSecret(cr.val); what != "" {
			return v.bad(at(key), "inline secrets are refused: the value looks like %s, not the name of an environment variable (value not shown); put the secret in an environment variable and write the variable's name here, e.g. REGISTRY_TOKEN", what)
		}
	}

	if p.Endpoint != "" {
		if spec.Endpoint != nil {
			if msg := spec.Endpoint(p.Endpoint); msg != "" {
				return v.bad(at("endpoint"), "%s", msg)
			}
		} else if msg := HTTPEndpointProblem(p.Endpoint); msg != "" {
			return v.bad(at("endpoint"), "%s", msg)
		}
	}
	if spec.Validate != nil {
		if err := spec.Validate(*p, Check{v: v, path: path}); err != nil {
			return err
		}
	}
	if ca := p.TLS.CAFile; ca != "" {
		st, err := os.Stat(ca)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return v.bad(at("tls.ca_file"), "%s: no such file", ca)
		case err != nil:
			return v.bad(at("tls.ca_file"), "%s: %v", ca, unwrapPath(err))
		case st.IsDir():
			return v.bad(at("tls.ca_file"), "%s: is a directory, want a PEM file", ca)
		}
	}
	if r := p.Rate.RequestsPerSecond; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return v.bad(at("rate.requests_per_second"), "must be a number >= 0 (0 = the adapter's default)")
	}
	if p.Rate.MaxConcurrent < 0 {
		return v.bad(at("rate.max_concurrent"), "must be >= 0 (0 = the adapter's default)")
	}
	return nil
}

// settings checks that the kind settings belong to the kind (a config built
// in code can mix them up) and that no list holds an empty entry. Entries
// without settings get the kind's zero settings, so adapters always find
// their own type.
func (v *validator) settings(p *Provider, spec *Spec, path string) error {
	at := func(key string) string { return path + "." + key }
	if spec.Settings == nil {
		if p.Settings != nil {
			return v.bad(at("kind"), "kind %s has no settings of its own, got %T", p.Kind, p.Settings)
		}
		return nil
	}
	zero := spec.Settings()
	if ks, ok := p.Settings.(Keys); ok {
		for k := range ks {
			if !spec.applies(k) {
				return v.bad(at(k), "not used by kind %s", p.Kind)
			}
		}
		if err := ks.decodeInto(zero, path); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return v.bad(ce.Key, "%s", ce.Msg)
			}
			return err
		}
		p.Settings = zero
	}
	if p.Settings == nil || reflect.ValueOf(p.Settings).IsNil() {
		p.Settings = zero
		return nil
	}
	if reflect.TypeOf(p.Settings) != reflect.TypeOf(zero) {
		return v.bad(at("kind"), "settings of type %T do not belong to kind %s (want %T)", p.Settings, p.Kind, zero)
	}
	for _, key := range spec.Keys() {
		f, _ := settingsField(p.Settings, key)
		l, ok := f.Interface().([]string)
		if !ok {
			continue
		}
		for j, s := range l {
			if strings.TrimSpace(s) == "" {
				return v.bad(index(at(key), j), "empty entry")
			}
		}
	}
	return nil
}

// HTTPEndpointProblem is the default endpoint check: an absolute http(s)
// URL with a host and no user info. It returns the error message, or "".
func HTTPEndpointProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "want an absolute http(s) URL such as https://registry.example.com"
	}
	if u.User != nil {
		return URLCredentialsRefused
	}
	if URLQueryProblem(u) {
		return URLQueryRefused
	}
	return ""
}

// URLQueryRefused is the message for an endpoint with a query string or
// fragment. No registry API root takes a query string, and one is where
// access_token=... ends up: refused like user:password, not echoed.
const URLQueryRefused = "a query string or fragment in the URL is refused (value not shown): it can carry credentials such as access_token=, and a registry API root needs none"

// URLQueryProblem reports whether u has a query string or fragment.
func URLQueryProblem(u *url.URL) bool { return u.RawQuery != "" || u.ForceQuery || u.Fragment != "" }

func (v *validator) policy(names map[string]int) error {
	pol := &v.c.Policy
	for i, p := range pol.MutableTagsAllowed {
		if strings.TrimSpace(p) == "" {
			return v.bad(index("policy.mutable_tags_allowed", i), "empty pattern")
		}
	}
	for i, e := range pol.Exemptions {
		path := index("policy.exemptions", i)
		if strings.TrimSpace(e.Repository) == "" {
			return v.bad(path+".repository", "missing; a repository name or glob such as sandbox/*")
		}
		if strings.TrimSpace(e.Reason) == "" {
			return v.bad(path+".reason", "missing; say why the repository may stay mutable (the report keeps it)")
		}
		// A literal provider name that matches nothing is a typo that would
		// silently exempt nothing.
		if e.Provider != "" && !strings.Contains(e.Provider, "*") {
			if _, ok := names[e.Provider]; !ok {
				return v.bad(path+".provider", "no provider named %q (configured: %s)", e.Provider, strings.Join(v.names(), ", "))
			}
		}
	}
	return nil
}

func (v *validator) names() []string {
	out := make([]string, 0, len(v.c.Providers))
	for _, p := range v.c.Providers {
		out = append(out, p.Name)
	}
	return out
}

// unwrapPath drops the path from an *fs.PathError: the message names the
// file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// tokenShapes are the credential formats users paste where a variable name
// belongs, with what to call them in the error (never the value).
var tokenShapes = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`^dckr_(pat|oat)_`), "a Docker Hub access token"},
	{regexp.MustCompile(`^(ghp|gho|ghu|ghs|ghr)_|^github_pat_`), "a GitHub token"},
	{regexp.MustCompile(`^glpat-`), "a GitLab token"},
	{regexp.MustCompile(`^(AKIA|ASIA)[0-9A-Z]{16}$`), "an AWS access key id"},
	{regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.`), "a JWT (a bearer token)"},
}

// pastedSecret says what an *_env value probably is when it is not a
// conventional variable name (upper case, digits, underscore), or "".
func pastedSecret(val string) string {
	for _, s := range tokenShapes {
		if s.re.MatchString(val) {
			return s.what
		}
	}
	if !envRE.MatchString(val) {
		return "a secret (a variable name is upper case letters, digits and underscores)"
	}
	return ""
}
