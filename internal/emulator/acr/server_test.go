package acr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/emulator/acr/acrcontract"
	"github.com/immutag/immutag/internal/testutil"
)

func start(t *testing.T, o acr.Options) *acr.Loopback {
	t.Helper()
	s, err := acr.ServeLoopback(acr.New(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddUser("admin", "s3cret")
	return s
}

// raw is a tiny docker-style client: it answers the 401 challenge with a
// Basic-auth token request, the way the adapter does.
type raw struct {
	t    *testing.T
	s    *acr.Loopback
	hc   *http.Client
	user string
	pass string
}

func newRaw(t *testing.T, s *acr.Loopback, check *acrcontract.Checker) *raw {
	hc := s.Client()
	if check != nil {
		hc = &http.Client{Transport: check.Transport(hc.Transport)}
	}
	return &raw{t: t, s: s, hc: hc, user: "admin", pass: "s3cret"}
}

func (r *raw) do(method, path, body string) (*http.Response, []byte) {
	r.t.Helper()
	send := func(auth string) (*http.Response, []byte) {
		return testutil.Send(r.t, r.hc, method, r.s.URL()+path, body, func(req *http.Request) {
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
		})
	}
	resp, b := send("")
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, b
	}
	ch := resp.Header.Get("WWW-Authenticate")
	scope := between(ch, `scope="`, `"`)
	svc := between(ch, `service="`, `"`)
	tokReq, _ := http.NewRequestWithContext(r.t.Context(), http.MethodGet,
		r.s.URL()+"/oauth2/token?"+url.Values{"service": {svc}, "scope": {scope}}.Encode(), nil)
	tokReq.SetBasicAuth(r.user, r.pass)
	tr, err := r.hc.Do(tokReq)
	if err != nil {
		r.t.Fatal(err)
	}
	defer tr.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if tr.StatusCode != http.StatusOK {
		return tr, nil
	}
	_ = json.NewDecoder(tr.Body).Decode(&tok)
	return send("Bearer " + tok.AccessToken)
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func TestChallengeAndContractShapes(t *testing.T) {
	check := acrcontract.New(t)
	s := start(t, acr.Options{})
	s.AddTag("team/app", "v1", false)
	s.AddTag("team/app", "v2", true)
	c := newRaw(t, s, check)

	// Unauthenticated: 401 with the challenge the SDK parses.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/acr/v1/_catalog", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != 401 || !strings.Contains(ch, `service="`+s.LoginServer()+`"`) || !strings.Contains(ch, `scope="registry:catalog:*"`) {
		t.Fatalf("challenge = %d %q", resp.StatusCode, ch)
	}

	resp, body := c.do(http.MethodGet, "/acr/v1/team%2Fapp/_tags", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"writeEnabled":false`) {
		t.Fatalf("tags: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(http.MethodPatch, "/acr/v1/team%2Fapp/_tags/v1", `{"writeEnabled":false,"deleteEnabled":false}`)
	if resp.StatusCode != 200 {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	if tg, _ := s.Tag("team/app", "v1"); !tg.Locked() || tg.DeleteEnabled {
		t.Fatalf("v1 after PATCH = %+v", tg)
	}
	// 404 shapes.
	resp, body = c.do(http.MethodGet, "/acr/v1/team%2Fapp/_tags/ghost", "")
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"code":"TAG_UNKNOWN"`) {
		t.Fatalf("missing tag: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(http.MethodPatch, "/acr/v1/team%2Fghost/_tags/v1", `{"writeEnabled":false}`)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"code":"NAME_UNKNOWN"`) {
		t.Fatalf("missing repo: %d %s", resp.StatusCode, body)
	}
	resp, _ = c.do(http.MethodGet, "/acr/v1/team%2Fapp", "")
	if resp.StatusCode != 200 {
		t.Fatalf("repository properties: %d", resp.StatusCode)
	}
	if s.Calls().Get("PATCH locked tag") != 0 {
		t.Fatal("PATCH locked tag counted for an unlocked tag")
	}
	for _, p := range check.Problems() {
		t.Error(p)
	}
	t.Log("\n" + check.Report())
}

func TestPagingWithEscapedNames(t *testing.T) {
	s := start(t, acr.Options{})
	for i := range 7 {
		s.AddRepository(fmt.Sprintf("ns/repo%02d", i))
	}
	for i := range 25 {
		s.AddTag("ns/repo00", fmt.Sprintf("t%03d", i), i%2 == 0)
	}
	c := newRaw(t, s, nil)

	var repos []string
	next := "/acr/v1/_catalog?n=3"
	pages := 0
	for next != "" {
		resp, body := c.do(http.MethodGet, next, "")
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err, string(body))
		}
		repos = append(repos, page.Repositories...)
		next = between(resp.Header.Get("Link"), "<", ">")
		pages++
	}
	if len(repos) != 7 || pages != 3 || repos[6] != "ns/repo06" {
		t.Fatalf("catalog = %v in %d pages", repos, pages)
	}

	var tags []string
	next = "/acr/v1/ns%2Frepo00/_tags?n=10"
	for next != "" {
		resp, body := c.do(http.MethodGet, next, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", next, resp.StatusCode, body)
		}
		var page struct {
			Tags []struct {
				Name string `json:"name"`
			} `json:"tags"`
		}
		_ = json.Unmarshal(body, &page)
		for _, tg := range page.Tags {
			tags = append(tags, tg.Name)
		}
		next = between(resp.Header.Get("Link"), "<", ">")
		if next != "" && !strings.HasPrefix(next, "/acr/v1/ns%2Frepo00/_tags?last=") {
			t.Fatalf("link %q does not keep the escaped name", next)
		}
	}
	if len(tags) != 25 || tags[0] != "t000" || tags[24] != "t024" {
		t.Fatalf("tags = %v", tags)
	}

	// Injected page size caps n.
	s.SetFaults(emulator.Faults{PageSize: 4})
	_, body := c.do(http.MethodGet, "/acr/v1/ns%2Frepo00/_tags?n=100", "")
	if n := strings.Count(string(body), `"name"`); n != 4 {
		t.Fatalf("page size fault: %d tags", n)
	}
}

