package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/acr"
)

func newACR(t *testing.T, o emu.Options) *emu.Loopback {
	t.Helper()
	srv, err := emu.ServeLoopback(emu.New(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddUser("ci", "pw")
	return srv
}

// acrAdapter builds the real ACR adapter against the emulator, as
// catalog.Build would from this config entry.
func acrAdapter(t *testing.T, srv *emu.Loopback) providers.Provider {
	t.Helper()
	env := map[string]string{"T_ACR_USER": "ci", "T_ACR_PASSWORD": "pw"}
	cfg := config.Provider{Name: "acr-e2e", Kind: providers.KindACR, Settings: config.Keys{"registries": []string{srv.LoginServer()}},
		Credentials: config.Credentials{UsernameEnv: "T_ACR_USER", PasswordEnv: "T_ACR_PASSWORD"},
		Rate:        config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 4}}
	p, err := acr.New(t.Context(), cfg, providers.Options{Getenv: func(k string) string { return env[k] }, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lockedSet(srv *emu.Loopback, repo string) map[string]bool {
	out := map[string]bool{}
	srv.RangeTags(repo, func(tg emu.Tag) bool {
		out[tg.Name] = tg.Locked()
		return true
	})
	return out
}

// Push a tag, POST the webhook, and the tag is locked at the registry; a
// wrong secret or an oversized body lock nothing.
func TestACRWebhookEndToEnd(t *testing.T) {
	srv := newACR(t, emu.Options{SKU: "Premium", WritesPerMinute: -1})
	srv.AddTag("team/web", "1.0", false)
	srv.AddTag("team/web", "1.1", false)
	srv.AddTag("base/alpine", "3.20", true)
	p := acrAdapter(t, srv)
	_, tagLocker := p.(TagLocker)

	o := testOptions(t, p)
	o.WebhookSecret = testSecret
	o.ACRRegistries = map[string]string{srv.LoginServer(): "acr-e2e"}
	sig, scans := scanSignal()
	bsig, batches := batchSignal()
	r := startService(t, o, sig, bsig)
	waitFor(t, scans, "first scan")

	if err := srv.PushTag("team/web", "2.0"); err != nil {
		t.Fatal(err)
	}
	event := pushEvent(srv.LoginServer(), "team/web", "2.0")
	if got := post(t, r.url, "not-the-secret", event, false); got != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", got)
	}
	big := event + string(make([]byte, MaxWebhookBody))
	if got := post(t, r.url, testSecret, big, false); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", got)
	}
	if got := post(t, r.url, testSecret, big, true); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized chunked body: %d, want 413", got)
	}
	// Refused requests queue nothing: no batch, nothing pending, tag unlocked.
	if got := mustValue(t, scrape(t, r.url), MetricWebhookPending, nil); got != 0 {
		t.Fatalf("%v tags pending after refused requests", got)
	}
	select {
	case b := <-batches:
		t.Fatalf("a refused request started a batch %v", b)
	default:
	}
	if tg, _ := srv.Tag("team/web", "2.0"); tg.Locked() {
		t.Fatal("tag locked by a refused request")
	}

	if got := post(t, r.url, testSecret, event, false); got != http.StatusAccepted {
		t.Fatalf("webhook: %d, want 202", got)
	}
	waitFor(t, batches, "lock batch")
	if tg, ok := srv.Tag("team/web", "2.0"); !ok || !tg.Locked() || tg.DeleteEnabled {
		t.Fatalf("pushed tag not locked: %+v", tg)
	}
	if err := srv.PushTag("team/web", "2.0"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after the webhook: %v, want refused", err)
	}
	before := lockedSet(srv, "team/web")
	if tagLocker {
		// Only the pushed tag: older tags wait for the sweep.
		if before["1.0"] || before["1.1"] {
			t.Fatalf("TagLocker locked more than the pushed tag: %v", before)
		}
	} else if !before["1.0"] || !before["1.1"] {
		// The fallback fixes the whole repository.
		t.Fatalf("repository fallback left tags unlocked: %v", before)
	}
	mfs := scrape(t, r.url)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	srv.WaitIdle()

	// Journal and registry agree: every journaled lock is a locked tag, and
	// every tag locked since the seed has a journaled lock.
	journaled := map[string]bool{}
	for _, e := range readJournal(t, o.Journal) {
		if e.Event == "write" && e.Error == "" {
			journaled[e.Repository+":"+e.Target] = true
		}
	}
	for tag, locked := range lockedSet(srv, "team/web") {
		if locked != journaled["team/web:"+tag] {
			t.Errorf("team/web:%s locked=%v journaled=%v", tag, locked, journaled["team/web:"+tag])
		}
	}
	if got := mustValue(t, mfs, MetricACRTagsLocked, map[string]string{"provider": "acr-e2e", "source": "webhook"}); int(got) != len(journaled) {
		t.Errorf("tags locked metric %v, journal has %d", got, len(journaled))
	}
}

// hookEnforcer passes a provider through and calls onWrite after the first
// write any Apply reports.
type hookEnforcer struct {
	providers.Provider
	e       providers.Enforcer
	once    sync.Once
	onWrite func()
}

func (h *hookEnforcer) Plan(ctx context.Context, r providers.Repository, p providers.FixPolicy) (providers.Change, error) {
	return h.e.Plan(ctx, r, p)
}

func (h *hookEnforcer) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	return h.e.Apply(ctx, c, &hookObserver{o: o, h: h})
}

