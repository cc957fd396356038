package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

const testRegistry = "contoso.azurecr.io"

// lockerProvider is a fake ACR provider with the TagLocker capability.
type lockerProvider struct {
	*fake.Provider
	mu     sync.Mutex
	locked []string // repo:tag in call order
	active map[string]int
	// gate, when set, holds each LockTag until a value is received.
	gate chan struct{}
	// called, when set, is told each repo:tag as LockTag starts.
	called chan string
}

var _ TagLocker = (*lockerProvider)(nil)

func newLocker() *lockerProvider {
	return &lockerProvider{Provider: fake.New("acr-prod", providers.KindACR), active: map[string]int{}}
}

func (l *lockerProvider) LockTag(ctx context.Context, registry, repo, tag string, o providers.Observer) (providers.Result, error) {
	if l.called != nil {
		l.called <- repo + ":" + tag
	}
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return providers.Result{}, ctx.Err()
		}
	}
	l.mu.Lock()
	l.locked = append(l.locked, repo+":"+tag)
	l.mu.Unlock()
	c := providers.Change{Provider: l.NameV, Kind: providers.KindACR, Scope: registry, Repository: repo, Target: "tag " + tag}
	o.Write(c, providers.WriteRecord{Call: "UpdateTagProperties", Target: tag, Before: "writeEnabled=true", After: "writeEnabled=false"})
	return providers.Result{Writes: 1, Verified: true, After: providers.Immutability{Mode: providers.ModeImmutable}}, nil
}

func (l *lockerProvider) lockedTags() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.locked)
}

func pushEvent(host, repo, tag string) string {
	return fmt.Sprintf(`{"id":"e-%s","timestamp":"2026-11-26T12:00:00.000Z","action":"push",`+
		`"target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":524,"digest":"sha256:0f3e","length":524,"repository":%q,"tag":%q},`+
		`"request":{"id":"r1","host":%q,"method":"PUT","useragent":"docker/27.3.1"}}`, tag, repo, tag, host)
}

// post sends body to the webhook; chunked hides its length (no
// Content-Length), so the server cannot reject it before reading.
func post(t *testing.T, url, secret string, body string, chunked bool) int {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(strings.NewReader(body)) // hides the length from net/http
	}
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/acr", r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(WebhookSecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func webhookOptions(t *testing.T, provs ...providers.Provider) Options {
	o := testOptions(t, provs...)
	o.WebhookSecret = testSecret
	o.ACRRegistries = map[string]string{"https://Contoso.azurecr.io/": "acr-prod"}
	return o
}

