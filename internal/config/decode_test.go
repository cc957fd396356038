package config_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers/catalog"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/ecr"
	"github.com/immutag/immutag/internal/providers/quay"
)

// kinds are the registry kinds of this build, as the CLI passes them.
var kinds = catalog.Kinds()

// valid is a minimal config that passes; error cases mutate copies of it.
const valid = `version: 1
providers:
  - name: aws
    kind: ecr
    regions: [us-east-1]
  - name: hub
    kind: dockerhub
    namespaces: [acme]
    credentials: {username_env: HUB_USER, token_env: HUB_TOKEN}
policy:
  mutable_tags_allowed: [latest]
  exemptions:
    - provider: aws
      repository: "sandbox/*"
      reason: scratch
      expires: 2027-01-31
`

type errCase struct {
	name string
	yaml string
	key  string // key path the error must name ("" for syntax errors)
	line int    // line the error must name (0 = not checked)
	msg  string // substring of the message
	// secret must not appear anywhere in the error text.
	secret string
	// schema: configs/config.schema.json must reject the document too.
	schema bool
}

var errCases = []errCase{
	{name: "yaml syntax", line: 7, msg: "yaml: mapping values are not allowed", yaml: `version: 1
providers:
  - name: aws
    kind: ecr
    regions: [us-east-1]
policy:
  mutable_tags_allowed: a: b
`},
	{name: "yaml tab in indentation", line: 5, msg: "yaml: found a tab character", yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n\tregions: [x]\n"},
	{name: "yaml tab on line 2", line: 2, msg: "yaml: found a tab character", yaml: "version: 1\n\tproviders: []\n"},
	{name: "yaml syntax unclosed list", line: 5, msg: "yaml:", yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1\n"},
	{name: "duplicate yaml key", key: "providers[0].name", line: 4, msg: "duplicate key (first set at line 3)", yaml: "version: 1\nproviders:\n  - name: aws\n    name: aws2\n    kind: ecr\n    regions: [us-east-1]\n"},
	{name: "second document", line: 6, msg: "second document", yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1]\n---\nversion: 1\n"},
	{name: "top level not a mapping", line: 1, msg: "want a mapping", yaml: "- version: 1\n", schema: true},

	{name: "unknown key typo", key: "providers[0].regoins", line: 5, msg: "unknown key (did you mean regions?)", schema: true, yaml: `version: 1
providers:
  - name: aws
    kind: ecr
    regoins: [us-east-1]
`},
	{name: "unknown top-level key typo", key: "polcy", line: 6, msg: "did you mean policy?", schema: true, yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1]\npolcy: {}\n"},
	{name: "unknown key far from any", key: "providers[0].frobnicate", line: 6, msg: "unknown key (known here:", schema: true, yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1]\n    frobnicate: true\n"},
	{name: "key case differs", key: "providers[0].Regions", line: 5, msg: "did you mean regions?", schema: true, yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    Regions: [us-east-1]\n"},
	{name: "username inline", key: "providers[0].credentials.username", line: 7, msg: "did you mean username_env?", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials:\n      username: robot\n"},
	{name: "credentials key one level too high", key: "providers[0].token_env", line: 6, msg: "unknown key here (did you mean credentials.token_env?)", schema: true, yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    token_env: QUAY_TOKEN\n"},
	{name: "policy key at top level", key: "mutable_tags_allowed", line: 6, msg: "did you mean policy.mutable_tags_allowed?", schema: true, yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\nmutable_tags_allowed: [latest]\n"},
	{name: "unknown exemption key", key: "policy.exemptions[0].repo", line: 9, msg: "did you mean repository?", schema: true, yaml: "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  exemptions:\n    - reason: x\n      repo: a\n"},
	{name: "key not used by kind", key: "providers[2].regions", line: 13, msg: "not used by kind dockerhub", schema: true, yaml: `version: 1
providers:
  - name: a
    kind: ecr
    regions: [us-east-1]
  - name: b
    kind: quay
    namespaces: [x]
  - name: hub
    kind: dockerhub
    namespaces: [acme]
    credentials: {username_env: U, token_env: T}
    regions: [us-east-1]
`},
	{name: "kind after key", key: "providers[0].namespaces", line: 4, msg: "not used by kind ecr", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    namespaces: [x]\n    kind: ecr\n    regions: [us-east-1]\n"},
	{name: "credentials on ecr", key: "providers[0].credentials", line: 6, msg: "not used by kind ecr", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n    credentials: {username_env: X}\n"},
	{name: "password_env on dockerhub", key: "providers[0].credentials.password_env", line: 8, msg: "not used by kind dockerhub", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: dockerhub\n    namespaces: [x]\n    credentials:\n      username_env: U\n      password_env: P\n      token_env: T\n"},

	{name: "unknown kind", key: "providers[0].kind", line: 4, msg: "unknown kind \"gcr\" (want one of ecr, artifactregistry, acr, dockerhub, quay, harbor, ", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: gcr\n"},
	{name: "missing kind", key: "providers[0].kind", line: 3, msg: "missing (want one of ecr, artifactregistry, acr, dockerhub, quay, harbor, ", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    regions: [us-east-1]\n"},
	{name: "missing name", key: "providers[1].name", line: 6, msg: "missing", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n  - kind: quay\n    namespaces: [x]\n"},
	{name: "duplicate name", key: "providers[1].name", line: 6, msg: "duplicate name \"a\" (also providers[0])", yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n  - name: a\n    kind: quay\n    namespaces: [x]\n"},
	{name: "invalid name", key: "providers[0].name", line: 3, msg: "invalid name \"AWS prod\"", schema: true, yaml: "version: 1\nproviders:\n  - name: AWS prod\n    kind: ecr\n    regions: [us-east-1]\n"},

	{name: "inline password", key: "providers[0].credentials.password", line: 8, secret: "hunter2-value", schema: true,
		msg:  "inline secrets are refused; put the secret in an environment variable and name it in credentials.password_env",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials:\n      username_env: U\n      password: hunter2-value\n"},
	{name: "inline token at provider level", key: "providers[0].token", line: 5, secret: "dckr_pat_SECRET", schema: true, msg: "inline secrets are refused; put the secret in an environment variable and name it in credentials.token_env",
		yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    token: dckr_pat_SECRET\n"},
	{name: "inline aws secret", key: "providers[0].secret_access_key", line: 6, secret: "wJalrXUtnFEMI", schema: true, msg: "inline secrets are refused; AWS credentials come from the SDK's default chain",
		yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n    secret_access_key: wJalrXUtnFEMI\n"},
	{name: "inline aws key id", key: "providers[0].credentials.access_key_id", line: 7, secret: "AKIAEXAMPLE", schema: true, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n    credentials:\n      access_key_id: AKIAEXAMPLE\n"},
	{name: "inline client_secret acr", key: "providers[0].client_secret", line: 5, secret: "azSECRET", schema: true, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: z\n    kind: acr\n    client_secret: azSECRET\n    registries: [r.azurecr.io]\n"},
	{name: "inline api_key quay", key: "providers[0].credentials.api_key", line: 7, secret: "quaySECRET", schema: true, msg: "credentials.token_env",
		yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x]\n    credentials:\n      api_key: quaySECRET\n"},
	{name: "inline auth harbor", key: "providers[0].auth", line: 5, secret: "dXNlcjpwYXNz", schema: true, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    auth: dXNlcjpwYXNz\n    endpoint: https://h.example\n"},
	{name: "inline secret nested mapping", key: "providers[0].credentials.secret", line: 7, secret: "deepSECRET", schema: true, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    credentials:\n      secret:\n        value: deepSECRET\n"},
	{name: "env value is the secret", key: "providers[0].credentials.token_env", line: 8, secret: "dckr_pat_2b3e-36beb", schema: true, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    namespaces: [acme]\n    credentials:\n      username_env: HUB_USER\n      token_env: dckr_pat_2b3e-36beb\n"},
	{name: "endpoint with user info", key: "providers[0].endpoint", line: 5, secret: "p4ssw0rd", schema: true, msg: "credentials in the URL are refused",
		yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://admin:p4ssw0rd@h.example\n"},

	{name: "version missing", key: "version", msg: "missing; start the file with version: 1", schema: true, yaml: "providers:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n"},
	{name: "version 2", key: "version", line: 1, msg: "unsupported version 2", schema: true, yaml: "version: 2\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n"},
	{name: "version not a number", key: "version", line: 1, msg: "want a whole number", schema: true, yaml: "version: one\nproviders: []\n"},
	{name: "providers empty", key: "providers", line: 2, msg: "empty; configure at least one registry", schema: true, yaml: "version: 1\nproviders: []\n"},
	{name: "providers missing", key: "providers", msg: "empty", schema: true, yaml: "version: 1\n"},
	{name: "providers not a list", key: "providers", line: 2, msg: "want a list of provider entries, got a mapping", schema: true, yaml: "version: 1\nproviders:\n  name: a\n"},
	{name: "list given as string", key: "providers[0].regions", line: 5, msg: "want a list of strings, got a single value", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: us-east-1\n"},

	{name: "ecr regions missing", key: "providers[0].regions", line: 3, msg: "missing; ecr needs at least one region", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n"},
	{name: "ecr regions empty list", key: "providers[0].regions", line: 5, msg: "missing; ecr needs at least one region", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: []\n"},
	{name: "ecr bad region", key: "providers[0].regions[1]", line: 7, msg: "invalid region \"US East\"", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions:\n      - us-east-1\n      - US East\n"},
	{name: "ecr bad role arn", key: "providers[0].role_arns[0]", line: 6, msg: "invalid role ARN", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n    role_arns: [\"arn:aws:iam::1234:role/x\"]\n"},
	{name: "ecr user arn", key: "providers[0].role_arns[0]", line: 6, msg: "invalid role ARN", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\n    role_arns: [\"arn:aws:iam::123456789012:user/x\"]\n"},
	{name: "artifactregistry projects", key: "providers[0].projects", line: 3, msg: "missing; artifactregistry needs at least one GCP project id", schema: true, yaml: "version: 1\nproviders:\n  - name: g\n    kind: artifactregistry\n    locations: [us]\n"},
	{name: "acr nothing to scan", key: "providers[0].registries", line: 3, msg: "registries (login servers such as myreg.azurecr.io) or subscriptions", schema: true, yaml: "version: 1\nproviders:\n  - name: z\n    kind: acr\n"},
	{name: "acr registry as url", key: "providers[0].registries[0]", line: 5, msg: "want a login server", schema: true, yaml: "version: 1\nproviders:\n  - name: z\n    kind: acr\n    registries: [\"https://r.azurecr.io\"]\n"},
	{name: "acr username without password", key: "providers[0].credentials.password_env", line: 6, msg: "set it together with credentials.username_env", schema: true, yaml: "version: 1\nproviders:\n  - name: z\n    kind: acr\n    registries: [r.azurecr.io]\n    credentials: {username_env: U}\n"},
	{name: "dockerhub namespaces", key: "providers[0].namespaces", line: 3, msg: "missing; dockerhub needs at least one namespace", schema: true, yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    credentials: {username_env: U, token_env: T}\n"},
	{name: "dockerhub token_env", key: "providers[0].credentials.token_env", line: 6, msg: "missing; dockerhub needs the name of a variable holding a personal or organisation access token", schema: true, yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    namespaces: [acme]\n    credentials: {username_env: U}\n"},
	{name: "dockerhub username_env", key: "providers[0].credentials.username_env", line: 6, msg: "missing; dockerhub needs the name of a variable holding the user", schema: true, yaml: "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    namespaces: [acme]\n    credentials: {token_env: T}\n"},
	{name: "quay namespaces", key: "providers[0].namespaces", line: 3, msg: "missing; quay needs at least one namespace", schema: true, yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n"},
	{name: "harbor endpoint", key: "providers[0].endpoint", line: 3, msg: "missing; harbor needs its base URL", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n"},
	{name: "endpoint not absolute", key: "providers[0].endpoint", line: 5, msg: "want an absolute http(s) URL", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: harbor.example.com\n"},
	{name: "endpoint wrong scheme", key: "providers[0].endpoint", line: 5, msg: "want an absolute http(s) URL", schema: true, yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    endpoint: ftp://quay.example\n    namespaces: [x]\n"},
	{name: "artifactregistry endpoint with path", key: "providers[0].endpoint", line: 5, msg: "a gRPC endpoint has no path", schema: true, yaml: "version: 1\nproviders:\n  - name: g\n    kind: artifactregistry\n    endpoint: https://ar.example/v1\n    projects: [p]\n"},
	{name: "artifactregistry endpoint user info", key: "providers[0].endpoint", line: 5, secret: "s3cret", msg: "want host:port", schema: true, yaml: "version: 1\nproviders:\n  - name: g\n    kind: artifactregistry\n    endpoint: user:s3cret@ar.example:443\n    projects: [p]\n"},
	{name: "host:port endpoint for a REST kind", key: "providers[0].endpoint", line: 5, msg: "want an absolute http(s) URL", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: 127.0.0.1:8080\n"},
	{name: "empty list entry", key: "providers[0].namespaces[1]", line: 5, msg: "empty entry", schema: true, yaml: "version: 1\nproviders:\n  - name: q\n    kind: quay\n    namespaces: [x, \"\"]\n"},
	{name: "ca_file missing", key: "providers[0].tls.ca_file", line: 7, msg: "no-such-ca.pem: no such file", yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    tls:\n      ca_file: no-such-ca.pem\n"},
	{name: "insecure not bool", key: "providers[0].tls.insecure_skip_verify", line: 6, msg: "want true or false", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    tls: {insecure_skip_verify: maybe}\n"},
	{name: "rate negative rps", key: "providers[0].rate.requests_per_second", line: 7, msg: "must be a number >= 0", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    rate:\n      requests_per_second: -1\n"},
	{name: "rate negative concurrency", key: "providers[0].rate.max_concurrent", line: 6, msg: "must be >= 0", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    rate: {max_concurrent: -2}\n"},
	{name: "rate fractional concurrency", key: "providers[0].rate.max_concurrent", line: 6, msg: "want a whole number", schema: true, yaml: "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    rate: {max_concurrent: 1.5}\n"},

	{name: "exemption repository", key: "policy.exemptions[0].repository", line: 8, msg: "missing; a repository name or glob", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  exemptions:\n    - reason: scratch\n"},
	{name: "exemption reason", key: "policy.exemptions[1].reason", line: 10, msg: "missing; say why", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  exemptions:\n    - {repository: x, reason: y}\n    - repository: sandbox/*\n      reason: \"  \"\n"},
	{name: "exemption bad date", key: "policy.exemptions[0].expires", line: 11, msg: "want a date as YYYY-MM-DD (or RFC 3339), got \"31/01/2027\"", schema: true, yaml: `version: 1
providers:
  - name: a
    kind: ecr
    regions: [us-east-1]
policy:
  exemptions:
    - provider: a
      repository: sandbox/*
      reason: scratch
      expires: 31/01/2027
`},
	{name: "exemption impossible date", key: "policy.exemptions[0].expires", line: 8, msg: "want a date", schema: false, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  exemptions:\n    - {repository: x, reason: y, expires: 2027-02-30}\n"},
	{name: "exemption unknown provider", key: "policy.exemptions[0].provider", line: 8, msg: "no provider named \"aws-prd\" (configured: a)", yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  exemptions:\n    - provider: aws-prd\n      repository: x\n      reason: y\n"},
	{name: "mutable tag pattern empty", key: "policy.mutable_tags_allowed[1]", line: 9, msg: "empty pattern", schema: true, yaml: "version: 1\nproviders:\n  - name: a\n    kind: ecr\n    regions: [us-east-1]\npolicy:\n  mutable_tags_allowed:\n    - latest\n    - \"\"\n"},
}

func TestDecodeErrors(t *testing.T) {
	const file = "immutag.yaml"
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Decode(file, []byte(tc.yaml), nil, kinds)
			if err == nil {
				t.Fatalf("Decode succeeded (%d providers), want an error", len(c.Providers))
			}
			checkErr(t, err, file, tc)
		})
	}
}

func checkErr(t *testing.T, err error, file string, tc errCase) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %q is not a *config.Error", err, err)
	}
	s := err.Error()
	if strings.ContainsAny(s, "\r\n") {
		t.Errorf("error spans lines: %q", s)
	}
	if !strings.HasPrefix(s, file) {
		t.Errorf("error %q does not start with the file name %q", s, file)
	}
	if tc.key != "" && !strings.Contains(s, ": "+tc.key+": ") {
		t.Errorf("error %q does not name key path %q", s, tc.key)
	}
	if tc.key != "" && ce.Key != tc.key {
		t.Errorf("Key = %q, want %q", ce.Key, tc.key)
	}
	if tc.line > 0 && !strings.HasPrefix(s, file+":"+strconv.Itoa(tc.line)+": ") {
		t.Errorf("error %q does not name line %d", s, tc.line)
	}
	if !strings.Contains(s, tc.msg) {
		t.Errorf("error %q lacks %q", s, tc.msg)
	}
	if tc.secret != "" && strings.Contains(s, tc.secret) {
		t.Errorf("error %q echoes the secret", s)
	}
}

func TestDecodeValid(t *testing.T) {
	raw := []byte(valid)
	c, err := config.Decode("dir/immutag.yaml", raw, nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if c.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %q", c.SHA256)
	}
	if c.File != "dir/immutag.yaml" {
		t.Errorf("File = %q", c.File)
	}
	if len(c.Providers) != 2 || c.Providers[0].Line != 3 || c.Providers[1].Line != 6 {
		t.Fatalf("providers/lines = %+v", c.Providers)
	}
	hub := c.Providers[1]
	if hub.Credentials.TokenEnv != "HUB_TOKEN" || hub.Credentials.UsernameEnv != "HUB_USER" || hub.Settings.(*dockerhub.Settings).Namespaces[0] != "acme" {
		t.Errorf("hub = %+v", hub)
	}
	ex := c.Policy.Exemptions[0]
	if ex.Expires.Format("2006-01-02") != "2027-01-31" || ex.Repository != "sandbox/*" || ex.Provider != "aws" {
		t.Errorf("exemption = %+v", ex)
	}
	if got := c.Policy.MutableTagsAllowed; len(got) != 1 || got[0] != "latest" {
		t.Errorf("mutable_tags_allowed = %v", got)
	}
}

// TestDecodeSettings covers the viper pass: values (with environment
// overrides already applied, as strings) come from settings, lines and the
// strict key check from raw.
func TestDecodeSettings(t *testing.T) {
	settings := map[string]any{
		"version": "1", // IMMUTAG_VERSION arrives as a string
		"providers": []any{
			map[string]any{"name": "aws", "kind": "ecr", "regions": []any{"us-east-1"}},
			map[string]any{"name": "hub", "kind": "dockerhub", "namespaces": []any{"acme"},
				"credentials": map[string]any{"username_env": "HUB_USER", "token_env": "HUB_TOKEN"}},
		},
		"policy": map[string]any{
			"mutable_tags_allowed": "latest, dev-*", // IMMUTAG_POLICY_MUTABLE_TAGS_ALLOWED
			"exemptions":           []any{map[string]any{"provider": "aws", "repository": "sandbox/*", "reason": "scratch", "expires": "2027-01-31"}},
		},
	}
	c, err := config.Decode("immutag.yaml", []byte(valid), settings, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Policy.MutableTagsAllowed, "|"); got != "latest|dev-*" {
		t.Errorf("mutable_tags_allowed = %q", got)
	}
	if c.Providers[1].Line != 6 {
		t.Errorf("line = %d", c.Providers[1].Line)
	}

	// An override that breaks validation is located at the key in the file.
	settings["version"] = "2"
	_, err = config.Decode("immutag.yaml", []byte(valid), settings, kinds)
	checkErr(t, err, "immutag.yaml", errCase{key: "version", line: 1, msg: "unsupported version 2"})

	// Unknown keys in settings are refused even when raw is absent.
	_, err = config.Decode("immutag.yaml", nil, map[string]any{"version": 1, "extra": true}, kinds)
	checkErr(t, err, "immutag.yaml", errCase{key: "extra", msg: "unknown key"})
}

func TestDecodeCAFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := "version: 1\nproviders:\n  - name: h\n    kind: harbor\n    endpoint: https://h.example\n    tls: {ca_file: ca.pem}\n"
	c, err := config.Decode(filepath.Join(dir, "immutag.yaml"), []byte(raw), nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Providers[0].TLS.CAFile; got != filepath.Join(dir, "ca.pem") {
		t.Errorf("ca_file = %q", got)
	}
	// A directory is not a CA bundle.
	raw = strings.Replace(raw, "ca.pem", ".", 1)
	_, err = config.Decode(filepath.Join(dir, "immutag.yaml"), []byte(raw), nil, kinds)
	checkErr(t, err, filepath.Join(dir, "immutag.yaml"), errCase{key: "providers[0].tls.ca_file", line: 6, msg: "is a directory"})
}

func TestDecodeAnchorsAndMerge(t *testing.T) {
	raw := `version: 1
x-hub: &hub
  kind: dockerhub
  credentials: {username_env: U, token_env: T}
providers:
  - <<: *hub
    name: a
    namespaces: [one]
  - <<: *hub
    name: b
    namespaces: [two]
`
	// x-hub is not a contract key: anchors must live inside known keys.
	_, err := config.Decode("f.yaml", []byte(raw), nil, kinds)
	checkErr(t, err, "f.yaml", errCase{key: "x-hub", line: 2, msg: "unknown key"})

	raw = `version: 1
providers:
  - &first
    name: a
    kind: dockerhub
    namespaces: [one]
    credentials: &creds {username_env: U, token_env: T}
  - <<: *first
    name: b
    credentials: *creds
`
	c, err := config.Decode("f.yaml", []byte(raw), nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 2 || c.Providers[1].Name != "b" || c.Providers[1].Kind != "dockerhub" || c.Providers[1].Settings.(*dockerhub.Settings).Namespaces[0] != "one" || c.Providers[1].Credentials.TokenEnv != "T" {
		t.Errorf("providers = %+v", c.Providers)
	}
}

func TestValidateCodeBuilt(t *testing.T) {
	c := &config.Config{Version: 1, File: "x.yaml", Providers: []config.Provider{
		{Name: "a", Kind: "ecr", Settings: &ecr.Settings{Regions: []string{"us-east-1"}}, Line: 3},
		{Name: "b", Kind: "quay", Settings: config.Keys{"namespaces": []string{"x"}, "regions": []string{"us-east-1"}}, Line: 9},
	}}
	err := c.Validate(kinds)
	checkErr(t, err, "x.yaml", errCase{key: "providers[1].regions", line: 9, msg: "not used by kind quay"})

	// Settings of another kind are refused too.
	c.Providers[1].Settings = &ecr.Settings{Regions: []string{"us-east-1"}}
	err = c.Validate(kinds)
	checkErr(t, err, "x.yaml", errCase{key: "providers[1].kind", line: 9, msg: "do not belong to kind quay"})

	c.Providers[1].Settings = &quay.Settings{Namespaces: []string{"x"}}
	c.Providers[1].Credentials.PasswordEnv = "P"
	err = c.Validate(kinds)
	checkErr(t, err, "x.yaml", errCase{key: "providers[1].credentials.password_env", line: 9, msg: "not used by kind quay"})

	c.Providers[1].Credentials.PasswordEnv = ""
	if err := c.Validate(kinds); err != nil {
		t.Errorf("valid config: %v", err)
	}
	// Without a file or line the text is just key and message.
	c = &config.Config{Version: 3}
	if got := c.Validate(kinds).Error(); got != "version: unsupported version 3 (this build reads version 1)" {
		t.Errorf("got %q", got)
	}
}

// TestEndpointForms: REST kinds take http(s) URLs; Artifact Registry (gRPC)
// also takes host:port, the form its emulator and Google's docs use.
func TestEndpointForms(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range []struct {
		kind, endpoint string
		ok             bool
	}{
		{"harbor", "https://harbor.example.com", true},
		{"harbor", "http://127.0.0.1:8080/", true},
		{"harbor", "https://harbor.example.com/sub/path", true},
		{"harbor", "127.0.0.1:8080", false},
		{"artifactregistry", "127.0.0.1:50051", true},
		{"artifactregistry", "artifactregistry.googleapis.com:443", true},
		{"artifactregistry", "artifactregistry.googleapis.com", true},
		{"artifactregistry", "[::1]:50051", true},
		{"artifactregistry", "http://127.0.0.1:50051", true},
		{"artifactregistry", "https://europe-west1-artifactregistry.p.googleapis.com/", true},
		{"artifactregistry", "ftp://x:1", false},
		{"artifactregistry", "x:1/path", false},
	} {
		extra := "    projects: [p]\n"
		raw := "version: 1\nproviders:\n  - name: x\n    kind: " + tc.kind + "\n    endpoint: \"" + tc.endpoint + "\"\n" + extra
		_, err := config.Decode("f.yaml", []byte(raw), nil, kinds)
		if (err == nil) != tc.ok {
			t.Errorf("%s endpoint %q: err = %v, want ok=%v", tc.kind, tc.endpoint, err, tc.ok)
		}
		if serr := sch.Validate(yamlToJSON(t, []byte(raw))); (serr == nil) != tc.ok {
			t.Errorf("schema: %s endpoint %q: err = %v, want ok=%v", tc.kind, tc.endpoint, serr, tc.ok)
		}
	}
}

// TestDocKeysAndOverrides: Keys are the file's values outside lists, and
// Decode lays overrides over the one parse: a key the file sets, a key it
// does not, and a list given as text.
func TestDocKeysAndOverrides(t *testing.T) {
	raw := "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    regions: [us-east-1]\nledger:\n  dsn_env: LEDGER_DSN\n"
	doc, err := config.Parse("immutag.yaml", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(doc.Keys(), " "); got != "version providers ledger.dsn_env" {
		t.Errorf("keys = %q", got)
	}
	c, err := doc.Decode(map[string]string{"ledger.dsn_env": "OTHER_DSN", "policy.mutable_tags_allowed": "latest dev-*"}, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ledger.DSNEnv != "OTHER_DSN" || strings.Join(c.Policy.MutableTagsAllowed, "|") != "latest|dev-*" || c.Providers[0].Line != 3 {
		t.Errorf("decoded %+v %+v line %d", c.Ledger, c.Policy, c.Providers[0].Line)
	}
	// The parse is not changed by an override.
	plain, err := doc.Decode(nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Ledger.DSNEnv != "LEDGER_DSN" || plain.Policy.MutableTagsAllowed != nil {
		t.Errorf("overrides leaked into the parse: %+v %+v", plain.Ledger, plain.Policy)
	}
	// An override that is the wrong shape is located at the key.
	_, err = doc.Decode(map[string]string{"providers": "x"}, kinds)
	checkErr(t, err, "immutag.yaml", errCase{key: "providers", line: 2, msg: "want a list"})
}

// An exemption never outlives what its expires says: an RFC 3339 instant
// ends it at that instant whatever its zone (its last day is the UTC day
// that finishes by then), and an empty expires is refused rather than read
// as never expiring.
func TestExemptionExpiryForms(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		expires string
		lastDay string
		// an instant just before, and at, the moment the config says it ends
		before, end time.Time
	}{
		{"2027-01-31", "2027-01-31", at("2027-01-31T23:59:59Z"), at("2027-02-01T00:00:00Z")},
		{"2027-01-31T23:00:00-05:00", "2027-01-31", at("2027-02-01T03:59:59Z"), at("2027-02-01T04:00:00Z")},
		{"2027-01-31T00:00:00+05:00", "2027-01-29", at("2027-01-30T18:59:59Z"), at("2027-01-30T19:00:00Z")},
		{"2027-02-01T00:00:00Z", "2027-01-31", at("2027-01-31T23:59:59Z"), at("2027-02-01T00:00:00Z")},
	} {
		raw := "version: 1\nproviders:\n  - {name: aws, kind: ecr, regions: [us-east-1]}\npolicy:\n  exemptions:\n    - {repository: x, reason: r, expires: \"" + tc.expires + "\"}\n"
		c, err := config.Decode("c.yaml", []byte(raw), nil, kinds)
		if err != nil {
			t.Fatalf("%s: %v", tc.expires, err)
		}
		ex := c.Policy.Exemptions[0]
		if got := ex.Expires.Format(time.DateOnly); got != tc.lastDay {
			t.Errorf("%s: last day %s, want %s", tc.expires, got, tc.lastDay)
		}
		// The last day is whole: the exemption may end before the instant
		// (day granularity), never after it.
		if ex.Active(tc.end) {
			t.Errorf("%s: still active at %s, when the config says it has ended", tc.expires, tc.end)
		}
		if tc.expires == tc.lastDay && !ex.Active(tc.before) {
			t.Errorf("%s: inactive on its last day (%s)", tc.expires, tc.before)
		}
	}
	for _, empty := range []string{"expires:", "expires: ~", "expires: null"} {
		raw := "version: 1\nproviders:\n  - {name: aws, kind: ecr, regions: [us-east-1]}\npolicy:\n  exemptions:\n    - repository: x\n      reason: r\n      " + empty + "\n"
		_, err := config.Decode("c.yaml", []byte(raw), nil, kinds)
		if err == nil || !strings.Contains(err.Error(), "c.yaml:8: policy.exemptions[0].expires") || !strings.Contains(err.Error(), "no value") {
			t.Errorf("%q: error %v, want one naming c.yaml:8 policy.exemptions[0].expires", empty, err)
		}
	}
}
