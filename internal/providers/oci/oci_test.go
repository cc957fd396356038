package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/emulator"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/redact"
	"github.com/immutag/immutag/internal/testutil"
)

const (
	userEnv = "OCI_TEST_USER"
	passEnv = "OCI_TEST_PASS"
)

// fixture is an emulator with credentials, seeded by pushing through the
// token flow like any client.
type fixture struct {
	srv  *ociemu.Server
	hs   *httptest.Server
	push ociemu.Pusher
	env  map[string]string
}

func start(t *testing.T, o ociemu.Options) *fixture {
	t.Helper()
	o.Username, o.Password = "ci", "s3cret-"+strings.ReplaceAll(t.Name(), "/", "-")
	srv := ociemu.New(o)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{
		srv: srv, hs: hs,
		push: ociemu.Pusher{Base: hs.URL, Auth: &authn.Basic{Username: o.Username, Password: o.Password}},
		env:  map[string]string{userEnv: o.Username, passEnv: o.Password},
	}
}

func (f *fixture) provider(t *testing.T, mod func(*Config)) *Provider {
	t.Helper()
	c := Config{Name: "oci-test", Endpoint: f.hs.URL, UsernameEnv: userEnv, PasswordEnv: passEnv}
	if mod != nil {
		mod(&c)
	}
	p, err := NewFromConfig(c, providers.Options{Getenv: func(k string) string { return f.env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	p.backoff.Duration = time.Millisecond
	return p
}

func tags(t *testing.T, p *Provider, repo string) (map[string]string, []string, error) {
	t.Helper()
	m := map[string]string{}
	var order []string
	err := p.Tags(t.Context(), p.repository(repo), func(tg providers.Tag) error {
		if _, dup := m[tg.Name]; dup {
			t.Errorf("tag %s yielded twice", tg.Name)
		}
		if !tg.Pushed.IsZero() {
			t.Errorf("tag %s: Pushed %v, but the distribution API has no push time", tg.Name, tg.Pushed)
		}
		m[tg.Name] = tg.Digest
		order = append(order, tg.Name)
		return nil
	})
	return m, order, err
}

func TestCatalogPagesAndEveryRepositoryIsUnsupported(t *testing.T) {
	f := start(t, ociemu.Options{Faults: emulator.Faults{PageSize: 2}})
	want := []string{"team/api", "team/web", "tools", "worker", "zeta/deep/name"}
	for _, r := range want {
		if _, err := f.push.Image(t.Context(), r, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	f.srv.Calls().Reset()
	p := f.provider(t, nil)
	e, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	if got := e.Names(); !slices.Equal(got, want) {
		t.Fatalf("repositories %v, want %v", got, want)
	}
	for _, r := range e.Repos() {
		if r.Mode != providers.ModeUnsupported || r.Kind != Kind || r.Note != Note {
			t.Errorf("%s: %+v, want unsupported with the note", r.Name, r.Immutability)
		}
		host := strings.TrimPrefix(f.hs.URL, "http://")
		if r.Scope != host || r.URI != host+"/"+r.Name {
			t.Errorf("%s: scope %q uri %q", r.Name, r.Scope, r.URI)
		}
	}
	// Five repositories at two per page: three pages, each one call (the
	// token is fetched before the first, so no page is answered 401).
	if n := f.srv.Calls().Get("catalog"); n != 3 {
		t.Errorf("catalog calls = %d, want 3 (pages of 2)", n)
	}
	if n := f.srv.Calls().Get("token"); n != 1 {
		t.Errorf("token calls = %d, want 1", n)
	}
}

func TestTagsGiveIndexDigestsAndSeeOverwrites(t *testing.T) {
	f := start(t, ociemu.Options{Faults: emulator.Faults{PageSize: 3}})
	ctx := t.Context()
	want := map[string]string{}
	for i := range 7 {
		tag := fmt.Sprintf("v1.%d", i)
		d, err := f.push.Image(ctx, "app", tag)
		if err != nil {
			t.Fatal(err)
		}
		want[tag] = d.String()
	}
	idx, err := f.push.Index(ctx, "app", "multi")
	if err != nil {
		t.Fatal(err)
	}
	want["multi"] = idx.String()
	old, err := f.push.Image(ctx, "app", "latest")
	if err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, nil)
	got, order, err := tags(t, p, "app")
	if err != nil {
		t.Fatal(err)
	}
	want["latest"] = old.String()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tags\n got %v\nwant %v", got, want)
	}
	if !slices.IsSorted(order) {
		t.Errorf("tags not yielded in lexical order: %v", order)
	}
	// 9 tags at 3 per page: 3 pages, plus a HEAD per tag.
	if n := f.srv.Calls().Get("tags"); n != 3 {
		t.Errorf("tag-list calls = %d, want 3", n)
	}
	if n := f.srv.Calls().Get("manifest-get"); n != 0 {
		t.Errorf("manifest GETs = %d, want 0: HEAD carries the digest", n)
	}

	// Overwrite latest: the next listing names the new digest.
	neu, err := f.push.Image(ctx, "app", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if neu == old {
		t.Fatal("random images collided")
	}
	got, _, err = tags(t, p, "app")
	if err != nil {
		t.Fatal(err)
	}
	if got["latest"] != neu.String() {
		t.Errorf("latest = %s after the overwrite, want %s", got["latest"], neu)
	}
}

func TestTagsWithoutHeadDigestHashTheManifest(t *testing.T) {
	f := start(t, ociemu.Options{NoHeadDigest: true})
	ctx := t.Context()
	img, err := f.push.Image(ctx, "app", "one")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := f.push.Index(ctx, "app", "two")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Calls().Reset()
	got, _, err := tags(t, f.provider(t, nil), "app")
	if err != nil {
		t.Fatal(err)
	}
	if got["one"] != img.String() || got["two"] != idx.String() {
		t.Errorf("digests %v, want one=%s two=%s (the index's own, not a platform's)", got, img, idx)
	}
	if n := f.srv.Calls().Get("manifest-get"); n != 2 {
		t.Errorf("manifest GETs = %d, want one per tag without a HEAD digest", n)
	}
}

func TestConfiguredRepositoriesWhenNoCatalog(t *testing.T) {
	f := start(t, ociemu.Options{NoCatalog: true})
	if _, err := f.push.Image(t.Context(), "team/app", "v1"); err != nil {
		t.Fatal(err)
	}
	_, errs := testutil.Scan(t, f.provider(t, nil))
	err := errs[strings.TrimPrefix(f.hs.URL, "http://")]
	if err == nil || !strings.Contains(err.Error(), "repositories") || !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("scope error %v: want a not-found error that says to list repositories", err)
	}

	p := f.provider(t, func(c *Config) { c.Repositories = []string{"team/app", "team/typo"} })
	e, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	by := e.ByName()
	if len(by) != 2 || by["team/app"].Mode != providers.ModeUnsupported {
		t.Fatalf("repositories %+v", by)
	}
	typo := by["team/typo"]
	if typo.Mode != providers.ModeUnknown || !strings.Contains(typo.Error, "NAME_UNKNOWN") {
		t.Errorf("missing repository: %+v, want unknown naming NAME_UNKNOWN", typo.Immutability)
	}
}

func TestCredentials(t *testing.T) {
	f := start(t, ociemu.Options{})
	if _, err := f.push.Image(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	scope := strings.TrimPrefix(f.hs.URL, "http://")

	f.env[passEnv] = "wrong"
	_, errs := testutil.Scan(t, f.provider(t, nil))
	if errs[scope] == nil || !errors.Is(errs[scope], providers.ErrDenied) && !strings.Contains(errs[scope].Error(), "401") {
		t.Errorf("wrong password: %v, want denied", errs[scope])
	}
	if strings.Contains(fmt.Sprint(errs[scope]), "wrong") {
		t.Errorf("the password leaked into the error: %v", errs[scope])
	}

	delete(f.env, passEnv)
	_, errs = testutil.Scan(t, f.provider(t, nil))
	if errs[scope] == nil || !strings.Contains(errs[scope].Error(), passEnv) {
		t.Errorf("unset variable: %v, want an error naming %s", errs[scope], passEnv)
	}

	f.srv.SetDenied(true)
	f.env[passEnv] = f.push.Auth.(*authn.Basic).Password
	_, errs = testutil.Scan(t, f.provider(t, nil))
	if !errors.Is(errs[scope], providers.ErrDenied) || !strings.Contains(errs[scope].Error(), "grant catalog access") {
		t.Errorf("denied catalog: %v", errs[scope])
	}

	for _, c := range []Config{
		{Endpoint: "ftp://x"}, {Endpoint: "https://u:p@x"}, {Endpoint: "https://x/some/path"}, {Endpoint: ""},
		{Endpoint: "https://x", UsernameEnv: "A"},
		{Endpoint: "https://x", TokenEnv: "T", UsernameEnv: "A", PasswordEnv: "B"},
		{Endpoint: "https://x", Repositories: []string{"Upper/Case"}},
	} {
		if _, err := NewFromConfig(c, providers.Options{}); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("error echoes the URL's credentials: %v", err)
		}
	}
}

// TestManifestRedirectToAnotherOriginIsRefused: a catalog or manifest call
// that is redirected elsewhere is refused before anything reaches the other
// origin, so no credential travels and no foreign answer is taken as the
// registry's.
func TestManifestRedirectToAnotherOriginIsRefused(t *testing.T) {
	f := start(t, ociemu.Options{})
	if _, err := f.push.Image(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	var foreign atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreign.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"repositories":[],"name":"app","tags":[]}`)
	}))
	defer other.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/_catalog" || strings.Contains(r.URL.Path, "/manifests/") {
			http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		f.srv.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	p := f.provider(t, func(c *Config) { c.Endpoint = front.URL })
	_, errs := testutil.Scan(t, p)
	scope := strings.TrimPrefix(front.URL, "http://")
	if err := errs[scope]; !errors.Is(err, ErrCrossOriginRedirect) {
		t.Errorf("catalog redirected: %v, want ErrCrossOriginRedirect", err)
	}
	_, _, err := tags(t, p, "app")
	if !errors.Is(err, ErrCrossOriginRedirect) {
		t.Errorf("manifest redirected: %v, want ErrCrossOriginRedirect", err)
	}
	if n := foreign.Load(); n != 0 {
		t.Errorf("%d requests reached the other origin", n)
	}
}

// TestBlobRedirectDropsCredentials: blob downloads may go to storage on
// another origin, without the registry's credentials.
func TestBlobRedirectDropsCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+"|"+r.Header.Get("Cookie"))
		mu.Unlock()
	}))
	defer storage.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, storage.URL+"/bucket/blob", http.StatusTemporaryRedirect)
	}))
	defer reg.Close()
	_, origin, err := ParseEndpoint(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Authorization set per hop, as go-containerregistry's auth layer does
	// above the guard, so only the guard can drop it.
	g := &guard{base: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		return http.DefaultTransport.RoundTrip(r)
	}), origin: origin}
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer registry-token")
		r.Header.Set("Cookie", "session=registry")
		return g.RoundTrip(r)
	})}
	resp, err := hc.Get(reg.URL + "/v2/app/blobs/sha256:" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 1 || seen[0] != "|" {
		t.Errorf("storage saw credentials %q, want none", seen)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := start(t, ociemu.Options{})
	if _, err := f.push.Image(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	var throttled atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/_catalog" && throttled.Add(1) <= 2 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
			return
		}
		f.srv.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	p := f.provider(t, func(c *Config) { c.Endpoint = front.URL })
	var mu sync.Mutex
	var waits []time.Duration
	p.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return nil
	}
	e, errs := testutil.Scan(t, p)
	if len(errs) > 0 || len(e.Repos()) != 1 {
		t.Fatalf("errs %v repos %v", errs, e.Names())
	}
	if fmt.Sprint(waits) != "[7s 7s]" {
		t.Errorf("waits %v, want the advertised 7s twice", waits)
	}

	// A storm: every attempt throttled; the scope fails with the registry's code.
	throttled.Store(-1000)
	_, errs = testutil.Scan(t, p)
	if err := errs[strings.TrimPrefix(front.URL, "http://")]; !errors.Is(err, providers.ErrThrottled) || !strings.Contains(err.Error(), "TOOMANYREQUESTS") {
		t.Errorf("storm: %v, want throttled naming TOOMANYREQUESTS", err)
	}
}

func TestCancelledContextStopsListing(t *testing.T) {
	f := start(t, ociemu.Options{Faults: emulator.Faults{PageSize: 1}})
	for i := range 5 {
		if _, err := f.push.Image(t.Context(), fmt.Sprintf("r%d", i), "v1"); err != nil {
			t.Fatal(err)
		}
	}
	p := f.provider(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := p.catalog(ctx, func(string) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	}, &testutil.Emitter{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if n != 2 {
		t.Errorf("%d repositories after cancel at 2", n)
	}
}

// TestFindingSaysWhatCanBeDone: an oci repository is drift (nothing makes
// it immutable) and the finding's remediation is the adapter's, not a
// "run immutag fix" that would do nothing.
func TestFindingSaysWhatCanBeDone(t *testing.T) {
	p, err := NewFromConfig(Config{Name: "o", Endpoint: "https://registry.example.com"}, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := audit.Evaluate(p.repository("team/app"), audit.Policy{})
	if ev.Status != audit.StatusDrift || ev.Remediation != Remediation || !strings.Contains(ev.Reason, Note) {
		t.Errorf("evaluation %+v", ev)
	}
	for _, want := range []string{"--record", "--fail-on-overwrite", "immutag lint"} {
		if !strings.Contains(ev.Remediation, want) {
			t.Errorf("remediation does not mention %s", want)
		}
	}
}

// TestEchoedTokenIsMasked: a registry that echoes the bearer token it was
// sent (minted per repository, unknown to the program's redactor) does not
// get it into the error.
func TestEchoedTokenIsMasked(t *testing.T) {
	f := start(t, ociemu.Options{})
	if _, err := f.push.Image(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Value
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/_catalog" && r.Header.Get("Authorization") != "" {
			a := r.Header.Get("Authorization")
			sent.Store(a)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"bad token %s (Authorization: %s)"}]}`, strings.TrimPrefix(a, "Bearer "), a)
			return
		}
		f.srv.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	_, errs := testutil.Scan(t, f.provider(t, func(c *Config) { c.Endpoint = front.URL }))
	err := errs[strings.TrimPrefix(front.URL, "http://")]
	a, _ := sent.Load().(string)
	if err == nil || a == "" {
		t.Fatalf("err %v, sent %q", err, a)
	}
	if strings.Contains(err.Error(), strings.TrimPrefix(a, "Bearer ")) {
		t.Errorf("the echoed token is in the error: %v", err)
	}
	if !strings.Contains(err.Error(), redact.Mask) {
		t.Errorf("error %v: want the mask where the token was", err)
	}
}

// TestStalledAttemptIsRetried: an attempt that gets no answer in time is
// cut off and sent again (net/http's own header timeout reads as a
// deadline, which go-containerregistry would not retry).
func TestStalledAttemptIsRetried(t *testing.T) {
	s := ociemu.New(ociemu.Options{})
	if _, err := s.Seed("app", "v1"); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	release := make(chan struct{})
	defer close(release)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/_catalog" && n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	defer hs.Close()
	p, err := NewFromConfig(Config{Name: "x", Endpoint: hs.URL}, providers.Options{
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond},
		Retry:      providers.RetryTuning{MaxBackoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	e, errs := testutil.Scan(t, p)
	if len(errs) > 0 || len(e.Repos()) != 1 {
		t.Fatalf("errs %v repos %v", errs, e.Names())
	}
	if got := n.Load(); got != 2 {
		t.Errorf("%d catalog attempts, want the stalled one and its retry", got)
	}
}

// TestListingThatIsNotAListingFailsTheScope: a 200 without the list (an
// error body), an empty 200 and an oversized page fail the scope instead
// of reading as an empty registry.
func TestListingThatIsNotAListingFailsTheScope(t *testing.T) {
	s := ociemu.New(ociemu.Options{})
	if _, err := s.Seed("app", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		body []byte
		want string
	}{
		{[]byte(`{"detail":"rate limit exceeded"}`), `has no "repositories" list`},
		{nil, "empty body"},
		{append([]byte(`{"repositories":[]}`), bytes.Repeat([]byte(" "), int(httpapi.MaxBodyBytes)+1)...), "too large"},
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/_catalog" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(c.body)
				return
			}
			s.Handler().ServeHTTP(w, r)
		}))
		p, err := NewFromConfig(Config{Name: "x", Endpoint: hs.URL}, providers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, errs := testutil.Scan(t, p)
		if err := errs[strings.TrimPrefix(hs.URL, "http://")]; err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want %q", c.body, err, c.want)
		}
		hs.Close()
	}
}
