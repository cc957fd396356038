package faultmatrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
)

// Every fixture seeds the same layout: a healthy scope with one compliant
// and one drifting repository, and a scope the faults aim at whose three
// repositories are all immutable, so that anything misread as compliant
// there would look plausible and only the assertions catch it.
const (
	repoOK    = "app-ok"
	repoDrift = "app-drift"
	target    = "svc-b" // the repository per-repository faults hit
)

var badRepos = []string{"svc-a", "svc-b", "svc-c"}

// errClass is a kind of API failure, answered in each registry's own format.
type errClass int

const (
	throttled     errClass = iota // 429 (or the registry's throttling error) with a zero wait advertised
	unavailable                   // 503/500 without a wait advertised: the client's own backoff applies
	unavailableRA                 // 503 with a zero wait advertised
	expired                       // 401: the token expired or was revoked
	denied                        // 403
)

// fixture is one kind's emulator(s) behind a fault-injecting front, with
// the wire-format knowledge the faults need.
type fixture struct {
	kind      providers.Kind
	providers []config.Provider
	env       map[string]string
	goodProv  string // provider and scope names in the report
	badProv   string
	good, bad string
	// driftScope holds app-drift when a kind's setting covers a whole
	// scope, so that one scope cannot hold a compliant and a drifting
	// repository (GitLab projects, Nexus repositories); empty: good.
	driftScope string
	// repoName is how the report names repository name of scope (GitLab:
	// the full path); nil: name.
	repoName func(scope, name string) string
	// credHeader is the request header that carries the credential
	// (GitLab: PRIVATE-TOKEN); "": Authorization.
	credHeader string

	px *proxy     // HTTP kinds
	gp *grpcProxy // Artifact Registry
	ar *aremu.Server

	// apiErr answers like the registry does for c, carrying msg; it returns
	// the text the report must then show.
	apiErr func(c errClass, msg string) (action, string)
	// cursor is the page cursor a listing request carries.
	cursor func(r *http.Request) string
	// setNext rewrites a listing page's next cursor or link.
	setNext func(h http.Header, body []byte, next string) []byte
	// pageSize caps listing pages at the emulator.
	pageSize func(n int)
	// denyScope and denyRepo deny the bad scope / the target repository
	// with the emulator's own API (denyRepo nil: the registry has no
	// per-repository read).
	denyScope func()
	denyRepo  func()
	// names are long and unicode repository names the emulator accepts,
	// seeded into the good scope as immutable; nil when it accepts none.
	names []string
	// The emulators behind the front, for kinds whose tests seed more.
	ecrSrv *ecremu.Server
	hubSrv *hubemu.Server

	// revoke invalidates every token the emulator issued (Docker Hub).
	revoke func()
	// attempts is how many times the adapter sends a failing idempotent
	// call in total (first try included).
	attempts int
	// retry shortens the backoff of the SDK-based adapters (ECR, ACR,
	// Artifact Registry), whose clients HTTPClient does not reach; zero for
	// the REST ones.
	retry providers.RetryTuning
	// intact is how an unharmed repository of the fixture grades: compliant
	// (the zero value) where the seeded setting makes it immutable, drift
	// for kinds that have no setting at all (oci, ghcr).
	intact audit.Status
}

// rname is the report's name of repository name in scope.
func (fx *fixture) rname(scope, name string) string {
	if fx.repoName == nil {
		return name
	}
	return fx.repoName(scope, name)
}

// intactStatus is fx.intact, compliant by default.
func (fx *fixture) intactStatus() audit.Status {
	if fx.intact == "" {
		return audit.StatusCompliant
	}
	return fx.intact
}

// fastRetry keeps a storm of attempts in test time; the attempt counts do
// not change with it. Injected waits (Retry-After) stay below it.
var fastRetry = providers.RetryTuning{MaxBackoff: 10 * time.Millisecond}

// errJSON encodes v.
func errJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// longName is a 200-character path-like repository name.
func longName(prefix string) string {
	return prefix + strings.Repeat("x", 200-len(prefix))
}

