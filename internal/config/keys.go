package config

import (
	"slices"
	"strings"
)

// The key tables below are the common envelope of the config contract
// (docs/architecture.md "Config"); each kind's own provider keys are in its
// adapter's Spec. configs/config.schema.json says the same thing for
// editors; a test keeps the two in step.

var (
	topKeys       = []string{"version", "providers", "policy", "ledger"}
	ledgerKeys    = []string{"dsn", "dsn_env"}
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
// at hand (s is nil when the entry has no usable kind).
func secretHint(key string, s *Spec) string {
	if s != nil && s.SecretHint != nil {
		return s.SecretHint(key)
	}
	switch k := strings.ToLower(key); {
	case strings.Contains(k, "pass") || k == "pwd":
		return PutSecretIn + "credentials.password_env"
	case strings.Contains(k, "token") || k == "pat":
		return PutSecretIn + "credentials.token_env"
	}
	return PutSecretIn + "one of credentials.username_env, password_env, token_env"
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
