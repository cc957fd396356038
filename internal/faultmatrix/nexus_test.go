package faultmatrix

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
	"github.com/immutag/immutag/internal/providers"
)

var (
	nxCatalog  = regexp.MustCompile(`^/repository/([^/]+)/v2/_catalog$`)
	nxSettings = regexp.MustCompile(`^/service/rest/v1/repositories/docker/hosted/([^/]+)$`)
)

// startNexus seeds three Docker hosted repositories in one instance. A
// deployment policy covers every image of its repository, so no scope can
// hold both a compliant and a drifting image: "good" (ALLOW_ONCE, latest
// not redeployable) holds app-ok, "drift" (ALLOW) holds app-drift, and the
// faults aim at "bad" (DENY, read-only).
func startNexus(t *testing.T) *fixture {
	t.Helper()
	const user, pass = "fm-nexus", "nexus-faultmatrix-secret"
	s := nxemu.New(nxemu.Options{Username: user, Password: pass})
	s.AddDockerHosted("good", "ALLOW_ONCE", false)
	s.AddDockerHosted("drift", "ALLOW", false)
	s.AddDockerHosted("bad", "DENY", false)
	// Docker image names are lower-case path components: no unicode.
	names := []string{longName("deep/")}
	seed := func(repo string, images ...string) {
		for _, n := range images {
			if err := s.AddImage(repo, n, "v1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed("good", append([]string{repoOK}, names...)...)
	seed("drift", repoDrift)
	seed("bad", badRepos...)
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		p := r.URL.EscapedPath()
		if m := nxCatalog.FindStringSubmatch(p); m != nil {
			repo, _ := url.PathUnescape(m[1])
			return wire{Scope: repo, Op: opList}
		}
		if m := nxSettings.FindStringSubmatch(p); m != nil {
			repo, _ := url.PathUnescape(m[1])
			if r.Method != http.MethodGet {
				return wire{Scope: repo, Op: opWrite}
			}
			return wire{Scope: repo, Op: opMeta}
		}
		if p == "/service/rest/v1/search" {
			return wire{Scope: r.URL.Query().Get("repository"), Op: opOther}
		}
		return wire{Op: opOther}
	})
	return &fixture{
		kind: providers.KindNexus,
		providers: []config.Provider{{Name: "nexus", Kind: providers.KindNexus, Endpoint: px.URL(),
			Credentials: config.Credentials{UsernameEnv: "FM_NEXUS_USER", PasswordEnv: "FM_NEXUS_PASSWORD"}}},
		env:      map[string]string{"FM_NEXUS_USER": user, "FM_NEXUS_PASSWORD": pass},
		goodProv: "nexus", badProv: "nexus", good: "good", bad: "bad", driftScope: "drift",
		px: px,
		// The faults hit the catalog, a Docker v2 endpoint: its errors are
		// the distribution API's {"errors": [...]}.
		apiErr:    errorsAnswer(distributionCodes),
		cursor:    requestURI,
		setNext:   linkNext,
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny("bad", true) },
		names:     names,
		attempts:  6,
	}
}
