package faultmatrix

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	"github.com/immutag/immutag/internal/providers"
)

var afDocker = regexp.MustCompile(`^/artifactory/api/docker/([^/]+)/v2/(_catalog|.*)$`)

// startArtifactory seeds two Docker local repositories: in "good", user
// dev holds Delete/Overwrite only on app-drift/** (app-drift partial, so
// drift; app-ok immutable); in "bad", nobody but administrators does.
func startArtifactory(t *testing.T) *fixture {
	t.Helper()
	const token = "artifactory-faultmatrix-token"
	s := afemu.New(afemu.Options{Token: token, TokenUser: "fm-admin"})
	s.AddUser(afemu.User{Name: "dev"})
	s.AddRepo("good", "local", "docker")
	s.AddRepo("bad", "local", "docker")
	for _, n := range []string{repoOK, repoDrift} {
		if err := s.AddImage("good", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range badRepos {
		if err := s.AddImage("bad", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	s.SetTarget(afemu.Target{Name: "drift", Repos: []string{"good"}, Include: []string{repoDrift + "/**"},
		Users: map[string][]string{"dev": {"read", "write", "delete"}}})
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		m := afDocker.FindStringSubmatch(r.URL.EscapedPath())
		if m == nil {
			if r.URL.Path == "/artifactory/api/repositories" {
				return wire{Op: opOther}
			}
			return wire{Op: opMeta}
		}
		repo, _ := url.PathUnescape(m[1])
		if m[2] == "_catalog" {
			return wire{Scope: repo, Op: opList}
		}
		return wire{Scope: repo, Op: opRepo}
	})
	return &fixture{
		kind: providers.KindArtifactory,
		providers: []config.Provider{{Name: "artifactory", Kind: providers.KindArtifactory, Endpoint: px.URL(),
			Credentials: config.Credentials{TokenEnv: "FM_ARTIFACTORY_TOKEN"}}},
		env:      map[string]string{"FM_ARTIFACTORY_TOKEN": token},
		goodProv: "artifactory", badProv: "artifactory", good: "good", bad: "bad",
		px:        px,
		apiErr:    errorsAnswer(distributionCodes),
		cursor:    requestURI,
		setNext:   linkNext,
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny("bad", true) },
		attempts:  6,
	}
}
