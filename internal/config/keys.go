package config

import (
	"slices"
	"strings"

	"github.com/immutag/immutag/internal/providers"
)

// The key tables below are the config contract (ARCHITECTURE.md "Config").
// configs/config.schema.json says the same thing for editors; a test keeps
// the two in step.

var (
	topKeys       = []string{"version", "providers", "policy", "ledger"}
	ledgerKeys    = []string{"dsn", "dsn_env"}
	providerKeys  = []string{"name", "kind", "endpoint", "regions", "role_arns", "pull_through_cache_prefixes", "projects", "locations", "registries", "subscriptions", "namespaces", "credentials", "tls", "rate"}
	credKeys      = []string{"username_env", "password_env", "token_env"}
	tlsKeys       = []string{"ca_file", "insecure_skip_verify"}
	rateKeys      = []string{"requests_per_second", "max_concurrent"}
	policyKeys    = []string{"mutable_tags_allowed", "exemptions"}
	exemptionKeys = []string{"provider", "scope", "repository", "reason", "expires"}
)

// blocks are the nested mappings, for "did you mean credentials.token_env?"
// when a key is written one level too high.
var blocks = []struct {
	name string
	keys []string
}{{"credentials", credKeys}, {"tls", tlsKeys}, {"rate", rateKeys}, {"policy", policyKeys}}

// parentBlock returns the block among known that key belongs in, or "".
func parentBlock(key string, known []string) string {
	for _, b := range blocks {
		if slices.Contains(known, b.name) && slices.Contains(b.keys, key) {
			return b.name
		}
	}
	return ""
}

// usedBy lists the kinds a provider key (or credentials.* key) applies to.
// Keys absent from the map (name, kind, endpoint, tls, rate) apply to every
// kind. A key set for a kind that ignores it is an error rather than a silent
// no-op: "regions" on a dockerhub entry is almost always a copy-paste slip,
// and silently ignoring it would audit less than the user thinks.
var usedBy = map[string][]string{
	"regions":                     {providers.KindECR},
	"role_arns":                   {providers.KindECR},
	"pull_through_cache_prefixes": {providers.KindECR},
	"projects":                    {providers.KindArtifactRegistry, providers.KindHarbor},
	"locations":                   {providers.KindArtifactRegistry},
	"registries":                  {providers.KindACR},
	"subscriptions":               {providers.KindACR},
	"namespaces":                  {providers.KindDockerHub, providers.KindQuay},
	// ECR and Artifact Registry take credentials from their SDK's default
	// chain only, so a credentials block there would be ignored.
	"credentials":              {providers.KindACR, providers.KindDockerHub, providers.KindQuay, providers.KindHarbor},
	"credentials.username_env": {providers.KindACR, providers.KindDockerHub, providers.KindHarbor},
	"credentials.password_env": {providers.KindACR, providers.KindHarbor},
	"credentials.token_env":    {providers.KindDockerHub, providers.KindQuay},
}

// applies reports whether key (relative to a provider entry) is used by kind.
func applies(kind, key string) bool {
	kinds, ok := usedBy[key]
	return !ok || slices.Contains(kinds, kind)
}

// validKind reports whether kind is one of the six supported kinds.
func validKind(kind string) bool { return slices.Contains(providers.Kinds, kind) }

// kindList is "ecr, artifactregistry, ..." for messages.
func kindList() string { return strings.Join(providers.Kinds, ", ") }

// secretLike reports whether a key looks like it holds a secret inline.
// No contract key does (a test checks), and secrets go in *_env keys that
// name a variable; "tokenEnv" is a misspelt key, not a secret.
func secretLike(key string) bool {
	k := strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(key))
	if strings.HasSuffix(k, "env") {
		return false
	}
	switch k {
	case "auth", "authorization", "pass", "pwd", "pat", "key", "credential", "private_key", "client_key":
		return true
	}
	if strings.HasSuffix(k, "_auth") {
		return true
	}
	for _, s := range []string{"password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "accesskey"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// secretHint says where the secret should go instead, for the provider kind
// at hand (kind may be "" or invalid when the entry has no usable kind).
func secretHint(key, kind string) string {
	k := strings.ToLower(key)
	const put = "put the secret in an environment variable and name it in "
	switch {
	case kind == providers.KindECR:
		return "AWS credentials come from the SDK's default chain (AWS_* environment variables, shared config, IAM roles)"
	case kind == providers.KindArtifactRegistry:
		return "Google credentials come from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity)"
	case strings.Contains(k, "pass") || k == "pwd":
		if kind == providers.KindDockerHub || kind == providers.KindQuay {
			return put + "credentials.token_env"
		}
		return put + "credentials.password_env"
	case strings.Contains(k, "token") || k == "pat":
		if kind == providers.KindHarbor {
			return put + "credentials.password_env"
		}
		if kind == providers.KindACR {
			return put + "credentials.password_env (with credentials.username_env), or use the Azure default credential chain"
		}
		return put + "credentials.token_env"
	case kind == providers.KindACR:
		return put + "credentials.password_env (with credentials.username_env), or use the Azure default credential chain"
	case kind == providers.KindHarbor:
		return put + "credentials.password_env"
	case kind == providers.KindDockerHub || kind == providers.KindQuay:
		return put + "credentials.token_env"
	}
	return put + "one of credentials.username_env, password_env, token_env"
}

// suggest returns the known key closest to key, or "" when none is close
// enough to be a plausible typo.
func suggest(key string, known []string) string {
	lk := strings.ToLower(key)
	best, bestD := "", 1<<30
	for _, k := range known {
		if lk == k {
			return k // only the case differs
		}
		// "username" for "username_env": the user wrote the value inline.
		if lk+"_env" == k {
			return k
		}
		// "repo" for "repository", "namespace" for "namespaces".
		if len(lk) >= 3 && strings.HasPrefix(k, lk) {
			return k
		}
		d := editDistance(lk, k)
		if d < bestD {
			best, bestD = k, d
		}
	}
	limit := max(2, len(key)/3)
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: Levenshtein plus
// adjacent transpositions, the commonest typo ("regoins").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
