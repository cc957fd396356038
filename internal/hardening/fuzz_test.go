package hardening

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/harbor"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/quay"
	"github.com/immutag/immutag/internal/report"
)

// seeds adds every file of testdata/dir to the corpus.
func seeds(f *testing.F, dir string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/%s", dir)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzConfigDecode feeds arbitrary bytes to config.Decode, the strict
// parser behind every command. A config that decodes must be one the rest
// of the program can use; a rejected one must say where, and never echo a
// value that looks like an inline secret.
func FuzzConfigDecode(f *testing.F) {
	for _, b := range seeds(f, "config") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return
		}
		// Timings are never asserted (they flake on a loaded machine); an
		// input that hangs Decode stops the fuzz run, which fails it.
		c, err := config.Decode("fuzz.yaml", raw, nil, catalog.Kinds())
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error: %v", err, err)
			}
			if ce.File != "fuzz.yaml" {
				t.Fatalf("error names file %q: %v", ce.File, err)
			}
			// YAML breaks lines at \n, \r\n and a lone \r alike.
			lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
			if n := bytes.Count(lf, []byte("\n")) + bytes.Count(lf, []byte("\r")) + 1; ce.Line < 0 || ce.Line > n+1 {
				t.Fatalf("error at line %d of a %d-line file: %v", ce.Line, n, err)
			}
			return
		}
		if c.Version != config.CurrentVersion {
			t.Fatalf("accepted version %d", c.Version)
		}
		names := map[string]bool{}
		for _, p := range c.Providers {
			if !catalog.Supported(p.Kind) {
				t.Fatalf("accepted unknown kind %q", p.Kind)
			}
			if p.Name == "" || names[p.Name] {
				t.Fatalf("accepted empty or duplicate provider name %q", p.Name)
			}
			names[p.Name] = true
		}
		if err := c.Validate(catalog.Kinds()); err != nil {
			t.Fatalf("Decode accepted a config Validate rejects: %v", err)
		}
	})
}

// FuzzParseErrorBody: any body a registry (or a proxy in front of it)
// sends with an error status becomes a short, printable message.
func FuzzParseErrorBody(f *testing.F) {
	for _, b := range seeds(f, "errors") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := httpapi.ParseErrorBody(body)
		if len(msg) > 500+len("…") {
			t.Fatalf("message of %d bytes is not bounded", len(msg))
		}
		if strings.Contains(msg, "\n") && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			t.Fatalf("a non-JSON body yielded a multi-line message %q", msg)
		}
		if utf8.Valid(body) && (!utf8.ValidString(msg) || !utf8.ValidString(code)) {
			t.Fatalf("valid UTF-8 in, invalid out: %q %q", code, msg)
		}
	})
}

// FuzzRetryAfter: whatever the rate-limit headers say, the wait is never
// negative, and no header means no advertised wait.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120", "", "", "")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT", "", "", "")
	f.Add("", "1767225600", "", "")
	f.Add("", "2.5", "", "")
	f.Add("", "", "0", "1767225600")
	f.Add("-1", "NaN", "0", "99999999999999999999")
	f.Add("9223372036854775807", "1e308", "0", "-5")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ra, xra, remaining, reset string) {
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": ra, "X-Retry-After": xra, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		d, ok := httpapi.RetryAfter(h, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%v) = %s, %v", h, d, ok)
		}
	})
}

// FuzzNextLink: the next link comes from inside the Link header, never
// from thin air.
func FuzzNextLink(f *testing.F) {
	f.Add(`</api/v2.0/projects?page=2&page_size=10>; rel="next"`)
	f.Add(`</a?page=1>; rel="prev" , </a?page=3>; rel="next"`)
	f.Add(`<https://x/a,b>; rel="prev next"`)
	f.Add(`<unterminated; rel=next`)
	f.Add(`<>; rel=next, <x>; rel=NEXT`)
	f.Fuzz(func(t *testing.T, link string) {
		h := http.Header{"Link": {link}}
		if next := httpapi.NextLink(h); next != "" && !strings.Contains(link, next) {
			t.Fatalf("NextLink(%q) = %q, not part of the header", link, next)
		}
	})
}

