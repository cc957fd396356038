// Package configload finds the config file, parses it once with
// config.Parse, looks up the IMMUTAG_* environment overrides of its keys
// through a private viper instance and has the decoder lay them over it.
// Besides internal/cli it is the only package that imports viper;
// everything downstream sees a typed config.Config.
package configload

import (
	"github.com/immutag/immutag/internal/safefile"

	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/viper"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// EnvPrefix prefixes every environment override (IMMUTAG_VERSION, ...).
const EnvPrefix = "IMMUTAG"

// EnvConfig names the config file when --config is not given.
const EnvConfig = EnvPrefix + "_CONFIG"

// ErrNoConfig is wrapped when no file was given and none was found in the
// default places; the message lists where Load looked.
var ErrNoConfig = errors.New("no config file found")

// Options says where to look. The zero value searches the defaults with the
// process environment.
type Options struct {
	// File is the --config value; "" searches IMMUTAG_CONFIG, then the defaults.
	File string
	// Getenv reads IMMUTAG_CONFIG, XDG_CONFIG_HOME, HOME and the IMMUTAG_*
	// overrides; nil means os.Getenv. An injected Getenv wins over the
	// process environment, which viper's AutomaticEnv still consults.
	Getenv func(string) string
	// WorkDir is the directory ./immutag.yaml is looked for in (and relative
	// paths are resolved against); "" means the current directory.
	WorkDir string
}

// boundEnv are the keys whose IMMUTAG_* override works even when the file
// does not set them. Overrides apply to scalar keys and to whole lists of
// strings, given comma- or space-separated:
//
//	IMMUTAG_VERSION=1
//	IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED="latest,dev-*"
//
// providers and policy.exemptions are lists of entries that an environment
// variable cannot address one by one, so they come from the file only (an
// IMMUTAG_PROVIDERS value is a type error, not a silent replacement).
var boundEnv = []string{"version", "policy.mutable_tags_allowed"}

// Load finds, reads, decodes and validates the config (Doc.Decode runs
// Validate), so a nil error means the CLI can use it as is.
//
// The file is Options.File, else $IMMUTAG_CONFIG, else the first that exists
// of ./immutag.yaml and $XDG_CONFIG_HOME/immutag/config.yaml (XDG default
// ~/.config). A file named explicitly must exist; when none is named and
// none is found the error wraps ErrNoConfig.
func Load(o Options) (*config.Config, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	file, err := find(o, getenv)
	if err != nil {
		return nil, err
	}
	raw, err := safefile.ReadFile(file, safefile.ConfigLimit)
	if err != nil {
		return nil, readError(file, err)
	}

	doc, err := config.Parse(file, raw)
	if err != nil {
		return nil, err
	}
	// viper binds the IMMUTAG_* variables only; the file was parsed once,
	// above, by the decoder that locates its errors.
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	keys := doc.Keys()
	for _, k := range boundEnv {
		if err := v.BindEnv(k); err != nil {
			return nil, err
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	overrides := map[string]string{}
	for _, k := range keys {
		// An injected Getenv (tests, embedding) wins over the process
		// environment, which viper reads itself.
		if o.Getenv != nil {
			if val := o.Getenv(EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))); val != "" {
				overrides[k] = val
				continue
			}
		}
		if val := v.GetString(k); val != "" {
			overrides[k] = val
		}
	}
	return doc.Decode(overrides, catalog.Kinds())
}

// find picks the config file path. Explicit choices (flag, IMMUTAG_CONFIG)
// are returned as given even when missing, so the read reports them.
func find(o Options, getenv func(string) string) (string, error) {
	resolve := func(p string) string {
		if o.WorkDir != "" && !filepath.IsAbs(p) {
			return filepath.Join(o.WorkDir, p)
		}
		return p
	}
	if o.File != "" {
		return resolve(o.File), nil
	}
	if f := getenv(EnvConfig); f != "" {
		return resolve(f), nil
	}
	candidates := []string{resolve("immutag.yaml")}
	if dir := userConfigDir(o, getenv); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "immutag", "config.yaml"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", &noConfigError{looked: candidates}
}

// userConfigDir is $XDG_CONFIG_HOME, or ~/.config. A relative
// XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
func userConfigDir(o Options, getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return x
	}
	home := getenv("HOME")
	if home == "" && o.Getenv == nil {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".config")
}

type noConfigError struct{ looked []string }

func (e *noConfigError) Error() string {
	return ErrNoConfig.Error() + " (looked for " + strings.Join(e.looked, ", ") + "); pass --config FILE or set " + EnvConfig + " (see configs/example.yaml)"
}

func (e *noConfigError) Unwrap() error { return ErrNoConfig }

// readError keeps the message to one line naming the file: "config file X:
// no such file" rather than the os package's "open X: no such file or
// directory".
func readError(file string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &fileError{file: file, msg: "no such file", err: err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fileError{file: file, msg: pe.Err.Error(), err: err}
	}
	return &fileError{file: file, msg: err.Error(), err: err}
}

type fileError struct {
	file, msg string
	err       error
}

func (e *fileError) Error() string { return "config file " + e.file + ": " + e.msg }
func (e *fileError) Unwrap() error { return e.err }
