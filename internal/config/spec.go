package config

import (
	"github.com/immutag/immutag/internal/providers"

	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Spec is one registry kind's part of the config contract: the provider
// keys it reads besides the common envelope (name, kind, endpoint,
// credentials, tls, rate), how its entries are validated and where its
// secrets belong. Each adapter package declares its Spec next to its
// constructor; internal/providers/catalog hands the set to Decode and
// Validate as Kinds, so this package imports no adapter.
type Spec struct {
	// Kind is the value of the kind key (contract).
	Kind providers.Kind
	// Settings returns a new, zero settings value: a pointer to a struct
	// whose exported fields tagged `yaml:"key"` are the kind's own provider
	// keys, in documentation order. Field types are string, []string, bool,
	// int and float64. Decode fills it from the entry and stores it in
	// Provider.Settings; nil means the kind has no keys of its own.
	Settings func() any
	// Credentials are the credentials.* keys the kind reads (username_env,
	// password_env, token_env). Empty means the kind takes its credentials
	// from an SDK chain and a credentials block is refused.
	Credentials []string
	// Endpoint, when set, replaces the default endpoint check (an absolute
	// http(s) URL without user info). It returns the error message, or "".
	Endpoint func(raw string) string
	// SecretHint completes "inline secrets are refused; ..." for a key that
	// looks like an inline secret (key as written); nil gives the generic hint.
	SecretHint func(key string) string
	// Validate checks what the key-level decode cannot: keys the kind cannot
	// work without, value shapes. It reports through c so errors are located
	// (file:line: providers[N].key: message).
	Validate func(p Provider, c Check) error
}

// Kinds is the set of registry kinds a build supports, in documentation order.
type Kinds []*Spec

// Lookup returns the Spec of kind, or nil.
func (ks Kinds) Lookup(kind providers.Kind) *Spec {
	for _, s := range ks {
		if s.Kind == kind {
			return s
		}
	}
	return nil
}

// Names lists the kinds in order.
func (ks Kinds) Names() []string {
	out := make([]string, 0, len(ks))
	for _, s := range ks {
		out = append(out, string(s.Kind))
	}
	return out
}

// list is "ecr, artifactregistry, ..." for messages.
func (ks Kinds) list() string { return strings.Join(ks.Names(), ", ") }

// Keys are the kind's own provider keys, in declaration order.
func (s *Spec) Keys() []string {
	if s == nil || s.Settings == nil {
		return nil
	}
	t := reflect.TypeOf(s.Settings()).Elem()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if k := fieldKey(t.Field(i)); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// providerKeys is the envelope plus every kind's own keys, in the order the
// "known here" message lists them.
func (ks Kinds) providerKeys() []string {
	out := []string{"name", "kind", "endpoint"}
	for _, s := range ks {
		for _, k := range s.Keys() {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return append(out, "credentials", "tls", "rate")
}

// applies reports whether key (relative to a provider entry: "regions",
// "credentials", "credentials.token_env") is read by s. The envelope keys
// apply to every kind. A key set for a kind that ignores it is an error
// rather than a silent no-op: "regions" on a dockerhub entry is almost
// always a copy-paste slip, and ignoring it would audit less than the user
// thinks.
func (s *Spec) applies(key string) bool {
	switch key {
	case "name", "kind", "endpoint", "tls", "rate":
		return true
	case "credentials":
		return len(s.Credentials) > 0
	}
	if sub, ok := strings.CutPrefix(key, "credentials."); ok {
		return slices.Contains(s.Credentials, sub)
	}
	if base, _, ok := strings.Cut(key, "."); ok && (base == "tls" || base == "rate") {
		return true
	}
	return slices.Contains(s.Keys(), key)
}

// fieldKey is the config key of a settings field ("" when it has none).
func fieldKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" {
		return ""
	}
	return k
}

// settingsField returns the field of settings (a struct pointer) for key.
func settingsField(settings any, key string) (reflect.Value, bool) {
	v := reflect.ValueOf(settings).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if fieldKey(t.Field(i)) == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// Check locates a kind's validation errors in one provider entry.
type Check struct {
	v    *validator
	path string // providers[N]
}

// Errorf returns a located *Error for key, relative to the provider entry
// ("regions", "regions[1]", "credentials.password_env").
func (c Check) Errorf(key, format string, args ...any) error {
	return c.v.bad(c.path+"."+key, format, args...)
}

// Pair requires credentials.username_env and credentials.password_env to be
// set together (or both left out).
func (c Check) Pair(p Provider) error {
	u, pw := p.Credentials.UsernameEnv, p.Credentials.PasswordEnv
	if u != "" && pw == "" {
		return c.Errorf("credentials.password_env", "missing; set it together with credentials.username_env")
	}
	if pw != "" && u == "" {
		return c.Errorf("credentials.username_env", "missing; set it together with credentials.password_env")
	}
	return nil
}

// PutSecretIn starts the usual SecretHint: the secret goes in a variable
// named by a credentials key.
const PutSecretIn = "put the secret in an environment variable and name it in "

// URLCredentialsRefused is the message for an endpoint with user info; the
// value is not shown because the password would be in it.
const URLCredentialsRefused = "credentials in the URL are refused (value not shown); put the secret in an environment variable and name it under credentials"

// Keys are a kind's own keys by name, as a config file writes them
// ({"regions": []string{"us-east-1"}}): code that must not import the
// adapter (emulators, fixtures) builds entries with them. Validate and
// SettingsOf decode them into the kind's settings type.
type Keys map[string]any

// SettingsOf returns the kind settings of p as *T: a zero T when p has none
// (an entry built in code for a kind without keys), the decoded Keys when
// given by name, an error when they belong to another kind.
func SettingsOf[T any](p Provider) (*T, error) {
	switch s := p.Settings.(type) {
	case nil:
		return new(T), nil
	case *T:
		if s == nil {
			return new(T), nil
		}
		return s, nil
	case Keys:
		out := new(T)
		if err := s.decodeInto(out, ""); err != nil {
			return nil, fmt.Errorf("provider %q: %w", p.Name, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("provider %q: settings of type %T are not %s settings", p.Name, p.Settings, p.Kind)
}

// decodeInto sets the fields of settings (a struct pointer) from ks with
// the rules of a config file; path prefixes key paths in errors.
func (ks Keys) decodeInto(settings any, path string) error {
	d := &decoder{}
	for _, k := range slices.Sorted(maps.Keys(ks)) {
		f, ok := settingsField(settings, k)
		if !ok {
			return &Error{Key: join(path, k), Msg: "unknown key"}
		}
		if err := d.field(f, join(path, k), fromAny(ks[k])); err != nil {
			return err
		}
	}
	return nil
}