// recorder is an Emitter that checks what an adapter emits.
type recorder struct {
	mu    sync.Mutex
	repos []providers.Repository
}

func (r *recorder) Repository(x providers.Repository) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repos = append(r.repos, x)
	return nil
}

func (r *recorder) Warn(providers.Warning) {}

var validModes = map[providers.Mode]bool{providers.ModeImmutable: true, providers.ModePartial: true,
	providers.ModeMutable: true, providers.ModeUnsupported: true, providers.ModeUnknown: true}

// fuzzServer answers each request with the body pick chooses; the fuzz
// inputs change between iterations, the server stays.
type fuzzServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	pick     func(r *http.Request) (int, []byte, http.Header)
	requests atomic.Int64
}

func newFuzzServer(f *testing.F) *fuzzServer {
	fs := &fuzzServer{}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		fs.mu.Lock()
		pick := fs.pick
		fs.mu.Unlock()
		status, body, h := pick(r)
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fuzzServer) set(pick func(r *http.Request) (int, []byte, http.Header)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.pick = pick
}

// listOnce runs one adapter's listing of scope against the fuzz server and
// checks the fail-closed invariants on what it emitted. Work is bounded by
// counting requests, not by timing: a pagination loop or a retry storm
// shows as more requests than the answer's repositories can explain.
func listOnce(t *testing.T, fs *fuzzServer, p providers.Provider, scope string) {
	t.Helper()
	// Only a hang guard: a listing of one page takes milliseconds.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := fs.requests.Load()
	rec := &recorder{}
	err := p.Repositories(ctx, providers.Scope{Provider: p.Name(), Kind: p.Kind(), Name: scope}, rec)
	if ctx.Err() != nil {
		t.Fatalf("listing did not end (pagination loop or retry storm): %v", err)
	}
	if n, limit := fs.requests.Load()-before, int64(16+4*len(rec.repos)); n > limit {
		t.Fatalf("listing made %d requests for %d repositories (limit %d): a loop or a retry storm", n, len(rec.repos), limit)
	}
	for _, r := range rec.repos {
		if !validModes[r.Mode] {
			t.Fatalf("repository %q has mode %q", r.Name, r.Mode)
		}
		if r.Mode == providers.ModeUnknown && r.Error == "" {
			t.Fatalf("repository %q is unknown without an error", r.Name)
		}
		if r.Mode != providers.ModeUnknown && r.Error != "" {
			t.Fatalf("repository %q is %s yet carries error %q", r.Name, r.Mode, r.Error)
		}
		if r.Scope != scope {
			t.Fatalf("repository %q emitted in scope %q, listing %q", r.Name, r.Scope, scope)
		}
	}
}

// fuzzEnv holds the credential variables the fuzzed providers name.
var fuzzEnv = map[string]string{"FZ_USER": "fuzz-user", "FZ_TOKEN": "fuzz-token", "FZ_PASSWORD": "fuzz-password"}

func fuzzOptions() providers.Options {
	return providers.Options{Getenv: func(k string) string { return fuzzEnv[k] },
		HTTPClient: &http.Client{Timeout: 2 * time.Second}}
}

// FuzzDockerHubListing feeds the namespace listing and the per-repository
// answer to the Docker Hub adapter.
func FuzzDockerHubListing(f *testing.F) {
	hub := seeds(f, "hub")
	for _, l := range hub {
		for _, r := range hub {
			f.Add(l, r)
		}
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, list, repo []byte) {
		fs.set(func(r *http.Request) (int, []byte, http.Header) {
			switch {
			case r.URL.Path == "/v2/auth/token":
				return 200, []byte(`{"access_token":"fuzz"}`), nil
			case r.URL.Path == "/v2/namespaces/acme/repositories" && r.URL.Query().Get("page") == "1":
				return 200, list, nil
			case strings.HasSuffix(r.URL.Path, "/repositories"):
				// Later pages are empty: a server that invents a new next
				// link on every page is out of reach of any loop guard
				// (see the notes on page caps).
				return 200, []byte(`{"count":0,"next":null,"results":[]}`), nil
			}
			return 200, repo, nil
		})
		p, err := dockerhub.New(context.Background(), config.Provider{Name: "hub", Kind: providers.KindDockerHub, Endpoint: fs.srv.URL,
			Credentials: config.Credentials{UsernameEnv: "FZ_USER", TokenEnv: "FZ_TOKEN"}, Rate: config.Rate{RequestsPerSecond: 10000}}, fuzzOptions())
		if err != nil {
			t.Fatal(err)
		}
		listOnce(t, fs, p, "acme")
	})
}

