package config

import "testing"

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 7, Key: "a.b", Msg: "bad"}, "f.yaml:7: a.b: bad"},
		{Error{File: "f.yaml", Key: "a.b", Msg: "bad"}, "f.yaml: a.b: bad"},
		{Error{File: "f.yaml", Line: 2, Msg: "yaml: x"}, "f.yaml:2: yaml: x"},
		{Error{Key: "a", Msg: "bad"}, "a: bad"},
		{Error{Line: 4, Msg: "bad\n  more"}, "line 4: bad; more"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "kind", "endpoint", "regions", "role_arns", "projects", "locations", "registries", "subscriptions", "namespaces", "credentials", "tls", "rate"}
	for key, want := range map[string]string{
		"regoins":     "regions",
		"region":      "regions",
		"namespace":   "namespaces",
		"role_arn":    "role_arns",
		"endpoit":     "endpoint",
		"Kind":        "kind",
		"credentails": "credentials",
		"zzzzzz":      "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestSecretLike(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "token": true, "secret": true, "secret_access_key": true,
		"access_key_id": true, "client_secret": true, "api_key": true, "auth": true,
		"aws_secret_access_key": true, "accessToken": true, "basic_auth": true,
		"token_env": false, "password_env": false, "tokenEnv": false,
		"regions": false, "author": false, "name": false,
	} {
		if got := secretLike(key); got != want {
			t.Errorf("secretLike(%q) = %v, want %v", key, got, want)
		}
	}
	// The secret scan runs before the schema check, so no contract key may
	// look like a secret.
	for _, table := range [][]string{topKeys, credKeys, tlsKeys, rateKeys, policyKeys, exemptionKeys} {
		for _, key := range table {
			if secretLike(key) {
				t.Errorf("contract key %q looks like a secret", key)
			}
		}
	}
}
