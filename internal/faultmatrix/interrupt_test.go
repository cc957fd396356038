package faultmatrix

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
)

// interruptFix is one kind seeded with several independent fixes, each a
// separate write target, behind a front that counts writes per target.
type interruptFix struct {
	fixture
	// targets are the write targets (repository, tag, project) the fix must change.
	targets []string
	// changed reads the registry: is target fixed?
	changed func(target string) bool
	// ofWire and ofJournal map a write request and a journal entry to a target.
	ofWire    func(w wire) string
	ofJournal func(e audit.JournalEntry) string
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func interruptECR(t *testing.T) *interruptFix {
	fx := startECR(t)
	acct, region := ecremu.DefaultAccount, "us-east-1"
	s := fx.ecrSrv
	repos := names("fix/r", 5)
	for _, n := range repos {
		if err := s.CreateRepository(acct, region, n, ecremu.Mutable); err != nil {
			t.Fatal(err)
		}
	}
	return &interruptFix{fixture: *fx, targets: append(repos, repoDrift),
		changed: func(n string) bool {
			st, ok := s.Repository(acct, region, n)
			return ok && st.Mutability == ecremu.Immutable
		},
		ofWire:    func(w wire) string { return w.Repo },
		ofJournal: func(e audit.JournalEntry) string { return e.Repository },
	}
}

func interruptAR(t *testing.T) *interruptFix {
	fx := startAR(t)
	repos := names("fix-r", 5)
	for _, n := range repos {
		if err := fx.ar.CreateRepository(arProject, "us-central1", n, aremu.ModeStandard, false); err != nil {
			t.Fatal(err)
		}
	}
	return &interruptFix{fixture: *fx, targets: append(repos, repoDrift),
		changed: func(n string) bool {
			r, ok := fx.ar.Repository(arProject, "us-central1", n)
			return ok && r.ImmutableTags
		},
		ofWire:    func(w wire) string { return w.Repo },
		ofJournal: func(e audit.JournalEntry) string { return e.Repository },
	}
}

func interruptACR(t *testing.T) *interruptFix {
	s, err := acremu.ServeLoopback(acremu.New(acremu.Options{SKU: "Premium"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const user, pass = "fm-acr-user", "acr-interrupt-secret"
	s.AddUser(user, pass)
	var targets []string
	for _, repo := range []string{"svc/one", "svc/two"} {
		for _, tag := range names("v", 6) {
			s.AddTag(repo, tag, false)
			targets = append(targets, repo+":"+tag)
		}
	}
	px := newProxy(t, s.URL(), s.Client().Transport, func(r *http.Request) wire {
		if m := acrPath.FindStringSubmatch(r.URL.EscapedPath()); m != nil && r.Method == http.MethodPatch {
			return wire{Scope: s.LoginServer(), Op: opWrite, Repo: unescape(m[1]) + ":" + unescape(m[2])}
		}
		return wire{Scope: s.LoginServer(), Op: opOther}
	})
	return &interruptFix{
		fixture: fixture{kind: providers.KindACR, px: px, env: map[string]string{"FM_ACR_USER": user, "FM_ACR_PASSWORD": pass},
			providers: []config.Provider{{Name: "acr", Kind: providers.KindACR, Settings: config.Keys{"registries": []string{s.LoginServer()}}, Endpoint: px.URL(),
				Credentials: config.Credentials{UsernameEnv: "FM_ACR_USER", PasswordEnv: "FM_ACR_PASSWORD"},
				// Without ARM access the SKU is unknown and the adapter assumes
				// Basic (100 writes/min); the emulator is Premium.
				Rate: config.Rate{RequestsPerSecond: 30}}}},
		targets: targets,
		changed: func(t string) bool {
			repo, tag, _ := strings.Cut(t, ":")
			tg, ok := s.Tag(repo, tag)
			return ok && tg.Locked()
		},
		ofWire:    func(w wire) string { return w.Repo },
		ofJournal: func(e audit.JournalEntry) string { return e.Repository + ":" + e.Target },
	}
}

func interruptHub(t *testing.T) *interruptFix {
	fx := startHub(t)
	s := fx.hubSrv
	repos := names("fix-r", 5)
	for _, n := range repos {
		if err := s.AddRepository(hubemu.Repository{Namespace: "good", Name: n, Private: true}); err != nil {
			t.Fatal(err)
		}
	}
	return &interruptFix{fixture: *fx, targets: append(repos, repoDrift),
		changed: func(n string) bool {
			en, rules, ok := s.Settings("good", n)
			return ok && en && slices.Contains(rules, ".*")
		},
		ofWire:    func(w wire) string { return w.Repo },
		ofJournal: func(e audit.JournalEntry) string { return e.Repository },
	}
}

func interruptQuay(t *testing.T) *interruptFix {
	const token = "quay-interrupt-secret"
	s := quayemu.New(quayemu.Options{Token: token})
	// A user namespace: its repositories are fixed one by one (an
	// organisation would take a single organisation-wide policy).
	s.AddUser("alice")
	repos := names("fix-r", 5)
	for _, n := range repos {
		if err := s.AddRepo("alice", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		if m := quayRepoPath.FindStringSubmatch(r.URL.EscapedPath()); m != nil && r.Method == http.MethodPost {
			return wire{Scope: unescape(m[1]), Op: opWrite, Repo: unescape(m[2])}
		}
		return wire{Op: opOther}
	})
	return &interruptFix{
		fixture: fixture{kind: providers.KindQuay, px: px, env: map[string]string{"FM_QUAY_TOKEN": token},
			providers: []config.Provider{{Name: "quay", Kind: providers.KindQuay, Endpoint: px.URL(), Settings: config.Keys{"namespaces": []string{"alice"}},
				Credentials: config.Credentials{TokenEnv: "FM_QUAY_TOKEN"}}}},
		targets: repos,
		changed: func(n string) bool {
			return slices.ContainsFunc(s.RepoPolicies("alice", n), func(p quayemu.Policy) bool { return p.TagPattern == ".*" && p.TagPatternMatches })
		},
		ofWire:    func(w wire) string { return w.Repo },
		ofJournal: func(e audit.JournalEntry) string { return e.Repository },
	}
}

func interruptHarbor(t *testing.T) *interruptFix {
	const user, pass = "robot$interrupt", "harbor-interrupt-secret"
	s := harboremu.New(harboremu.Options{Username: user, Password: pass})
	// Harbor's fix is one rule per project: one project per target.
	projects := names("team", 4)
	ids := map[string]string{}
	for _, p := range projects {
		ids[fmt.Sprint(s.AddProject(p, false))] = p
		if err := s.AddRepo(p, "app", "v1"); err != nil {
			t.Fatal(err)
		}
	}
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	px := newProxy(t, sWeb.URL, nil, func(r *http.Request) wire {
		if m := harborProject.FindStringSubmatch(r.URL.EscapedPath()); m != nil && m[2] == "/immutabletagrules" && r.Method != http.MethodGet {
			return wire{Op: opWrite, Repo: m[1]} // the project id; mapped below
		}
		return wire{Op: opOther}
	})
	return &interruptFix{
		fixture: fixture{kind: providers.KindHarbor, px: px, env: map[string]string{"FM_HARBOR_USER": user, "FM_HARBOR_PASSWORD": pass},
			providers: []config.Provider{{Name: "harbor", Kind: providers.KindHarbor, Endpoint: px.URL(), Settings: config.Keys{"projects": projects},
				Credentials: config.Credentials{UsernameEnv: "FM_HARBOR_USER", PasswordEnv: "FM_HARBOR_PASSWORD"}}}},
		targets: projects,
		changed: func(p string) bool {
			return slices.ContainsFunc(s.Rules(p), func(r harboremu.Rule) bool {
				return !r.Disabled && harboremu.Immutable([]harboremu.Rule{r}, "app", "any-tag")
			})
		},
		ofWire:    func(w wire) string { return ids[w.Repo] },
		ofJournal: func(e audit.JournalEntry) string { return e.Scope },
	}
}

func unescape(s string) string {
	out, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return out
}

// TestInterruptedFixIsResumable cancels `fix --apply` (what SIGINT does
// through main's signal context) right after the first write reached the
// registry, for every kind. The journal and the registry must then agree,
// and the next run must finish the job writing only what is still missing.
func TestInterruptedFixIsResumable(t *testing.T) {
	cases := []struct {
		kind  providers.Kind
		start func(*testing.T) *interruptFix
	}{
		{providers.KindECR, interruptECR},
		{providers.KindArtifactRegistry, interruptAR},
		{providers.KindACR, interruptACR},
		{providers.KindDockerHub, interruptHub},
		{providers.KindQuay, interruptQuay},
		{providers.KindHarbor, interruptHarbor},
	}
	var wg sync.WaitGroup
	for _, tc := range cases {
		// answered: the signal lands just after the first write was answered.
		// in-flight: it lands while the write is on the wire, and the
		// registry applies it anyway: the client cannot know the outcome.
		for _, inFlight := range []bool{false, true} {
			name := string(tc.kind) + "/answered"
			if inFlight {
				name = string(tc.kind) + "/in-flight"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(name, func(t *testing.T) { runInterrupt(t, tc.start(t), inFlight) })
			}()
		}
	}
	wg.Wait()
}

func runInterrupt(t *testing.T, fx *interruptFix, inFlight bool) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	writes := func() map[string]int {
		m := map[string]int{}
		count := func(w wire) bool { return w.Op == opWrite }
		if fx.gp != nil {
			fx.gp.mu.Lock()
			defer fx.gp.mu.Unlock()
			for w, n := range fx.gp.counts {
				if count(w) {
					m[fx.ofWire(w)] += n
				}
			}
			return m
		}
		fx.px.mu.Lock()
		defer fx.px.mu.Unlock()
		for w, n := range fx.px.counts {
			if count(w) {
				m[fx.ofWire(w)] += n
			}
		}
		return m
	}
	// delivered is closed once the first write reached the emulator: with
	// the signal in flight that happens after the client gave up.
	delivered := make(chan struct{})
	if fx.gp != nil {
		fx.gp.add(&grpcRule{match: onOp(opWrite), times: 1, do: func(_ string, req []byte, fwd func([]byte) ([]byte, error)) ([]byte, error) {
			defer close(delivered)
			if inFlight {
				cancel()
				time.Sleep(20 * time.Millisecond) // let the client give up first
				return fwd(req)
			}
			out, err := fwd(req)
			cancel()
			return out, err
		}})
	} else {
		fx.px.add(&rule{match: onOp(opWrite), times: 1, do: func(w http.ResponseWriter, r *http.Request, up http.Handler) {
			defer close(delivered)
			if inFlight {
				// The body is read before the client hangs up: after, the
				// server closes it and the forwarded PATCH would arrive cut
				// (unexpected EOF) on a loaded machine.
				peekBody(r)
				cancel()
				time.Sleep(20 * time.Millisecond)
				// A recorder, not w: the reverse proxy would cancel the
				// forwarded call when it sees the client hang up.
				up.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithoutCancel(r.Context())))
				return
			}
			up.ServeHTTP(w, r)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			cancel()
		}})
	}
	cfg := writeConfig(t, config.Policy{}, fx.providers...)
	journal := filepath.Join(t.TempDir(), "state", "journal.jsonl")
	fix := []string{"fix", "--apply", "--yes", "--concurrency", "1", "--journal", journal, "-o", "json"}

	r1 := run(t, ctx, invocation{cfg: cfg, env: fx.env, args: fix})
	if r1.code != 130 {
		t.Fatalf("interrupted run: exit %d, want 130 (cancelled); err %v\n%s", r1.code, r1.err, r1.stderr)
	}
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first write never reached the registry")
	}
	// Other writes (ACR locks tags concurrently) may still be landing.
	if fx.gp != nil {
		fx.gp.idle(t, 10*time.Second)
	} else {
		fx.px.idle(t, 10*time.Second)
	}
	changed1 := map[string]bool{}
	for _, tg := range fx.targets {
		if fx.changed(tg) {
			changed1[tg] = true
		}
	}
	if len(changed1) == 0 || len(changed1) == len(fx.targets) {
		t.Fatalf("the interruption should leave the job half done; %d of %d targets changed", len(changed1), len(fx.targets))
	}
	entries := readJournal(t, journal)
	journaled, succeeded := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		switch e.Event {
		case "write":
			succeeded[fx.ofJournal(e)] = true
			journaled[fx.ofJournal(e)] = true
		case "failed":
			if e.Call != "" {
				journaled[fx.ofJournal(e)] = true
			}
		}
	}
	for tg := range changed1 {
		if !journaled[tg] {
			t.Errorf("%s changed in the registry but the journal has no write for it:\n%s", tg, dumpJournal(entries))
		}
	}
	for tg := range succeeded {
		if !changed1[tg] {
			t.Errorf("the journal records a successful write to %s that the registry does not show", tg)
		}
	}

	// The next run completes the job without touching what is done.
	before := writes()
	r2 := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: fix})
	if r2.code != 0 {
		t.Fatalf("resumed run: exit %d err %v\n%s", r2.code, r2.err, r2.stderr)
	}
	after := writes()
	for _, tg := range fx.targets {
		n := after[tg] - before[tg]
		switch {
		case changed1[tg] && n != 0:
			t.Errorf("%s was already fixed but the resumed run wrote it %d time(s)", tg, n)
		case !changed1[tg] && n == 0 && journaled[tg]:
			// Sent by the interrupted run, journaled as outcome unknown, and
			// landed after the snapshot: the resumed run rightly skipped it.
		case !changed1[tg] && n != 1:
			t.Errorf("%s: the resumed run wrote it %d time(s), want 1", tg, n)
		}
		if !fx.changed(tg) {
			t.Errorf("%s not fixed after the resumed run", tg)
		}
	}
	for _, c := range r2.rep.Changes {
		if !c.Verified {
			t.Errorf("resumed change not verified: %+v", c)
		}
	}
	// And the journal still parses, line by line, across both runs.
	if n := len(readJournal(t, journal)); n <= len(entries) {
		t.Errorf("the resumed run journaled nothing (%d lines before, %d after)", len(entries), n)
	}
	r3 := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: []string{"fix", "--apply", "--yes", "--journal", journal, "-o", "json"}})
	if r3.code != 0 || len(r3.rep.Changes) != 0 {
		t.Errorf("third run: exit %d, %d change(s) planned, want none", r3.code, len(r3.rep.Changes))
	}
	t.Logf("interrupted after %d of %d targets; resumed in %s", len(changed1), len(fx.targets), r2.elapsed.Round(time.Millisecond))
}

func readJournal(t *testing.T, path string) []audit.JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	defer f.Close()
	var out []audit.JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journal line %d is not JSON (torn write?): %v: %q", len(out)+1, err, sc.Text())
		}
		if e.RunID == "" || e.Event == "" {
			t.Fatalf("journal line %d lacks run_id or event: %q", len(out)+1, sc.Text())
		}
		out = append(out, e)
	}
	return out
}

func dumpJournal(es []audit.JournalEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s %s %s %s %s %s\n", e.Event, e.Scope, e.Repository, e.Target, e.Call, e.Error)
	}
	return b.String()
}
