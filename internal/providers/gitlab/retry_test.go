package gitlab

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	"github.com/immutag/immutag/internal/providers"
)

// resetFront serves s through a front that resets the connection of the
// first resets[kind] requests of each kind ("list", "query", "mutation")
// and counts every request of each kind it saw.
type resetFront struct {
	mu     sync.Mutex
	resets map[string]int
	seen   map[string]int
}

func kindOf(r *http.Request, body []byte) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/registry/repositories"):
		return "list"
	case r.URL.Path == "/api/graphql" && bytes.Contains(body, []byte("mutation")):
		return "mutation"
	case r.URL.Path == "/api/graphql":
		return "query"
	}
	return "other"
}

func startResetFront(t *testing.T, resets map[string]int) (*resetFront, *glemu.Server, *Provider) {
	t.Helper()
	const token = "glpat-reset-secret"
	s := glemu.New(glemu.Options{Token: token})
	s.AddGroup("grp")
	if err := s.AddProject("grp/app", glemu.Project{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRepo("grp/app", "web", "v1"); err != nil {
		t.Fatal(err)
	}
	f := &resetFront{resets: resets, seen: map[string]int{}}
	web, err := emulator.ServeLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		k := kindOf(r, body)
		f.mu.Lock()
		f.seen[k]++
		reset := f.resets[k] > 0
		if reset {
			f.resets[k]--
		}
		f.mu.Unlock()
		if !reset {
			s.Handler().ServeHTTP(w, r)
			return
		}
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = web.Close() })
	p := providerFor(t, config.Provider{Name: "gl", Kind: Kind, Endpoint: web.URL(),
		Settings: config.Keys{"projects": []string{"grp/app"}}, Credentials: config.Credentials{TokenEnv: "GL_TOKEN"}},
		map[string]string{"GL_TOKEN": token})
	return f, s, p
}

func (f *resetFront) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[kind]
}

// client-go retries a transport error only when it happened before the
// request was written; the adapter retries reads after a reset like every
// other REST kind: the REST listing (GET) and the GraphQL rules query
// (a POST that only reads).
func TestResetReadsAreRetried(t *testing.T) {
	f, _, p := startResetFront(t, map[string]int{"list": 2, "query": 2})
	var c collector
	if err := p.Repositories(context.Background(), providers.Scope{Provider: "gl", Kind: Kind, Name: "grp/app"}, &c); err != nil {
		t.Fatalf("two resets of each read should be retried: %v", err)
	}
	if len(c.repos) != 1 || c.repos[0].Name != "grp/app/web" || c.repos[0].Mode != providers.ModeMutable {
		t.Fatalf("repositories %+v", c.repos)
	}
	// Two resets and the answer; net/http itself may re-send a GET once
	// when a reused connection dies before any answer.
	if n := f.count("query"); n != 3 {
		t.Errorf("%d rules queries, want 3", n)
	}
	if n := f.count("list"); n < 3 || n > 5 {
		t.Errorf("%d listings, want 3..5", n)
	}
}

// A mutation whose connection was reset may have been applied: it is not
// sent again (the next run plans from what GitLab then reports).
func TestResetMutationIsNotResent(t *testing.T) {
	f, s, p := startResetFront(t, map[string]int{"mutation": 1})
	ctx := context.Background()
	var c collector
	if err := p.Repositories(ctx, providers.Scope{Provider: "gl", Kind: Kind, Name: "grp/app"}, &c); err != nil || len(c.repos) != 1 {
		t.Fatalf("list: %v, %+v", err, c.repos)
	}
	ch, err := p.Plan(ctx, c.repos[0], providers.FixPolicy{})
	if err != nil || ch.Noop {
		t.Fatalf("plan: %+v, %v", ch, err)
	}
	if _, err := p.Apply(ctx, ch, nil); err == nil {
		t.Fatal("apply succeeded although its mutation was reset")
	}
	if n := f.count("mutation"); n != 1 {
		t.Errorf("the mutation was sent %d times, want once", n)
	}
	if rules := s.Rules("grp/app"); len(rules) != 0 {
		t.Errorf("rules %+v after a reset mutation", rules)
	}
}