func TestWebhookRequests(t *testing.T) {
	l := newLocker()
	o := webhookOptions(t, l)
	bsig, batches := batchSignal()
	r := startService(t, o, bsig)
	big := pushEvent(testRegistry, "team/app", "v1") + strings.Repeat(" ", MaxWebhookBody)
	cases := []struct {
		name    string
		secret  string
		body    string
		chunked bool
		method  string
		want    int
		result  string
	}{
		{"no secret", "", pushEvent(testRegistry, "team/app", "nosecret"), false, "", http.StatusUnauthorized, webhookResultUnauthorized},
		{"wrong secret", "hunter2", pushEvent(testRegistry, "team/app", "wrong"), false, "", http.StatusUnauthorized, webhookResultUnauthorized},
		{"wrong secret same length", strings.Repeat("x", len(testSecret)), pushEvent(testRegistry, "team/app", "wrong2"), false, "", http.StatusUnauthorized, webhookResultUnauthorized},
		{"secret prefix", testSecret[:len(testSecret)-1], pushEvent(testRegistry, "team/app", "prefix"), false, "", http.StatusUnauthorized, webhookResultUnauthorized},
		{"too large", testSecret, big, false, "", http.StatusRequestEntityTooLarge, webhookResultTooLarge},
		{"too large chunked", testSecret, big, true, "", http.StatusRequestEntityTooLarge, webhookResultTooLarge},
		{"not json", testSecret, "push v1", false, "", http.StatusBadRequest, webhookResultInvalid},
		{"bad tag", testSecret, pushEvent(testRegistry, "team/app", "-bad tag"), false, "", http.StatusBadRequest, webhookResultInvalid},
		{"bad repository", testSecret, pushEvent(testRegistry, "../etc", "v1"), false, "", http.StatusBadRequest, webhookResultInvalid},
		{"other registry", testSecret, pushEvent("evil.azurecr.io", "team/app", "v9"), false, "", http.StatusOK, webhookResultIgnoredReg},
		{"delete event", testSecret, strings.Replace(pushEvent(testRegistry, "team/app", "v1"), `"push"`, `"delete"`, 1), false, "", http.StatusOK, webhookResultIgnoredEvent},
		{"push by digest", testSecret, pushEvent(testRegistry, "team/app", ""), false, "", http.StatusOK, webhookResultIgnoredTag},
		{"ping", testSecret, strings.Replace(pushEvent(testRegistry, "team/app", "v1"), `"push"`, `"ping"`, 1), false, "", http.StatusOK, ""},
		{"push", testSecret, pushEvent("CONTOSO.azurecr.io:443", "team/app", "v1.2.3"), false, "", http.StatusAccepted, webhookResultQueued},
	}
	for _, tc := range cases {
		if got := post(t, r.url, tc.secret, tc.body, tc.chunked); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if code, _ := get(t, r.url+"/webhooks/acr"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET webhook: %d, want 405", code)
	}
	if got := waitFor(t, batches, "lock batch"); !slices.Equal(got, []string{"v1.2.3"}) {
		t.Fatalf("batch %v", got)
	}
	mfs := scrape(t, r.url)
	want := map[string]int{}
	for _, tc := range cases {
		if tc.result != "" {
			want[tc.result]++
		}
	}
	for result, n := range want {
		if got := mustValue(t, mfs, MetricWebhookEvents, map[string]string{"result": result}); int(got) != n {
			t.Errorf("webhook events %s = %v, want %d", result, got, n)
		}
	}
	if got := mustValue(t, mfs, MetricACRTagsLocked, map[string]string{"provider": "acr-prod", "source": "webhook"}); got != 1 {
		t.Errorf("tags locked by webhook %v, want 1", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// Only the authenticated, valid push locked anything.
	if got := l.lockedTags(); !slices.Equal(got, []string{"team/app:v1.2.3"}) {
		t.Fatalf("locked %v, want only team/app:v1.2.3", got)
	}
	var writes int
	for _, e := range readJournal(t, o.Journal) {
		if e.Event == "write" {
			writes++
			if e.Repository != "team/app" || e.Target != "v1.2.3" || e.Scope != "contoso.azurecr.io" {
				t.Errorf("journal entry %+v", e)
			}
		}
	}
	if writes != 1 {
		t.Fatalf("%d journaled writes, want 1", writes)
	}
}

// A burst of pushes to one repository is locked in batches: while one batch
// runs, later pushes gather (duplicates once) into the next.
func TestWebhookCoalescesPerRepository(t *testing.T) {
	l := newLocker()
	l.gate = make(chan struct{})
	l.called = make(chan string, 100)
	o := webhookOptions(t, l)
	bsig, batches := batchSignal()
	r := startService(t, o, bsig)

	if got := post(t, r.url, testSecret, pushEvent(testRegistry, "team/app", "v1"), false); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	if got := waitFor(t, l.called, "first lock"); got != "team/app:v1" {
		t.Fatalf("first lock %s", got)
	}
	// v1's batch is held at the gate; these all wait for the next one.
	for _, tag := range []string{"v2", "v3", "v2", "v3", "v4"} {
		if got := post(t, r.url, testSecret, pushEvent(testRegistry, "team/app", tag), false); got != http.StatusAccepted {
			t.Fatalf("%s: status %d", tag, got)
		}
	}
	if got := mustValue(t, scrape(t, r.url), MetricWebhookPending, nil); got != 3 {
		t.Fatalf("pending tags %v, want 3 (v2, v3, v4 once each)", got)
	}
	l.gate <- struct{}{}
	if got := waitFor(t, batches, "first batch"); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("first batch %v", got)
	}
	for range 3 {
		waitFor(t, l.called, "lock")
		l.gate <- struct{}{}
	}
	if got := waitFor(t, batches, "second batch"); !slices.Equal(got, []string{"v2", "v3", "v4"}) {
		t.Fatalf("second batch %v, want [v2 v3 v4]", got)
	}
	select {
	case b := <-batches:
		t.Fatalf("unexpected third batch %v", b)
	default:
	}
	got := l.lockedTags()
	slices.Sort(got)
	if !slices.Equal(got, []string{"team/app:v1", "team/app:v2", "team/app:v3", "team/app:v4"}) {
		t.Fatalf("locked %v", got)
	}
}

func TestWebhookBusy(t *testing.T) {
	l := newLocker()
	l.gate = make(chan struct{})
	l.called = make(chan string, 100)
	o := webhookOptions(t, l)
	o.MaxPending = 2
	r := startService(t, o)
	post(t, r.url, testSecret, pushEvent(testRegistry, "a", "v1"), false)
	waitFor(t, l.called, "first lock")
	for _, tag := range []string{"v2", "v3"} {
		if got := post(t, r.url, testSecret, pushEvent(testRegistry, "a", tag), false); got != http.StatusAccepted {
			t.Fatalf("%s: %d", tag, got)
		}
	}
	if got := post(t, r.url, testSecret, pushEvent(testRegistry, "a", "v3"), false); got != http.StatusAccepted {
		t.Fatalf("a duplicate of a pending tag must not count against the bound: %d", got)
	}
	if got := post(t, r.url, testSecret, pushEvent(testRegistry, "b", "v1"), false); got != http.StatusServiceUnavailable {
		t.Fatalf("over the bound: %d, want 503", got)
	}
	close(l.gate)
}

func TestWebhookExemptRepository(t *testing.T) {
	l := newLocker()
	o := webhookOptions(t, l)
	o.Policy = config.Policy{Exemptions: []config.Exemption{{Provider: "acr-prod", Repository: "sandbox/*", Reason: "scratch"}}}
	r := startService(t, o)
	if got := post(t, r.url, testSecret, pushEvent(testRegistry, "sandbox/tmp", "v1"), false); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if got := mustValue(t, scrape(t, r.url), MetricWebhookEvents, map[string]string{"result": webhookResultExempt}); got != 1 {
		t.Fatalf("exempt events %v", got)
	}
	r.stop(t)
	if got := l.lockedTags(); len(got) != 0 {
		t.Fatalf("locked %v in an exempt repository", got)
	}
}

// Without TagLocker the adapter's own Plan/Apply locks the repository.
func TestWebhookFallsBackToRepositoryFix(t *testing.T) {
	p := fake.New("acr-prod", providers.KindACR).Add(testRegistry, fake.Repo{Name: "team/app", Immutability: imm(providers.ModeMutable)})
	o := webhookOptions(t, p)
	bsig, batches := batchSignal()
	r := startService(t, o, bsig)
	if got := post(t, r.url, testSecret, pushEvent(testRegistry, "team/app", "v1"), false); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	waitFor(t, batches, "batch")
	if m, _ := p.Get(testRegistry, "team/app"); m.Mode != providers.ModeImmutable {
		t.Fatalf("repository not locked: %v", m)
	}
	r.stop(t)
	if n := len(readJournal(t, o.Journal)); n != 3 {
		t.Fatalf("%d journal entries, want an intent, a write and its verification", n)
	}
}

// A pushed tag that policy.mutable_tags_allowed lets move is not locked: a
// pipeline that re-pushes latest keeps working; other tags are locked.
func TestWebhookLeavesAllowedTagsUnlocked(t *testing.T) {
	l := newLocker()
	o := webhookOptions(t, l)
	o.Policy = config.Policy{MutableTagsAllowed: []string{"latest", "dev-*"}}
	bsig, batches := batchSignal()
	r := startService(t, o, bsig)
	for _, tag := range []string{"latest", "dev-42", "v2.0.0"} {
		if got := post(t, r.url, testSecret, pushEvent(testRegistry, "team/app", tag), false); got != http.StatusAccepted {
			t.Fatalf("%s: status %d", tag, got)
		}
		waitFor(t, batches, "batch "+tag)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := l.lockedTags(); !slices.Equal(got, []string{"team/app:v2.0.0"}) {
		t.Fatalf("locked %v, want only the release tag", got)
	}
}