// setJSONField sets one top-level field of a JSON object body.
func setJSONField(body []byte, key string, val any) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	m[key] = errJSON(val)
	return errJSON(m)
}

func setLink(h http.Header, next string) {
	h.Del("Link")
	if next != "" {
		h.Set("Link", "<"+next+`>; rel="next"`)
	}
}

// linkNext pages by the Link header, as the distribution API and most REST
// registries do.
func linkNext(h http.Header, body []byte, next string) []byte {
	setLink(h, next)
	return body
}

// requestURI is the page cursor of a registry that pages by Link: the
// request's path and query.
func requestURI(r *http.Request) string { return r.URL.RequestURI() }

// faultStatus is the HTTP status of each fault class on every REST registry.
var faultStatus = map[errClass]int{throttled: 429, unavailable: 503, unavailableRA: 503, expired: 401, denied: 403}

// distributionCodes are the distribution API's error codes for each class,
// which Artifactory, Nexus and ACR answer with too.
var distributionCodes = map[errClass]string{throttled: "TOOMANYREQUESTS", unavailable: "UNAVAILABLE", unavailableRA: "UNAVAILABLE", expired: "UNAUTHORIZED", denied: "DENIED"}

// errorsBody is the distribution API's error shape, {"errors": [{code, message}]}.
func errorsBody(code, msg string) []byte {
	return errJSON(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// errorsAnswer answers a fault class with errorsBody and the registry's
// codes, and Retry-After: 0 where the class invites a retry.
func errorsAnswer(codes map[errClass]string) func(errClass, string) (action, string) {
	return func(c errClass, msg string) (action, string) {
		h := hdr("Content-Type", "application/json")
		if c == throttled || c == unavailableRA {
			h.Set("Retry-After", "0")
		}
		return respond(faultStatus[c], h, errorsBody(codes[c], msg)), msg
	}
}

// ---- Docker Hub ----

var hubRepoPath = regexp.MustCompile(`^/v2/namespaces/([^/]+)/repositories(?:/([^/]+)(/.*)?)?$`)

func startHub(t *testing.T) *fixture {
	t.Helper()
	const user, secret = "fm-bot", "dckr_oat_faultmatrix_secret"
	s := hubemu.New(hubemu.Options{})
	s.AddAccount(hubemu.Account{Identifier: user, Secret: secret, Namespaces: []string{"good", "bad"}, Admin: true})
	seed := func(ns, name string, immutable bool) {
		r := hubemu.Repository{Namespace: ns, Name: name, Private: true, Tags: map[string]string{"v1": "sha256:" + strings.Repeat("a", 64)}}
		if immutable {
			r.ImmutableEnabled, r.ImmutableRules = true, []string{".*"}
		}
		if err := s.AddRepository(r); err != nil {
			t.Fatal(err)
		}
	}
	seed("good", repoOK, true)
	seed("good", repoDrift, false)
	for _, n := range badRepos {
		seed("bad", n, true)
	}
	// Hub repository names are one lower-case path segment.
	names := []string{strings.Repeat("l", 255), "ünïcødé-名前"}
	for _, n := range names {
		seed("good", n, true)
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		if r.URL.Path == "/v2/auth/token" {
			return wire{Op: opToken}
		}
		m := hubRepoPath.FindStringSubmatch(r.URL.EscapedPath())
		if m == nil {
			return wire{Op: opOther}
		}
		ns, _ := url.PathUnescape(m[1])
		repo, _ := url.PathUnescape(m[2])
		switch {
		case repo == "":
			return wire{Scope: ns, Op: opList}
		case r.Method == http.MethodPatch:
			return wire{Scope: ns, Op: opWrite, Repo: repo}
		case m[3] != "":
			return wire{Scope: ns, Op: opOther, Repo: repo}
		}
		return wire{Scope: ns, Op: opRepo, Repo: repo}
	})
	return &fixture{
		kind: providers.KindDockerHub,
		providers: []config.Provider{{Name: "hub", Kind: providers.KindDockerHub, Endpoint: px.URL(), Settings: config.Keys{"namespaces": []string{"good", "bad"}},
			Credentials: config.Credentials{UsernameEnv: "FM_HUB_USER", TokenEnv: "FM_HUB_TOKEN"},
			// The default (5/s, polite to the real Hub) would make the matrix slow.
			Rate: config.Rate{RequestsPerSecond: 1000}}},
		env:      map[string]string{"FM_HUB_USER": user, "FM_HUB_TOKEN": secret},
		goodProv: "hub", badProv: "hub", good: "good", bad: "bad",
		px: px,
		apiErr: func(c errClass, msg string) (action, string) {
			body := errJSON(map[string]any{"detail": msg, "message": msg})
			switch c {
			case throttled:
				return respond(429, hdr("Content-Type", "application/json", "Retry-After", "0"), body), msg
			case unavailable:
				return respond(503, hdr("Content-Type", "application/json"), body), msg
			case unavailableRA:
				return respond(503, hdr("Content-Type", "application/json", "Retry-After", "0"), body), msg
			case expired:
				return respond(401, hdr("Content-Type", "application/json"), body), msg
			}
			return respond(403, hdr("Content-Type", "application/json"), body), msg
		},
		cursor: func(r *http.Request) string { return "http://" + r.Host + r.URL.RequestURI() },
		setNext: func(_ http.Header, body []byte, next string) []byte {
			return setJSONField(body, "next", next)
		},
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.DenyNamespace("bad", http.StatusForbidden) },
		denyRepo:  func() { s.DenyRepository("bad", target, http.StatusForbidden) },
		revoke:    s.RevokeTokens,
		hubSrv:    s,
		names:     names,
		attempts:  6,
	}
}

