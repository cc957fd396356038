package faultmatrix

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	"github.com/immutag/immutag/internal/providers"
)

var glRepos = regexp.MustCompile(`^/api/v4/projects/([^/]+)/registry/repositories$`)

// startGitLab seeds three projects in one group. Tag rules belong to a
// project and cover all its container repositories, so no project can hold
// both a compliant and a drifting repository: "grp/good" (an immutable
// rule for every tag) holds app-ok, "grp/drift" (no rule) holds app-drift,
// and the faults aim at "grp/bad" (immutable rule). The scopes come from
// the group's project listing.
func startGitLab(t *testing.T) *fixture {
	t.Helper()
	const token = "glpat-faultmatrix-secret"
	s := glemu.New(glemu.Options{Token: token})
	s.AddGroup("grp")
	for _, p := range []string{"grp/good", "grp/drift", "grp/bad"} {
		if err := s.AddProject(p, glemu.Project{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"grp/good", "grp/bad"} {
		if _, err := s.AddRule(p, glemu.Rule{Pattern: ".*"}); err != nil {
			t.Fatal(err)
		}
	}
	seed := func(project string, names ...string) {
		for _, n := range names {
			if err := s.AddRepo(project, n, "v1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed("grp/good", repoOK)
	seed("grp/drift", repoDrift)
	seed("grp/bad", badRepos...)
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		p := r.URL.EscapedPath()
		if m := glRepos.FindStringSubmatch(p); m != nil {
			proj, _ := url.PathUnescape(m[1])
			return wire{Scope: proj, Op: opList}
		}
		if p == "/api/graphql" {
			var in struct {
				Query     string         `json:"query"`
				Variables map[string]any `json:"variables"`
			}
			_ = json.Unmarshal(peekBody(r), &in)
			if strings.Contains(in.Query, "createContainerProtectionTagRule(") {
				inp, _ := in.Variables["input"].(map[string]any)
				sc, _ := inp["projectPath"].(string)
				return wire{Scope: sc, Op: opWrite}
			}
			sc, _ := in.Variables["fullPath"].(string)
			return wire{Scope: sc, Op: opMeta}
		}
		return wire{Op: opOther}
	})
	// The report names a GitLab repository by its full path.
	full := func(scope, name string) string { return scope + "/" + name }
	return &fixture{
		kind: providers.KindGitLab,
		providers: []config.Provider{{Name: "gitlab", Kind: providers.KindGitLab, Endpoint: px.URL(),
			Settings:    config.Keys{"groups": []string{"grp"}},
			Credentials: config.Credentials{TokenEnv: "FM_GITLAB_TOKEN"},
			Rate:        config.Rate{RequestsPerSecond: 1000}}},
		env:      map[string]string{"FM_GITLAB_TOKEN": token},
		goodProv: "gitlab", badProv: "gitlab", good: "grp/good", bad: "grp/bad", driftScope: "grp/drift",
		repoName: full,
		// client-go sends a personal access token as PRIVATE-TOKEN.
		credHeader: "PRIVATE-TOKEN",
		px:         px,
		apiErr: func(c errClass, msg string) (action, string) {
			h := hdr("Content-Type", "application/json")
			if c == throttled || c == unavailableRA {
				h.Set("Retry-After", "0")
			}
			return respond(faultStatus[c], h, errJSON(map[string]any{"message": msg})), msg
		},
		cursor: func(r *http.Request) string { return r.URL.Query().Get("page") },
		setNext: func(h http.Header, body []byte, next string) []byte {
			// client-go pages by X-Next-Page, not by the Link.
			h.Del("Link")
			h.Set("X-Next-Page", next)
			return body
		},
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.SetRole("grp/bad", 20) },
		attempts:  6,
		retry:     fastRetry,
	}
}
