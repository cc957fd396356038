package cli

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers/catalog"
)

// registryNames is how --help names each kind. A kind added to the
// catalog without a name here fails TestHelpNamesEveryRegistry, so the
// help cannot fall behind the build again (it said "ECR ... Quay and
// Harbor" and "the six registry emulators" long after eleven existed).
var registryNames = map[string]string{
	"ecr": "Amazon ECR", "artifactregistry": "Google Artifact Registry", "acr": "Azure Container Registry",
	"dockerhub": "Docker Hub", "quay": "Quay", "harbor": "Harbor", "gitlab": "GitLab", "nexus": "Nexus",
	"artifactory": "Artifactory", "oci": "OCI distribution registry", "ghcr": "GitHub Container Registry",
}

func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, testFactory(t), "", append(args, "--help")...)
	if r.err != nil {
		t.Fatalf("%v --help: %v", args, r.err)
	}
	return strings.Join(strings.Fields(r.stdout), " ")
}

func TestHelpNamesEveryRegistry(t *testing.T) {
	root := helpOf(t)
	sandbox := helpOf(t, "sandbox")
	for _, s := range catalog.Kinds() {
		kind := string(s.Kind)
		name, ok := registryNames[kind]
		if !ok {
			t.Errorf("kind %s has no name in registryNames: name it there and in the root --help", kind)
			continue
		}
		if !strings.Contains(root, name) {
			t.Errorf("immutag --help does not name %s (%s)", name, kind)
		}
		if !strings.Contains(sandbox, kind) {
			t.Errorf("immutag sandbox --help does not name %s", kind)
		}
	}
	for _, stale := range []string{"six", "Quay and Harbor", "Quay and Harbor"} {
		if strings.Contains(sandbox, stale) || strings.Contains(root, stale) {
			t.Errorf("help still says %q", stale)
		}
	}
}

// TestRootHelpExitCodes: the root help's exit codes are README's table:
// 3 is also an overwrite the ledger saw, lint and iac findings, and 130 an
// interruption.
func TestRootHelpExitCodes(t *testing.T) {
	root := helpOf(t)
	for _, want := range []string{"0 clean", "1 error", "2 scan incomplete", "3 drift found with --fail-on-drift", "--fail-on-overwrite", "--fail-on-findings", "130 interrupted"} {
		if !strings.Contains(root, want) {
			t.Errorf("immutag --help lacks %q:\n%s", want, root)
		}
	}
}

// TestHelpTeachesTheLedger: audit and serve --help say what --record does
// and where the ledger is, not only the flag's one line.
func TestHelpTeachesTheLedger(t *testing.T) {
	audit, serve := helpOf(t, "audit"), helpOf(t, "serve")
	for _, want := range []string{"overwrites[]", "immutag history", "ledger.dsn_env", "--record --fail-on-overwrite"} {
		if !strings.Contains(audit, want) {
			t.Errorf("immutag audit --help lacks %q", want)
		}
	}
	for _, want := range []string{"immutag_tag_overwrites_total", "--record records", "immutag history"} {
		if !strings.Contains(serve, want) {
			t.Errorf("immutag serve --help lacks %q", want)
		}
	}
}