type hookObserver struct {
	o providers.Observer
	h *hookEnforcer
}

func (o *hookObserver) Write(c providers.Change, w providers.WriteRecord) {
	o.o.Write(c, w)
	o.h.once.Do(o.h.onWrite)
}

func (o *hookObserver) Progress(c providers.Change, done, total int64) { o.o.Progress(c, done, total) }

// Cancelling the service (SIGTERM) during an enforcement pass leaves the
// journal consistent with the registry. With time to finish, the changes
// already running complete and no further change starts; with no time,
// running writes are cut off and journaled with their outcome unknown.
func TestEnforceShutdownJournalConsistent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"graceful", 30 * time.Second}, {"timeout", time.Nanosecond}} {
		t.Run(tc.name, func(t *testing.T) {
			const repos, tags, conc = 8, 6, 2
			srv := newACR(t, emu.Options{SKU: "Premium", WritesPerMinute: -1,
				Faults: emulator.Faults{Latency: time.Millisecond}})
			for i := range repos {
				for j := range tags {
					srv.AddTag(fmt.Sprintf("app%d", i), fmt.Sprintf("v%d", j), false)
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p := acrAdapter(t, srv)
			hp := &hookEnforcer{Provider: p, e: p.(providers.Enforcer), onWrite: cancel}

			o := testOptions(t, hp)
			o.Enforce = true
			o.Concurrency = conc
			o.ShutdownTimeout = tc.grace
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			o.Listener = ln
			svc, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			srv.WaitIdle()

			type key struct{ repo, tag string }
			written, unknown := map[key]bool{}, map[key]bool{}
			for _, e := range readJournal(t, o.Journal) {
				switch e.Event {
				case "write":
					written[key{e.Repository, e.Target}] = true
				case "failed":
					if e.Target != "" && e.Call != "" {
						unknown[key{e.Repository, e.Target}] = true
					}
				}
			}
			locked := map[key]bool{}
			touched := map[string]bool{}
			for i := range repos {
				repo := fmt.Sprintf("app%d", i)
				for tag, l := range lockedSet(srv, repo) {
					if l {
						locked[key{repo, tag}] = true
						touched[repo] = true
					}
				}
			}
			t.Logf("journaled locks %d, unknown outcomes %d, locked at registry %d, repositories touched %d",
				len(written), len(unknown), len(locked), len(touched))
			if len(written) == 0 {
				t.Fatal("no write was journaled: the pass was not interrupted mid-way")
			}
			// Every journaled write is visible at the registry.
			for k := range written {
				if !locked[k] {
					t.Errorf("journal says %s:%s was locked; the registry says it is not", k.repo, k.tag)
				}
			}
			// Every lock at the registry is in the journal.
			for k := range locked {
				if !written[k] && !unknown[k] {
					t.Errorf("%s:%s is locked at the registry but not journaled", k.repo, k.tag)
				}
			}
			if len(touched) > conc {
				t.Errorf("%d repositories changed after the stop, at most %d were running: %v", len(touched), conc, touched)
			}
			if tc.name == "graceful" {
				// Running changes finished: no unknown outcomes, whole repositories locked.
				if len(unknown) != 0 {
					t.Errorf("graceful stop left unknown outcomes: %v", unknown)
				}
				for repo := range touched {
					for tag, l := range lockedSet(srv, repo) {
						if !l {
							t.Errorf("%s:%s left unlocked: a running change was not allowed to finish", repo, tag)
						}
					}
				}
				if len(written) != len(locked) {
					t.Errorf("journal has %d locks, registry %d", len(written), len(locked))
				}
			}

			// The report records what was applied and what never started.
			b, err := os.ReadFile(svc.hist.latestPath())
			if err != nil {
				t.Fatalf("report: %v", err)
			}
			var rep reportJSON
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			states := map[string]int{}
			for _, c := range rep.Changes {
				states[c.State]++
			}
			if len(rep.Changes) != repos || states["not-applied"] < repos-conc {
				t.Errorf("report changes by state %v, want %d changes with at least %d not applied", states, repos, repos-conc)
			}
		})
	}
}
