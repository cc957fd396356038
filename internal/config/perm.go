package config

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PermissionWarning returns a warning for the CLI to log when file is
// readable by group or others and names credential variables (a *_env key
// with a value), or "" when there is nothing to say. The file holds only
// variable names, but it maps which variables unlock which registry, and
// a shared-readable config is often the first step to an inline secret.
// Windows modes carry no such bits, so it never warns there.
func PermissionWarning(file string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm()&0o044 == 0 {
		return ""
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	var doc yaml.Node
	if yaml.Unmarshal(raw, &doc) != nil || !namesCredentials(&doc, 0, map[*yaml.Node]bool{}) {
		return ""
	}
	return fmt.Sprintf("config file %s is readable by group or others (mode %04o) and names credential variables; restrict it with chmod 600 %s", file, uint32(st.Mode().Perm()), file)
}

// namesCredentials walks each node once: aliases can make the tree
// exponentially larger than the file.
func namesCredentials(n *yaml.Node, depth int, seen map[*yaml.Node]bool) bool {
	if n == nil || depth > maxDepth || seen[n] {
		return false
	}
	seen[n] = true
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if strings.HasSuffix(k.Value, "_env") && v.Kind == yaml.ScalarNode && v.Value != "" && v.ShortTag() != "!!null" {
				return true
			}
		}
	}
	for _, c := range n.Content {
		if namesCredentials(c, depth+1, seen) {
			return true
		}
	}
	return n.Kind == yaml.AliasNode && namesCredentials(n.Alias, depth+1, seen)
}
