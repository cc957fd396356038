package depcheck

import "strings"

// Module is the module path the rules are written for.
const Module = "github.com/immutag/immutag"

const (
	cli       = Module + "/internal/cli"
	emulators = Module + "/internal/emulator"
	lint      = Module + "/internal/lint"
	providers = Module + "/internal/providers"
	internal  = Module + "/internal"
)

// sdks maps each cloud SDK (import path prefixes) to the one adapter that
// may import it. A new kind with its own SDK adds a line.
var sdks = []struct {
	prefixes []string
	adapter  string
}{
	{[]string{"github.com/aws/"}, providers + "/ecr"},
	{[]string{"github.com/Azure/"}, providers + "/acr"},
	{[]string{"cloud.google.com/go/", "google.golang.org/api", "github.com/googleapis/gax-go"}, providers + "/artifactregistry"},
	{[]string{"gitlab.com/gitlab-org/api/"}, providers + "/gitlab"},
}

// wireSchemas are generated protocol definitions an emulator serves (the
// messages and service descriptors of a gRPC API), not SDK clients.
var wireSchemas = []string{
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb",
	"cloud.google.com/go/longrunning/autogen/longrunningpb",
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// adapterPackage reports whether pkg is (in) a registry adapter: a package
// below internal/providers other than the shared ones.
func adapterPackage(pkg string) bool {
	rest, ok := strings.CutPrefix(pkg, providers+"/")
	if !ok {
		return false
	}
	name, _, _ := strings.Cut(rest, "/")
	switch name {
	case "catalog", "httpapi", "fake", "providertest":
		return false
	}
	return true
}

// Rules are the module's boundaries.
func Rules() []Rule {
	return []Rule{
		{
			Name:  "cobra and viper stay in internal/cli",
			Scope: DirectAndTests,
			For:   func(pkg string) bool { return !Under(pkg, cli) },
			Forbid: func(imp string) bool {
				return Under(imp, "github.com/spf13/cobra") || Under(imp, "github.com/spf13/viper")
			},
		},
		{
			Name:  "a cloud SDK only in its adapter",
			Scope: Direct,
			For:   func(string) bool { return true },
			Forbid: func(imp string) bool {
				for _, s := range sdks {
					if hasPrefix(imp, s.prefixes...) {
						return true
					}
				}
				return false
			},
			Allow: func(pkg, imp string) bool {
				if Under(pkg, emulators) && hasPrefix(imp, wireSchemas...) {
					return true
				}
				for _, s := range sdks {
					if hasPrefix(imp, s.prefixes...) {
						return Under(pkg, s.adapter)
					}
				}
				return false
			},
		},
		{
			Name:   "emulators do not depend on adapters",
			Scope:  Transitive,
			For:    func(pkg string) bool { return Under(pkg, emulators) },
			Forbid: adapterPackage,
		},
		{
			Name:   "the domain model depends on no adapter",
			Scope:  Transitive,
			For:    func(pkg string) bool { return pkg == providers },
			Forbid: func(imp string) bool { return strings.HasPrefix(imp, providers+"/") },
		},
		{
			Name:   "internal/lint imports nothing else of immutag",
			Scope:  DirectAndTests,
			For:    func(pkg string) bool { return Under(pkg, lint) },
			Forbid: func(imp string) bool { return Under(imp, internal) && !Under(imp, lint) },
		},
	}
}