func TestPushTagRefusesLockedTag(t *testing.T) {
	s := start(t, acr.Options{})
	s.AddTag("app", "v1", true)
	s.AddTag("app", "latest", false)
	before, _ := s.Tag("app", "latest")
	if err := s.PushTag("app", "latest"); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Tag("app", "latest")
	if after.Digest == before.Digest {
		t.Fatal("push did not re-point the unlocked tag")
	}
	if err := s.PushTag("app", "v1"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("push over locked tag: %v", err)
	}
	if err := s.PushTag("app", "new"); err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.Tag("app", "new"); tg.Locked() {
		t.Fatal("a new tag must start unlocked")
	}
	s.SetRepositoryWritable("app", false)
	if err := s.PushTag("app", "other"); !errors.Is(err, acr.ErrRepositoryLocked) {
		t.Fatalf("push to write-locked repository: %v", err)
	}
}

func TestWriteThrottleAndFaults(t *testing.T) {
	s := start(t, acr.Options{WritesPerMinute: 60}) // 1/s, bucket of 10
	for i := range 12 {
		s.AddTag("app", fmt.Sprintf("t%d", i), false)
	}
	c := newRaw(t, s, nil)
	var throttled *http.Response
	for i := range 12 {
		resp, _ := c.do(http.MethodPatch, fmt.Sprintf("/acr/v1/app/_tags/t%d", i), `{"writeEnabled":false}`)
		if resp.StatusCode == 429 {
			throttled = resp
			break
		}
	}
	if throttled == nil || throttled.Header.Get("Retry-After") == "" {
		t.Fatalf("no 429 with Retry-After after the bucket emptied (PATCH ok: %d)", s.Calls().Get("PATCH tag"))
	}
	if got := s.Calls().Get("PATCH tag"); got != 10 {
		t.Fatalf("successful writes before throttling = %d, want 10", got)
	}
	// Reads are not write-throttled.
	if resp, _ := c.do(http.MethodGet, "/acr/v1/app/_tags", ""); resp.StatusCode != 200 {
		t.Fatalf("read throttled: %d", resp.StatusCode)
	}

	s.SetWritesPerMinute(-1)
	s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: 20 * time.Millisecond})
	resp, _ := c.do(http.MethodGet, "/acr/v1/app/_tags", "")
	if resp.StatusCode != 429 || resp.Header.Get("retry-after-ms") != "20" || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("injected throttle: %d %v", resp.StatusCode, resp.Header)
	}
	s.SetFaults(emulator.Faults{ErrorRate: 1})
	if resp, _ := c.do(http.MethodGet, "/acr/v1/app/_tags", ""); resp.StatusCode != 500 {
		t.Fatalf("injected error: %d", resp.StatusCode)
	}
}