// ---- Quay ----

var (
	quayOrgPath  = regexp.MustCompile(`^/api/v1/(?:organization|users)/([^/]+)(/immutabilitypolicy/?.*)?$`)
	quayRepoPath = regexp.MustCompile(`^/api/v1/repository/([^/]+)/(.+)/immutabilitypolicy/?(.*)$`)
)

func startQuay(t *testing.T) *fixture {
	t.Helper()
	const token = "quay-oauth-faultmatrix-secret"
	s := quayemu.New(quayemu.Options{Token: token})
	s.AddOrg("good")
	s.AddOrg("bad")
	seed := func(ns, name string, immutable bool) {
		if err := s.AddRepo(ns, name, "v1"); err != nil {
			t.Fatal(err)
		}
		if immutable {
			if _, err := s.AddRepoPolicy(ns, name, ".*", true); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed("good", repoOK, true)
	seed("good", repoDrift, false)
	for _, n := range badRepos {
		seed("bad", n, true)
	}
	names := []string{longName("deep/"), "ünïcødé/名前"}
	for _, n := range names {
		seed("good", n, true)
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		p := r.URL.EscapedPath()
		if p == "/api/v1/repository" {
			return wire{Scope: r.URL.Query().Get("namespace"), Op: opList}
		}
		if m := quayRepoPath.FindStringSubmatch(p); m != nil {
			ns, _ := url.PathUnescape(m[1])
			repo, _ := url.PathUnescape(m[2])
			if r.Method != http.MethodGet {
				return wire{Scope: ns, Op: opWrite, Repo: repo}
			}
			return wire{Scope: ns, Op: opRepo, Repo: repo}
		}
		if m := quayOrgPath.FindStringSubmatch(p); m != nil {
			ns, _ := url.PathUnescape(m[1])
			if r.Method != http.MethodGet {
				return wire{Scope: ns, Op: opWrite}
			}
			return wire{Scope: ns, Op: opMeta}
		}
		return wire{Op: opOther}
	})
	return &fixture{
		kind: providers.KindQuay,
		providers: []config.Provider{{Name: "quay", Kind: providers.KindQuay, Endpoint: px.URL(), Settings: config.Keys{"namespaces": []string{"good", "bad"}},
			Credentials: config.Credentials{TokenEnv: "FM_QUAY_TOKEN"}}},
		env:      map[string]string{"FM_QUAY_TOKEN": token},
		goodProv: "quay", badProv: "quay", good: "good", bad: "bad",
		px: px,
		apiErr: func(c errClass, msg string) (action, string) {
			body := errJSON(map[string]any{"error_message": msg, "error_type": "fault", "detail": msg})
			json := hdr("Content-Type", "application/json")
			switch c {
			case throttled:
				// Quay sits behind nginx, whose limit_req answers with HTML.
				return respond(429, hdr("Content-Type", "text/html", "Retry-After", "0"),
					[]byte("<html><head><title>429 Too Many Requests</title></head><body>"+msg+"</body></html>\n")), "Too Many Requests"
			case unavailable:
				return respond(503, json, body), msg
			case unavailableRA:
				return respond(503, hdr("Content-Type", "application/json", "Retry-After", "0"), body), msg
			case expired:
				return respond(401, json, body), msg
			}
			return respond(403, json, body), msg
		},
		cursor: func(r *http.Request) string { return r.URL.Query().Get("next_page") },
		setNext: func(_ http.Header, body []byte, next string) []byte {
			return setJSONField(body, "next_page", next)
		},
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny("bad", true) },
		names:     names,
		attempts:  6,
	}
}

