package config_test

import (
	"testing"

	"github.com/immutag/immutag/internal/config"
)

// Config errors of the gitlab, nexus and artifactory kinds: each names the
// file, line and key, and the schema refuses what the loader refuses where
// a schema can say it.
var registryErrCases = []errCase{
	{name: "gitlab without groups or projects", key: "providers[0].groups", line: 3, msg: "missing; gitlab needs groups", schema: true,
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    credentials: {token_env: GITLAB_TOKEN}\n"},
	{name: "gitlab group as a URL", key: "providers[0].groups[0]", line: 5, msg: "not a URL",
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    groups: [\"https://gitlab.com/acme\"]\n    credentials: {token_env: GITLAB_TOKEN}\n"},
	{name: "gitlab project without its group", key: "providers[0].projects[0]", line: 5, msg: "with its group",
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    projects: [api]\n    credentials: {token_env: GITLAB_TOKEN}\n"},
	{name: "gitlab without token", key: "providers[0].credentials.token_env", line: 3, msg: "missing; gitlab needs", schema: true,
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    groups: [acme]\n"},
	{name: "gitlab password", key: "providers[0].credentials.password_env", line: 7, msg: "not used by kind gitlab", schema: true,
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    groups: [acme]\n    credentials:\n      password_env: P\n      token_env: T\n"},
	{name: "gitlab repositories", key: "providers[0].repositories", line: 6, msg: "not used by kind gitlab", schema: true,
		yaml: "version: 1\nproviders:\n  - name: g\n    kind: gitlab\n    groups: [acme]\n    repositories: [x]\n    credentials: {token_env: T}\n"},
	{name: "nexus without endpoint", key: "providers[0].endpoint", line: 3, msg: "missing; nexus needs its base URL", schema: true,
		yaml: "version: 1\nproviders:\n  - name: n\n    kind: nexus\n    credentials: {username_env: U, password_env: P}\n"},
	{name: "nexus without password", key: "providers[0].credentials.password_env", line: 6, msg: "together with credentials.username_env", schema: true,
		yaml: "version: 1\nproviders:\n  - name: n\n    kind: nexus\n    endpoint: https://nexus.example\n    credentials: {username_env: U}\n"},
	{name: "nexus bad repository name", key: "providers[0].repositories[1]", line: 6, msg: "invalid repository name",
		yaml: "version: 1\nproviders:\n  - name: n\n    kind: nexus\n    endpoint: https://nexus.example\n    repositories: [docker-hosted, \"docker hosted\"]\n    credentials: {username_env: U, password_env: P}\n"},
	{name: "nexus groups", key: "providers[0].groups", line: 6, msg: "not used by kind nexus", schema: true,
		yaml: "version: 1\nproviders:\n  - name: n\n    kind: nexus\n    endpoint: https://nexus.example\n    groups: [x]\n    credentials: {username_env: U, password_env: P}\n"},
	{name: "artifactory token and password", key: "providers[0].credentials.token_env", line: 6, msg: "not both", schema: true,
		yaml: "version: 1\nproviders:\n  - name: a\n    kind: artifactory\n    endpoint: https://acme.jfrog.io\n    credentials: {token_env: T, username_env: U, password_env: P}\n"},
	{name: "artifactory no credentials", key: "providers[0].credentials.token_env", line: 3, msg: "missing; artifactory needs", schema: true,
		yaml: "version: 1\nproviders:\n  - name: a\n    kind: artifactory\n    endpoint: https://acme.jfrog.io\n"},
	{name: "artifactory inline token", key: "providers[0].credentials.token_env", line: 7, msg: "inline secrets are refused",
		yaml: "version: 1\nproviders:\n  - name: a\n    kind: artifactory\n    endpoint: https://acme.jfrog.io\n    credentials:\n      token_env: \"cmVmdGtuOjAxOjE3OTk5OTk5OTk6c2VjcmV0c2VjcmV0c2VjcmV0\"\n"},
}

func TestRegistryDecodeErrors(t *testing.T) {
	const file = "immutag.yaml"
	for _, tc := range registryErrCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Decode(file, []byte(tc.yaml), nil, kinds)
			if err == nil {
				t.Fatalf("Decode succeeded (%d providers), want an error", len(c.Providers))
			}
			checkErr(t, err, file, tc)
		})
	}
}

func TestRegistrySchemaAgreesWithDecode(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range registryErrCases {
		if !tc.schema {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			if err := sch.Validate(yamlToJSON(t, []byte(tc.yaml))); err == nil {
				t.Errorf("schema accepts a config the loader refuses (%s)", tc.msg)
			}
		})
	}
}

func TestRegistryConfigsDecode(t *testing.T) {
	const ok = `version: 1
providers:
  - name: g
    kind: gitlab
    groups: [acme, acme/platform]
    projects: [partners/images]
    credentials: {token_env: GITLAB_TOKEN}
  - name: n
    kind: nexus
    endpoint: https://nexus.example
    credentials: {username_env: NEXUS_USER, password_env: NEXUS_PASSWORD}
  - name: a
    kind: artifactory
    endpoint: https://acme.jfrog.io
    repositories: [docker-local]
    credentials: {username_env: AF_USER, password_env: AF_PASSWORD}
`
	c, err := config.Decode("immutag.yaml", []byte(ok), nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 3 || c.Providers[0].Line != 3 || c.Providers[2].Line != 12 {
		t.Errorf("providers %+v", c.Providers)
	}
	if err := compileSchema(t).Validate(yamlToJSON(t, []byte(ok))); err != nil {
		t.Errorf("schema refuses a valid config: %v", err)
	}
}
