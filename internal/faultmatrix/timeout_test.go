package faultmatrix

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
)

// TestRunTimeout: issue 12 case 8. A registry that never answers cannot
// hold a run past --timeout: audit stops and exits 2; fix --apply stops
// and exits 1 with the write in flight journaled (intent and outcome).
func TestRunTimeout(t *testing.T) {
	fx := startHub(t)
	fx.px.add(&rule{match: on(fx.bad, opList), do: fx.px.stall()})
	cfg := writeConfig(t, config.Policy{}, fx.providers...)
	r := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: []string{"audit", "-o", "json", "--timeout", "500ms"}})
	if r.code != 2 || !strings.Contains(r.err.Error(), "--timeout 500ms reached") {
		t.Errorf("audit past --timeout: exit %d, err %v; want 2 naming --timeout", r.code, r.err)
	}

	// fix: the scan is fine, the write stalls.
	fx2 := startHub(t)
	fx2.px.add(&rule{match: onOp(opWrite), do: fx2.px.stall()})
	cfg2 := writeConfig(t, config.Policy{}, fx2.providers...)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	r = run(t, t.Context(), invocation{cfg: cfg2, env: fx2.env, args: []string{"fix", "--apply", "--yes", "--journal", journal, "-o", "json", "--timeout", "2s"}})
	if r.code != 1 || !strings.Contains(r.err.Error(), "--timeout 2s reached") {
		t.Errorf("fix past --timeout: exit %d, err %v; want 1 naming --timeout", r.code, r.err)
	}
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	j := string(b)
	if !strings.Contains(j, `"event":"intent"`) || !strings.Contains(j, `"event":"failed"`) || !strings.Contains(j, repoDrift) {
		t.Errorf("the write in flight is not journaled with its intent and outcome:\n%s", j)
	}
}

// TestHubSignInRedirectRefused: issue 12 case 1 as found. Docker Hub's
// sign-in (POST /v2/auth/token) answered 307 to another host; the client
// re-sent the username and access token there and used the token it got
// back. Now the sign-in fails, the other host sees nothing, and no scope
// is graded.
func TestHubSignInRedirectRefused(t *testing.T) {
	fx := startHub(t)
	ev := newEvil(t)
	fx.px.add(&rule{match: onOp(opToken), do: func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Location", ev.srv.URL+"/v2/auth/token")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}})
	cfg := writeConfig(t, config.Policy{}, fx.providers...)
	r := run(t, t.Context(), invocation{cfg: cfg, env: fx.env, args: []string{"audit", "-o", "json"}})
	if hits := ev.requests(); len(hits) > 0 {
		t.Fatalf("the sign-in followed the redirect: %v", hits)
	}
	// No scope at all could be read: the run cannot run (exit 1), it is
	// not merely incomplete.
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, s := range r.rep.Scopes {
		if s.Status != "error" || !strings.Contains(s.Error, "redirect") || !strings.Contains(s.Error, ev.srv.URL) {
			t.Errorf("scope %s: %s %q, want an error naming the redirect to %s", s.Scope, s.Status, s.Error, ev.srv.URL)
		}
	}
	if len(r.rep.Findings) != 0 {
		t.Errorf("%d findings graded without a valid sign-in", len(r.rep.Findings))
	}
}