// ---- Harbor ----

var harborProject = regexp.MustCompile(`^/api/v2\.0/projects/([^/]+)(/[^/]+)?(/.*)?$`)

func startHarbor(t *testing.T) *fixture {
	t.Helper()
	const user, pass = "robot$faultmatrix", "harbor-faultmatrix-secret"
	s := harboremu.New(harboremu.Options{Username: user, Password: pass})
	goodID := s.AddProject("good", false)
	badID := s.AddProject("bad", false)
	names := []string{longName("deep/"), "ünïcødé/名前"}
	for _, n := range append([]string{repoOK, repoDrift}, names...) {
		if err := s.AddRepo("good", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range badRepos {
		if err := s.AddRepo("bad", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	// Harbor's immutability is per project: a rule for app-ok and the long
	// and unicode names in "good", one covering everything in "bad".
	for _, pat := range append([]string{repoOK}, names...) {
		if _, err := s.AddRule("good", harboremu.NewRule("repoMatches", pat, "matches", "**")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddRule("bad", harboremu.NewRule("repoMatches", "**", "matches", "**")); err != nil {
		t.Fatal(err)
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	byID := map[string]string{strconv.FormatInt(goodID, 10): "good", strconv.FormatInt(badID, 10): "bad"}
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		m := harborProject.FindStringSubmatch(r.URL.EscapedPath())
		if m == nil {
			return wire{Op: opOther}
		}
		proj, _ := url.PathUnescape(m[1])
		if n, ok := byID[proj]; ok {
			proj = n
		}
		switch {
		case m[2] == "/repositories" && m[3] == "":
			return wire{Scope: proj, Op: opList}
		case m[2] == "/immutabletagrules" && r.Method != http.MethodGet:
			return wire{Scope: proj, Op: opWrite}
		case m[2] == "/immutabletagrules", m[2] == "":
			return wire{Scope: proj, Op: opMeta}
		}
		return wire{Scope: proj, Op: opOther}
	})
	return &fixture{
		kind: providers.KindHarbor,
		providers: []config.Provider{{Name: "harbor", Kind: providers.KindHarbor, Endpoint: px.URL(), Settings: config.Keys{"projects": []string{"good", "bad"}},
			Credentials: config.Credentials{UsernameEnv: "FM_HARBOR_USER", PasswordEnv: "FM_HARBOR_PASSWORD"}}},
		env:      map[string]string{"FM_HARBOR_USER": user, "FM_HARBOR_PASSWORD": pass},
		goodProv: "harbor", badProv: "harbor", good: "good", bad: "bad",
		px:        px,
		apiErr:    errorsAnswer(map[errClass]string{throttled: "TOO_MANY_REQUEST", unavailable: "UNKNOWN", unavailableRA: "UNKNOWN", expired: "UNAUTHORIZED", denied: "FORBIDDEN"}),
		cursor:    requestURI,
		setNext:   linkNext,
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny("bad", true) },
		names:     names,
		attempts:  6,
	}
}

// ---- ACR ----

var acrPath = regexp.MustCompile(`^/acr/v1/(.+?)/_tags(?:/([^/]+))?$`)

// startACR runs two registries: "acr-good" reached directly over TLS and
// "acr-bad" reached through the proxy (the adapter allows plain http to a
// loopback endpoint override), because an ACR scope is a whole registry.
func startACR(t *testing.T) *fixture {
	t.Helper()
	const user, pass = "fm-acr-user", "acr-faultmatrix-secret"
	newSrv := func() *acremu.Loopback {
		s, err := acremu.ServeLoopback(acremu.New(acremu.Options{SKU: "Premium"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		s.AddUser(user, pass)
		return s
	}
	good, bad := newSrv(), newSrv()
	good.AddTag(repoOK, "v1", true)
	good.AddTag(repoOK, "v2", true)
	good.AddTag(repoDrift, "v1", false)
	names := []string{longName("deep/"), "ünïcødé/名前"}
	for _, n := range names {
		good.AddTag(n, "v1", true)
	}
	for _, n := range badRepos {
		bad.AddTag(n, "v1", true)
		bad.AddTag(n, "v2", true)
	}
	ca, err := good.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	badScope := bad.LoginServer()
	px := newProxy(t, bad.URL(), bad.Client().Transport, func(r *http.Request) wire {
		p := r.URL.EscapedPath()
		switch {
		case strings.HasPrefix(p, "/oauth2/"):
			return wire{Op: opToken}
		case p == "/acr/v1/_catalog":
			return wire{Scope: badScope, Op: opList}
		}
		if m := acrPath.FindStringSubmatch(p); m != nil {
			repo, _ := url.PathUnescape(m[1])
			if r.Method == http.MethodPatch {
				return wire{Scope: badScope, Op: opWrite, Repo: repo}
			}
			return wire{Scope: badScope, Op: opRepo, Repo: repo}
		}
		return wire{Scope: badScope, Op: opOther}
	})
	creds := config.Credentials{UsernameEnv: "FM_ACR_USER", PasswordEnv: "FM_ACR_PASSWORD"}
	return &fixture{
		kind: providers.KindACR,
		providers: []config.Provider{
			{Name: "acr-good", Kind: providers.KindACR, Settings: config.Keys{"registries": []string{good.LoginServer()}}, Credentials: creds, TLS: config.TLS{CAFile: ca}},
			{Name: "acr-bad", Kind: providers.KindACR, Settings: config.Keys{"registries": []string{badScope}}, Endpoint: px.URL(), Credentials: creds},
		},
		env:      map[string]string{"FM_ACR_USER": user, "FM_ACR_PASSWORD": pass},
		goodProv: "acr-good", badProv: "acr-bad", good: good.LoginServer(), bad: badScope,
		px: px,
		apiErr: func(c errClass, msg string) (action, string) {
			status := faultStatus[c]
			h := hdr("Content-Type", "application/json")
			body := errorsBody(distributionCodes[c], msg)
			switch c {
			case throttled, unavailableRA:
				// azcore ignores Retry-After: 0 but honours retry-after-ms.
				h.Set("retry-after-ms", "1")
			case expired:
				// The challenge names the scope the request needed, as ACR does.
				return func(w http.ResponseWriter, r *http.Request, up http.Handler) {
					scope := "registry:catalog:*"
					if m := acrPath.FindStringSubmatch(r.URL.EscapedPath()); m != nil {
						repo, _ := url.PathUnescape(m[1])
						scope = "repository:" + repo + ":metadata_read"
					}
					h := h.Clone()
					h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s",error="invalid_token"`, badScope, badScope, scope))
					respond(status, h, body)(w, r, up)
				}, msg
			}
			return respond(status, h, body), msg
		},
		cursor:    requestURI,
		setNext:   linkNext,
		pageSize:  func(n int) { bad.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { bad.Deny("registry:catalog") },
		denyRepo:  func() { bad.Deny(target) },
		names:     names,
		attempts:  6,
		retry:     fastRetry,
	}
}

// ---- ECR ----

var sigV4Scope = regexp.MustCompile(`Credential=[^/]+/[0-9]+/([^/]+)/([^/]+)/aws4_request`)

func startECR(t *testing.T) *fixture {
	t.Helper()
	acct := ecremu.DefaultAccount
	s := ecremu.New(ecremu.Options{})
	seed := func(region, name, mode string) {
		if err := s.CreateRepository(acct, region, name, mode); err != nil {
			t.Fatal(err)
		}
	}
	seed("us-east-1", repoOK, ecremu.Immutable)
	seed("us-east-1", repoDrift, ecremu.Mutable)
	for _, n := range badRepos {
		seed("eu-west-1", n, ecremu.Immutable)
	}
	// ECR names are [a-z0-9._/-] (256 at most); unicode is refused by the
	// service and by the emulator alike.
	names := []string{longName("deep/nested/")}
	for _, n := range names {
		seed("us-east-1", n, ecremu.Immutable)
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		m := sigV4Scope.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil || m[2] == "sts" {
			return wire{Op: opToken}
		}
		sc := acct + "/" + m[1]
		op := r.Header.Get("X-Amz-Target")
		switch op[strings.LastIndex(op, ".")+1:] {
		case "DescribeRepositories":
			return wire{Scope: sc, Op: opList}
		case "DescribePullThroughCacheRules":
			return wire{Scope: sc, Op: opMeta}
		case "PutImageTagMutability":
			var in struct {
				RepositoryName string `json:"repositoryName"`
			}
			_ = json.Unmarshal(peekBody(r), &in)
			return wire{Scope: sc, Op: opWrite, Repo: in.RepositoryName}
		}
		return wire{Scope: sc, Op: opOther}
	})
	awsErr := func(status int, typ, msg string) action {
		return respond(status, hdr("Content-Type", "application/x-amz-json-1.1", "X-Amzn-ErrorType", typ),
			errJSON(map[string]string{"__type": typ, "message": msg}))
	}
	return &fixture{
		kind:      providers.KindECR,
		providers: []config.Provider{{Name: "aws", Kind: providers.KindECR, Endpoint: px.URL(), Settings: config.Keys{"regions": []string{"us-east-1", "eu-west-1"}}}},
		goodProv:  "aws", badProv: "aws", good: acct + "/us-east-1", bad: acct + "/eu-west-1",
		px: px,
		apiErr: func(c errClass, msg string) (action, string) {
			switch c {
			case throttled:
				return awsErr(400, "ThrottlingException", msg), msg
			case unavailable, unavailableRA:
				return awsErr(500, "ServerException", msg), msg
			case expired:
				return awsErr(400, "ExpiredTokenException", msg), msg
			}
			return awsErr(400, "AccessDeniedException", msg), msg
		},
		cursor: func(r *http.Request) string {
			var in struct {
				NextToken string `json:"nextToken"`
			}
			_ = json.Unmarshal(peekBody(r), &in)
			return in.NextToken
		},
		setNext: func(_ http.Header, body []byte, next string) []byte {
			return setJSONField(body, "nextToken", next)
		},
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny(acct, "eu-west-1", "DescribeRepositories") },
		ecrSrv:    s,
		names:     names,
		attempts:  5,
		retry:     fastRetry,
	}
}

// corruptJSON turns a JSON body into one that does not parse.
func corruptJSON(body []byte) []byte {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return []byte(`{"`)
	}
	return append([]byte(`{"garbage": [`), b[:len(b)/2]...)
}

// truncateJSON cuts a valid body in half.
func truncateJSON(body []byte) []byte {
	b := bytes.TrimSpace(body)
	return b[:len(b)/2]
}
