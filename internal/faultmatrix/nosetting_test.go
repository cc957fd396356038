package faultmatrix

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
)

// The two kinds below have no tag-immutability setting: every repository
// is unsupported, so an intact repository grades drift, not compliant.

// ---- GitHub Container Registry ----

var ghcrPath = regexp.MustCompile(`^/(orgs|users)/([^/]+)(/packages(?:/container/([^/]+)/versions)?)?$`)

func startGHCR(t *testing.T) *fixture {
	t.Helper()
	const token = "ghp_faultmatrixsecret0123456789abcd"
	s := ghcremu.New(ghcremu.Options{Token: token})
	s.AddOwner("good", true)
	s.AddOwner("bad", true)
	names := []string{longName("deep/")}
	for _, n := range append([]string{repoOK, repoDrift}, names...) {
		if _, err := s.Push("good", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range badRepos {
		if _, err := s.Push("bad", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	web, err := emulator.ServeLoopback(s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close() })
	px := newProxy(t, web.URL(), nil, func(r *http.Request) wire {
		m := ghcrPath.FindStringSubmatch(r.URL.EscapedPath())
		if m == nil {
			return wire{Op: opOther}
		}
		owner, _ := url.PathUnescape(m[2])
		switch {
		case m[3] == "":
			return wire{Scope: owner, Op: opMeta}
		case m[4] == "":
			return wire{Scope: owner, Op: opList}
		}
		pkg, _ := url.PathUnescape(m[4])
		return wire{Scope: owner, Op: opRepo, Repo: pkg}
	})
	return &fixture{
		kind: "ghcr",
		providers: []config.Provider{{Name: "ghcr", Kind: "ghcr", Endpoint: px.URL(),
			Settings:    config.Keys{"namespaces": []string{"good", "bad"}},
			Credentials: config.Credentials{TokenEnv: "FM_GHCR_TOKEN"},
			Rate:        config.Rate{RequestsPerSecond: 1000}}},
		env:      map[string]string{"FM_GHCR_TOKEN": token},
		goodProv: "ghcr", badProv: "ghcr", good: "good", bad: "bad",
		intact: audit.StatusDrift,
		px:     px,
		apiErr: func(c errClass, msg string) (action, string) {
			body := errJSON(map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
			json := hdr("Content-Type", "application/json; charset=utf-8")
			switch c {
			case throttled:
				return respond(429, hdr("Content-Type", "application/json", "Retry-After", "0"), body), msg
			case unavailable:
				return respond(503, json, body), msg
			case unavailableRA:
				return respond(503, hdr("Content-Type", "application/json", "Retry-After", "0"), body), msg
			case expired:
				return respond(401, json, body), msg
			}
			return respond(403, json, body), msg
		},
		cursor:    func(r *http.Request) string { return "http://" + r.Host + r.URL.RequestURI() },
		setNext:   linkNext,
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny("bad", true) },
		names:     names,
		attempts:  6,
	}
}

// ---- any OCI distribution registry ----

// startOCI puts one registry behind the proxy and reaches it under two
// host names: 127.0.0.1:PORT is the good provider's scope, localhost:PORT
// the bad one's, so faults can aim at one provider's calls.
func startOCI(t *testing.T) *fixture {
	t.Helper()
	const user, pass = "fm-oci", "oci-faultmatrix-secret"
	s := ociemu.New(ociemu.Options{Username: user, Password: pass})
	web, err := emulator.ServeLoopback(s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close() })
	push := ociemu.Pusher{Base: web.URL(), Auth: &authn.Basic{Username: user, Password: pass}}
	for _, n := range append([]string{repoOK, repoDrift}, badRepos...) {
		if _, err := push.Image(t.Context(), n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	px := newProxy(t, web.URL(), nil, func(r *http.Request) wire {
		host := r.Host
		switch p := r.URL.Path; {
		case p == "/token":
			return wire{Op: opToken}
		case p == "/v2/_catalog":
			return wire{Scope: host, Op: opList}
		case p == "/v2/" || p == "/v2":
			return wire{Scope: host, Op: opMeta}
		case strings.HasPrefix(p, "/v2/"):
			return wire{Scope: host, Op: opRepo}
		}
		return wire{Op: opOther}
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(px.URL(), "http://"))
	good, bad := "127.0.0.1:"+port, "localhost:"+port
	return &fixture{
		kind: "oci",
		providers: []config.Provider{
			{Name: "oci-good", Kind: "oci", Endpoint: "http://" + good,
				Credentials: config.Credentials{UsernameEnv: "FM_OCI_USER", PasswordEnv: "FM_OCI_PASS"}},
			{Name: "oci-bad", Kind: "oci", Endpoint: "http://" + bad,
				Credentials: config.Credentials{UsernameEnv: "FM_OCI_USER", PasswordEnv: "FM_OCI_PASS"}},
		},
		env:      map[string]string{"FM_OCI_USER": user, "FM_OCI_PASS": pass},
		goodProv: "oci-good", badProv: "oci-bad", good: good, bad: bad,
		intact: audit.StatusDrift,
		px:     px,
		apiErr: func(c errClass, msg string) (action, string) {
			json := hdr("Content-Type", "application/json")
			switch c {
			case throttled:
				return respond(429, hdr("Content-Type", "application/json", "Retry-After", "0"), errorsBody("TOOMANYREQUESTS", msg)), msg
			case unavailable:
				return respond(503, json, errorsBody("UNAVAILABLE", msg)), msg
			case unavailableRA:
				return respond(503, hdr("Content-Type", "application/json", "Retry-After", "0"), errorsBody("UNAVAILABLE", msg)), msg
			case expired:
				return respond(401, json, errorsBody("UNAUTHORIZED", msg)), msg
			}
			return respond(403, json, errorsBody("DENIED", msg)), msg
		},
		cursor:   func(r *http.Request) string { return "http://" + r.Host + r.URL.RequestURI() },
		setNext:  linkNext,
		pageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() {
			px.add(&rule{match: on(bad, opList), do: respond(403, hdr("Content-Type", "application/json"), errorsBody("DENIED", "requested access to the resource is denied"))})
		},
		attempts: 3,
		retry:    fastRetry,
	}
}
