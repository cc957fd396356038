package ecr

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/immutag/immutag/internal/config"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	"github.com/immutag/immutag/internal/providers"
)

// TestHermeticReadsGetenvOnly: with providers.Options.Hermetic the adapter
// signs with the keys Getenv gives and ignores the process environment,
// here a profile that does not exist (LoadDefaultConfig would fail on it)
// and other keys.
func TestHermeticReadsGetenvOnly(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	t.Setenv("AWS_PROFILE", "immutag-no-such-profile")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESSENV000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "process-env-secret")
	mustCreate(t, s, "eu-west-1", "team/app", ecremu.Immutable)

	target, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var auth []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAHERMETICTEST0001", "AWS_SECRET_ACCESS_KEY": "hermetic-secret"}
	o := providers.Options{Hermetic: true, Getenv: func(k string) string { return env[k] }}
	p := config.Provider{Name: "h", Kind: providers.KindECR, Endpoint: front.URL, Settings: &Settings{Regions: []string{"eu-west-1"}}}
	pr, err := newProvider(t.Context(), p, o, testTuning)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ss, err := pr.Scopes(t.Context())
	if err != nil {
		t.Fatalf("scopes: %v", err)
	}
	if len(ss) != 1 || ss[0].Name != emuAccount+"/eu-west-1" {
		t.Fatalf("scopes = %+v", ss)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) == 0 {
		t.Fatal("no request reached the endpoint")
	}
	for _, a := range auth {
		if !strings.Contains(a, "Credential=AKIAHERMETICTEST0001/") {
			t.Errorf("request signed with %q, want the Getenv key", a)
		}
	}

	// Without both keys a hermetic run has nothing to fall back on.
	delete(env, "AWS_SECRET_ACCESS_KEY")
	if _, err := newProvider(t.Context(), p, o, testTuning); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("new without a secret: %v", err)
	}
}
