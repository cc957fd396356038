package dockerhub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/dockerhub"
)

const (
	testUser   = "acme"
	testSecret = "dckr_oat_TESTSECRET_do_not_log"
	userEnv    = "HUB_USER"
	tokenEnv   = "HUB_TOKEN"
)

// startEmu starts an emulator with an admin account for testUser/testSecret
// reading every namespace.
func startEmu(t *testing.T, o hubemu.Options) *hubEmu {
	t.Helper()
	s := hubemu.New(o)
	s.AddAccount(hubemu.Account{Identifier: testUser, Secret: testSecret, Admin: true})
	web := httptest.NewServer(s.Handler())
	t.Cleanup(web.Close)
	return &hubEmu{Server: s, web: web}
}

// hubEmu is an emulator and the test server it is served on.
type hubEmu struct {
	*hubemu.Server
	web *httptest.Server
}

// URL is the emulator's base URL.
func (e *hubEmu) URL() string { return e.web.URL }

func addRepo(t *testing.T, s *hubEmu, ns, name string, private, enabled bool, rules ...string) {
	t.Helper()
	err := s.AddRepository(hubemu.Repository{
		Namespace: ns, Name: name, Private: private, ImmutableEnabled: enabled, ImmutableRules: rules,
		Tags: map[string]string{"latest": "sha256:" + name, "v1.0.0": "sha256:v1" + name},
	})
	if err != nil {
		t.Fatal(err)
	}
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

type setup struct {
	namespaces []string
	env        env
	now        func() time.Time
	hc         *http.Client
	log        *bytes.Buffer
	rate       config.Rate
	allowed    []string // policy.mutable_tags_allowed
}

func newProvider(t *testing.T, s *hubEmu, mod func(*setup)) *dockerhub.Provider {
	t.Helper()
	// A generous rate keeps tests fast; the default (5/s) is for Hub itself.
	st := setup{namespaces: []string{"acme"}, env: env{userEnv: testUser, tokenEnv: testSecret}, rate: config.Rate{RequestsPerSecond: 1000}}
	if mod != nil {
		mod(&st)
	}
	o := providers.Options{Getenv: st.env.get, Now: st.now, HTTPClient: st.hc, MutableTagsAllowed: st.allowed}
	if st.log != nil {
		o.Logger = slog.New(slog.NewTextHandler(st.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := dockerhub.New(t.Context(), config.Provider{
		Name: "hub-test", Kind: providers.KindDockerHub, Endpoint: s.URL(), Settings: &dockerhub.Settings{Namespaces: st.namespaces}, Rate: st.rate,
		Credentials: config.Credentials{UsernameEnv: userEnv, TokenEnv: tokenEnv},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*dockerhub.Provider)
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