// FuzzQuayListing feeds the repository listing and the policy answers
// (organisation and repository) to the Quay adapter.
func FuzzQuayListing(f *testing.F) {
	q := seeds(f, "quay")
	for _, l := range q {
		for _, r := range q {
			f.Add(l, r)
		}
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, list, policies []byte) {
		fs.set(func(r *http.Request) (int, []byte, http.Header) {
			switch {
			case r.URL.Path == "/api/v1/repository" && r.URL.Query().Get("next_page") == "":
				return 200, list, nil
			case r.URL.Path == "/api/v1/repository":
				return 200, []byte(`{"repositories":[]}`), nil
			case strings.HasSuffix(r.URL.Path, "/immutabilitypolicy/"):
				return 200, policies, nil
			}
			return 200, []byte(`{"name":"acme"}`), nil
		})
		p, err := quay.New(context.Background(), config.Provider{Name: "quay", Kind: providers.KindQuay, Endpoint: fs.srv.URL,
			Credentials: config.Credentials{TokenEnv: "FZ_TOKEN"}}, fuzzOptions())
		if err != nil {
			t.Fatal(err)
		}
		listOnce(t, fs, p, "acme")
	})
}

// FuzzHarborListing feeds the project's repositories and immutable tag
// rules to the Harbor adapter.
func FuzzHarborListing(f *testing.F) {
	h := seeds(f, "harbor")
	for _, l := range h {
		for _, r := range h {
			f.Add(l, r, `</api/v2.0/projects/library/repositories?page=2>; rel="next"`)
		}
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, list, rules []byte, link string) {
		// Control characters make the answer unreadable to Go's HTTP client,
		// a transport error that is retried with real backoff (the fault
		// matrix covers that); here the Link header's content is the target.
		link = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, link)
		fs.set(func(r *http.Request) (int, []byte, http.Header) {
			switch {
			case r.URL.Path == "/api/v2.0/projects/library/repositories" && r.URL.Query().Get("page") == "1":
				return 200, list, http.Header{"Link": {link}}
			case strings.HasSuffix(r.URL.Path, "/repositories"):
				return 200, []byte(`[]`), nil
			case strings.HasSuffix(r.URL.Path, "/immutabletagrules"):
				return 200, rules, nil
			}
			return 200, []byte(`{"project_id":1,"name":"library"}`), nil
		})
		p, err := harbor.New(context.Background(), config.Provider{Name: "harbor", Kind: providers.KindHarbor, Endpoint: fs.srv.URL,
			Settings:    config.Keys{"projects": []string{"library"}},
			Credentials: config.Credentials{UsernameEnv: "FZ_USER", PasswordEnv: "FZ_PASSWORD"}}, fuzzOptions())
		if err != nil {
			t.Fatal(err)
		}
		listOnce(t, fs, p, "library")
	})
}

// FuzzReportRender loads arbitrary bytes as a saved JSON report (what
// `immutag report render` and --baseline read) and renders every format.
func FuzzReportRender(f *testing.F) {
	for _, b := range seeds(f, "report") {
		f.Add(b)
	}
	f.Add([]byte(`{"schema_version":1,"findings":[{"id":"x","status":"compliant","mode":"unknown"}],"changes":[{}]}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Add([]byte(`{"findings":{"not":"a list"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256<<10 {
			return
		}
		rep, err := report.Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer rep.Close()
		for _, format := range report.Formats {
			if err := report.Render(io.Discard, rep, format, report.Options{}); err != nil {
				t.Fatalf("render %s of a report Load accepted: %v", format, err)
			}
		}
	})
}
