package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SpecsEnv names the variable that points at the directory holding the
// official API specs.
const SpecsEnv = "IMMUTAG_SPECS_DIR"

// RequireSpecsEnv, set to 1 (CI does), makes a missing spec fail the test
// instead of skipping it: a green run must not hide contract tests that
// never ran.
const RequireSpecsEnv = "IMMUTAG_REQUIRE_SPECS"

// SpecPath finds the spec file in $IMMUTAG_SPECS_DIR, else in a "specs"
// directory in the parent of the repository root (the nearest directory
// above the working directory that holds go.mod), where a development
// checkout keeps them: the specs are read where they are, never copied
// into the repository. The error says where it looked.
func SpecPath(file string) (string, error) {
	var tried []string
	if d := os.Getenv(SpecsEnv); d != "" {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "specs", file)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("%s not found (tried %s; set %s to the directory holding it)", file, strings.Join(tried, ", "), SpecsEnv)
}

// Spec is SpecPath for a test: when the spec is absent the test is skipped
// with a message naming what was skipped and where the spec was looked for,
// or fails when IMMUTAG_REQUIRE_SPECS=1.
func Spec(tb testing.TB, what, file string) string {
	tb.Helper()
	p, err := SpecPath(file)
	if err != nil {
		if os.Getenv(RequireSpecsEnv) == "1" {
			tb.Fatalf("%s: %v (%s=1 makes a missing spec a failure)", what, err, RequireSpecsEnv)
		}
		tb.Skipf("%s skipped: %v", what, err)
	}
	return p
}