func TestDenyAndBadCredentials(t *testing.T) {
	s := start(t, acr.Options{})
	s.AddTag("secret", "v1", false)
	s.Deny("secret")
	c := newRaw(t, s, nil)
	if resp, body := c.do(http.MethodGet, "/acr/v1/secret/_tags", ""); resp.StatusCode != 403 || !strings.Contains(string(body), "DENIED") {
		t.Fatalf("denied repo: %d %s", resp.StatusCode, body)
	}
	c.pass = "wrong"
	if resp, _ := c.do(http.MethodGet, "/acr/v1/_catalog", ""); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
}

type staticCred string

func (c staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestOfficialSDK drives the emulator with azcontainerregistry's own
// challenge policy (Entra ID exchange), unchanged.
func TestOfficialSDK(t *testing.T) {
	check := acrcontract.New(t)
	s := start(t, acr.Options{})
	s.AcceptAADToken("aad-token")
	for i := range 5 {
		s.AddTag("team/app", fmt.Sprintf("v%d", i), i == 0)
	}
	client, err := azcontainerregistry.NewClient(s.URL(), staticCred("aad-token"), &azcontainerregistry.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: check.Transport(s.Client().Transport)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := int32(2)
	pager := client.NewListTagsPager("team/app", &azcontainerregistry.ClientListTagsOptions{MaxNum: &n})
	var names []string
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range page.Tags {
			names = append(names, *tg.Name)
		}
	}
	if len(names) != 5 {
		t.Fatalf("tags = %v", names)
	}
	_, err = client.UpdateTagProperties(t.Context(), "team/app", "v3", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)}})
	if err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.Tag("team/app", "v3"); !tg.Locked() {
		t.Fatal("v3 not locked through the SDK")
	}
	_, err = client.GetTagProperties(t.Context(), "team/app", "ghost", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("missing tag via SDK: %v", err)
	}
	if got := s.Calls().Get("POST oauth2/exchange"); got != 1 {
		t.Errorf("refresh token exchanges = %d, want 1 (cached)", got)
	}
	for _, p := range check.Problems() {
		t.Error(p)
	}
}

func TestHundredThousandTags(t *testing.T) {
	s := start(t, acr.Options{})
	start := time.Now()
	for i := range 100_000 {
		s.AddTag("big", fmt.Sprintf("t%06d", 99_999-i), i%7 == 0)
	}
	c := newRaw(t, s, nil)
	resp, body := c.do(http.MethodGet, "/acr/v1/big/_tags?n=100&last=t099950", "")
	if resp.StatusCode != 200 || strings.Count(string(body), `"name"`) != 49 {
		t.Fatalf("tail page: %d, %d tags", resp.StatusCode, strings.Count(string(body), `"name"`))
	}
	if total, locked := s.Counts("big"); total != 100_000 || locked != 14_286 {
		t.Fatalf("counts = %d/%d", locked, total)
	}
	// Speed is measured in the benchmarks, not asserted here.
	t.Logf("100,000 tags: %v", time.Since(start).Round(time.Millisecond))
}

func TestDemo(t *testing.T) {
	d, err := acr.StartDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := d.Provider()
	env := d.Env()
	if p.Kind != "acr" || len(p.Settings.(config.Keys)["registries"].([]string)) != 1 || p.TLS.CAFile == "" || env[p.Credentials.UsernameEnv] == "" || env[p.Credentials.PasswordEnv] == "" {
		t.Fatalf("provider %+v env %v", p, env)
	}
	srv := acr.DemoServer(d)
	for repo, want := range map[string][2]int{
		acr.DemoRepoLocked: {3, 3}, acr.DemoRepoPartial: {5, 3}, acr.DemoRepoUnlocked: {4, 0}, acr.DemoRepoEmpty: {0, 0},
	} {
		if total, locked := srv.Counts(repo); total != want[0] || locked != want[1] {
			t.Errorf("%s: %d/%d, want %d/%d", repo, locked, total, want[1], want[0])
		}
	}
	scope, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(t.Context(), scope, repo, tag); err != nil {
		t.Fatalf("overwrite before the fix: %v", err)
	}
	srv.AddTag(repo, tag, true)
	if err := d.PushTag(t.Context(), scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after locking: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
