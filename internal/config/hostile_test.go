package config_test

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
)

// Issue 12 cases 3, 4 and 13: hostile config files. Each fails with a
// located error that never repeats the secret or the file's text.
var hostileCases = []errCase{
	{name: "docker pat pasted as token_env", key: "providers[0].credentials.token_env", line: 8, secret: "dckr_pat_abcdef1234567890abcdef", msg: "looks like a Docker Hub access token",
		yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    namespaces: [acme]\n    credentials:\n      username_env: HUB_USER\n      token_env: dckr_pat_abcdef1234567890abcdef\n"},
	{name: "github token pasted", key: "providers[0].credentials.token_env", line: 7, secret: "ghp_abcdefABCDEF0123456789abcdef012345", msg: "looks like a GitHub token",
		yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials:\n      token_env: ghp_abcdefABCDEF0123456789abcdef012345\n"},
	{name: "gitlab token pasted", key: "providers[0].credentials.password_env", line: 8, secret: "glpat-abcdefghij0123456789", msg: "looks like a GitLab token",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials:\n      username_env: U\n      password_env: glpat-abcdefghij0123456789\n"},
	{name: "jwt pasted", key: "providers[0].credentials.token_env", line: 7, secret: "eyJhbGciOiJIUzI1NiJ9", msg: "looks like a JWT",
		yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials:\n      token_env: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig\n"},
	{name: "lower-case password pasted", key: "providers[0].credentials.password_env", line: 8, secret: "hunter2isMyPassword", msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials:\n      username_env: U\n      password_env: hunter2isMyPassword\n"},
	{name: "access token in endpoint query", key: "providers[0].endpoint", line: 5, secret: "qwerty-token-value", msg: "query string or fragment in the URL is refused",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: http://h.example/?access_token=qwerty-token-value\n"},
	{name: "shadow line as a key", line: 1, secret: "$6$saltsalt$hash", msg: "not an immutag config",
		yaml: "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"},
}

func TestHostileConfigs(t *testing.T) {
	const file = "immutag.yaml"
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Decode(file, []byte(tc.yaml), nil, kinds)
			if err == nil {
				t.Fatalf("Decode succeeded (%d providers), want an error", len(c.Providers))
			}
			checkErr(t, err, file, tc)
		})
	}
}

// TestLongValuesCut: a 50 MB provider name is not echoed in full.
func TestLongValuesCut(t *testing.T) {
	name := strings.Repeat("N", 50<<20)
	_, err := config.Decode("immutag.yaml", []byte("version: 1\nproviders:\n  - name: "+name+"\n    kind: ecr\n    regions: [us-east-1]\n"), nil, kinds)
	if err == nil {
		t.Fatal("a 50 MB name was accepted")
	}
	if n := len(err.Error()); n > config.MaxErrorLen+64 {
		t.Errorf("error is %d bytes long", n)
	}
	if !strings.Contains(err.Error(), "bytes cut") {
		t.Errorf("error does not say the value was cut: %.200s", err)
	}
}

// TestLimitsBlameAliasesOnlyWhenThereAreSome: the value and depth limits
// name aliases as the likely cause only in a file that has some; a file
// that is simply too big or too deep is told so, with the limit.
func TestLimitsBlameAliasesOnlyWhenThereAreSome(t *testing.T) {
	var many strings.Builder
	many.WriteString("version: 1\npolicy:\n  mutable_tags_allowed:\n")
	for range 100_001 {
		many.WriteString("  - x\n")
	}
	deep := "version: 1\npolicy:\n  mutable_tags_allowed: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n"
	bomb := "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	for name, tc := range map[string]struct{ yaml, want, not string }{
		"many values": {many.String(), "more than 100000 values", "alias"},
		"deep":        {deep, "nested more than 32 levels", "alias"},
		"alias bomb":  {bomb, "once aliases are expanded", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Decode("immutag.yaml", []byte(tc.yaml), nil, kinds)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || (tc.not != "" && strings.Contains(err.Error(), tc.not)) {
				t.Errorf("error %q: want %q and not %q", err, tc.want, tc.not)
			}
		})
	}
}
