package config

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// PermissionWarning returns a warning for the CLI to log when file is
// readable by group or others and names credential variables (a *_env key
// with a value), or "" when there is nothing to say. The file holds only
// variable names, but it maps which variables unlock which registry, and
// a shared-readable config is often the first step to an inline secret.
// Windows modes carry no such bits, so it never warns there.
func PermissionWarning(file string) string {
	return permissionWarning(file, func() bool {
		raw, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		doc, err := Parse(file, raw)
		return err == nil && namesCredentials(doc.root)
	})
}

// PermissionWarning is the package's PermissionWarning for a decoded file,
// from what Decode saw in it: the file is not read again.
func (c *Config) PermissionWarning() string {
	if c.File == "" {
		return ""
	}
	return permissionWarning(c.File, func() bool { return c.namesCredentials })
}

func permissionWarning(file string, names func() bool) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm()&0o044 == 0 || !names() {
		return ""
	}
	return fmt.Sprintf("config file %s is readable by group or others (mode %04o) and names credential variables; restrict it with chmod 600 %s", file, uint32(st.Mode().Perm()), file)
}

// namesCredentials reports whether the file as written (without
// environment overrides) gives a *_env key a value. Aliases are already
// expanded, within Parse's bounds.
func namesCredentials(v *value) bool {
	for _, e := range v.keys {
		if strings.HasSuffix(e.key, "_env") && e.val.kind == vScalar && e.val.text != "" {
			return true
		}
		if namesCredentials(e.val) {
			return true
		}
	}
	for _, it := range v.items {
		if namesCredentials(it) {
			return true
		}
	}
	return false
}
