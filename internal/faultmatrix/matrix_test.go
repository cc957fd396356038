package faultmatrix

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/grpc/codes"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/redact"
)

// outcome is what a cell expects of the scope the fault aims at.
type outcome int

const (
	recovers    outcome = iota // the fault is transient: everything is read and graded
	scopeError                 // the scope is reported as error; the scan goes on
	repoError                  // the target repository is error; its scope is ok
	entryErrors                // invalid listing entries are errors; the scope and its real repositories are ok
)

func (o outcome) String() string {
	return [...]string{"recovers", "scope error", "repository error", "entry errors"}[o]
}

// spec is one cell: what was injected and what the run must show.
type spec struct {
	skip string // why the fault does not apply to this kind
	// A short per-attempt timeout for the run: hc for the REST adapters,
	// attempt (Options.Retry) for the SDK-based ones. Set by fx.timeouts.
	hc      *http.Client
	attempt time.Duration
	want    outcome
	msg     []string        // the report's error must contain one of these (case-insensitive)
	counted func(wire) bool // calls that must stay bounded
	min     int
	max     int
	// read is how many repositories of a failing scope may legitimately
	// have been read (and graded) before the failure.
	read int
	post func(t *testing.T, fx *fixture, r result)
}

type faultCase struct {
	name string
	plan func(t *testing.T, fx *fixture) spec
}

var kinds = []struct {
	name  providers.Kind
	start func(*testing.T) *fixture
}{
	{providers.KindECR, startECR},
	{providers.KindArtifactRegistry, startAR},
	{providers.KindACR, startACR},
	{providers.KindDockerHub, startHub},
	{providers.KindQuay, startQuay},
	{providers.KindHarbor, startHarbor},
	{providers.KindOCI, startOCI},
	{providers.KindGHCR, startGHCR},
	{providers.KindArtifactory, startArtifactory},
	{providers.KindNexus, startNexus},
	{providers.KindGitLab, startGitLab},
}

const (
	noRepoRead   = "immutability is read per scope (listing or project rules), there is no per-repository read to fail"
	opaqueCursor = "the page cursor is an opaque token, not a URL: there is no host to leave"
	staticCreds  = "static credentials: there is no token to refresh (see 401-expired)"
)

var faults = []faultCase{
	{"429-burst", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.ar.FailNext("ListRepositories", codes.ResourceExhausted, 2)
			return spec{want: recovers, counted: onOp(opList), min: 4, max: 4}
		}
		act, _ := fx.apiErr(throttled, "fm-throttled-burst")
		fx.px.add(&rule{match: on(fx.bad, opList), times: 2, do: act})
		return spec{want: recovers, counted: on(fx.bad, opList), min: 3, max: 3}
	}},
	{"429-storm", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.arInject(codes.ResourceExhausted, "fm-throttled-storm")
			return spec{want: scopeError, msg: []string{"fm-throttled-storm"}, counted: on(fx.bad, opList), min: fx.attempts, max: fx.attempts}
		}
		act, msg := fx.apiErr(throttled, "fm-throttled-storm")
		fx.px.add(&rule{match: on(fx.bad, opList), do: act})
		return spec{want: scopeError, msg: []string{msg}, counted: on(fx.bad, opList), min: fx.attempts, max: fx.attempts}
	}},
	{"5xx-burst", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.ar.FailNext("ListRepositories", codes.Unavailable, 2)
			return spec{want: recovers, counted: onOp(opList), min: 4, max: 4}
		}
		act, _ := fx.apiErr(unavailable, "fm-unavailable-burst")
		fx.px.add(&rule{match: on(fx.bad, opList), times: 2, do: act})
		return spec{want: recovers, counted: on(fx.bad, opList), min: 3, max: 3}
	}},
	{"5xx-storm", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.arInject(codes.Unavailable, "fm-unavailable-storm")
			return spec{want: scopeError, msg: []string{"fm-unavailable-storm"}, counted: on(fx.bad, opList), min: fx.attempts, max: fx.attempts}
		}
		act, msg := fx.apiErr(unavailableRA, "fm-unavailable-storm")
		fx.px.add(&rule{match: on(fx.bad, opList), do: act})
		return spec{want: scopeError, msg: []string{msg}, counted: on(fx.bad, opList), min: fx.attempts, max: fx.attempts}
	}},
	{"timeout-burst", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			// The server's deadline, as the client sees it: DEADLINE_EXCEEDED
			// is not retried (the call may have run), so the scope fails.
			fx.arInject(codes.DeadlineExceeded, "fm-deadline")
			return spec{want: scopeError, msg: []string{"fm-deadline"}, counted: on(fx.bad, opList), min: 1, max: 1}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), times: 1, do: fx.px.stall()})
		return fx.timeouts(spec{want: recovers, counted: on(fx.bad, opList), min: 2, max: 2})
	}},
	{"timeout-storm", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			// The stalled attempt runs into the adapter's own deadline, and
			// DEADLINE_EXCEEDED is not retried (see timeout-burst): one call.
			fx.gp.add(&grpcRule{match: on(fx.bad, opList), stall: true})
			return fx.timeouts(spec{want: scopeError, msg: []string{"deadline"}, counted: on(fx.bad, opList), min: 1, max: 1})
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: fx.px.stall()})
		least := fx.attempts
		if fx.retry != (providers.RetryTuning{}) {
			// An SDK's per-try timeout also runs while the try waits for a
			// token or the rate limiter, so on a loaded machine a try can
			// end before it reaches the wire: bounded, not exact.
			least = 2
		}
		return fx.timeouts(spec{want: scopeError, msg: []string{"timeout", "deadline"},
			counted: on(fx.bad, opList), min: least, max: fx.attempts})
	}},
	{"reset-burst", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: "a reset reaches a gRPC client as UNAVAILABLE, which 5xx-burst covers"}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), times: 2, do: reset()})
		// Go's transport itself re-sends once when a reused connection dies
		// before any answer, so a reset may cost one extra, unseen attempt.
		return spec{want: recovers, counted: on(fx.bad, opList), min: 3, max: 5}
	}},
	{"reset-storm", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: "a reset reaches a gRPC client as UNAVAILABLE, which 5xx-storm covers"}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: reset()})
		// As in reset-burst, an attempt may cost one unseen re-send by Go's
		// transport, but only for an idempotent method: ECR's calls are
		// POSTs, which it never re-sends.
		n := 2 * fx.attempts
		if fx.kind == providers.KindECR {
			n = fx.attempts
		}
		return spec{want: scopeError, msg: []string{"reset", "EOF", "closed network connection"}, counted: on(fx.bad, opList), min: fx.attempts, max: n}
	}},
	{"malformed-json", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.gp.add(&grpcRule{match: on(fx.bad, opList), do: corruptBytes(func(b []byte) []byte { return append([]byte{0xff, 0xff, 0xff, 0xff}, b...) })})
			return spec{want: scopeError, msg: []string{"unmarshal", "parse", "proto"}, counted: on(fx.bad, opList), min: 1, max: 1}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) { return st, corruptJSON(b) })})
		return spec{want: scopeError, msg: decodeMsgs, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	{"truncated-json", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			fx.gp.add(&grpcRule{match: on(fx.bad, opList), do: corruptBytes(func(b []byte) []byte { return b[:len(b)/2] })})
			return spec{want: scopeError, msg: []string{"unmarshal", "parse", "proto"}, counted: on(fx.bad, opList), min: 1, max: 1}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) { return st, truncateJSON(b) })})
		return spec{want: scopeError, msg: decodeMsgs, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	{"malformed-repo-json", func(t *testing.T, fx *fixture) spec {
		if fx.denyRepo == nil && fx.kind != providers.KindQuay {
			return spec{skip: noRepoRead}
		}
		fx.px.add(&rule{match: onRepo(fx.bad, target), do: rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) { return st, corruptJSON(b) })})
		return spec{want: repoError, msg: decodeMsgs, counted: onRepo(fx.bad, target), min: 1, max: 1}
	}},
	{"cursor-repeat", func(t *testing.T, fx *fixture) spec {
		fx.pageSize(1)
		if fx.gp != nil {
			var (
				mu sync.Mutex
				n  int
			)
			fx.gp.add(&grpcRule{match: on(fx.bad, opList), skip: 2, do: func(m string, req []byte, fwd func([]byte) ([]byte, error)) ([]byte, error) {
				// Page 3 (the last) points back at page 2, for ever; capped so a
				// missing guard shows as a failed bound, not a hung suite.
				mu.Lock()
				n++
				stop := n > 10
				mu.Unlock()
				if stop {
					return fwd(req)
				}
				return rewriteList(func(p *artifactregistrypb.ListRepositoriesResponse) {
					if p.GetNextPageToken() == "" {
						p.NextPageToken = fx.gp.pageToken(fx.bad, 1)
					}
				})(m, req, fwd)
			}})
			return spec{want: scopeError, msg: loopMsgs, counted: on(fx.bad, opList), min: 3, max: 4, read: 3}
		}
		var (
			mu      sync.Mutex
			cursors []string
			loops   int
		)
		fx.px.add(&rule{match: on(fx.bad, opList), do: rewrite(func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			mu.Lock()
			defer mu.Unlock()
			cur := fx.cursor(r)
			if len(cursors) < 3 {
				cursors = append(cursors, cur)
			}
			if len(cursors) == 3 && cur == cursors[2] && loops < 10 {
				loops++
				return st, fx.setNext(h, b, cursors[1])
			}
			return st, b
		})})
		return spec{want: scopeError, msg: loopMsgs, counted: on(fx.bad, opList), min: 3, max: 4, read: 3}
	}},
	{"next-foreign-host", func(t *testing.T, fx *fixture) spec {
		switch fx.kind {
		case providers.KindECR, providers.KindArtifactRegistry, providers.KindQuay:
			return spec{skip: opaqueCursor}
		}
		ev := newEvil(t)
		fx.pageSize(1)
		fx.px.add(&rule{match: on(fx.bad, opList), do: rewrite(func(r *http.Request, st int, h http.Header, b []byte) (int, []byte) {
			next := ev.srv.URL + r.URL.RequestURI()
			b = fx.setNext(h, b, next)
			if fx.kind == providers.KindGitLab {
				// The adapter pages by number (X-Next-Page, here the foreign
				// URL); the Link header GitLab also sends must not be
				// followed either.
				setLink(h, next)
			}
			return st, b
		})})
		msg := []string{"origin", "host"}
		switch fx.kind {
		case providers.KindACR:
			// azcontainerregistry joins a Link onto the registry endpoint, so
			// an absolute foreign link becomes a path on the same origin (404).
			msg = []string{"not-found"}
		case providers.KindGitLab:
			// client-go reads a URL in X-Next-Page as "no next page": the
			// adapter must refuse it rather than end the listing there.
			msg = []string{"X-Next-Page"}
		}
		return spec{want: scopeError, msg: msg, counted: on(fx.bad, opList), min: 1, max: 1, read: 1,
			post: func(t *testing.T, _ *fixture, _ result) {
				if hits := ev.requests(); len(hits) > 0 {
					t.Errorf("the adapter followed a next link to another host: %v", hits)
				}
			}}
	}},
	// Issue 12 cases 1 and 2: a listing answered with a redirect to another
	// origin (another port, as a proxy or an attacker would point it) fails
	// the scope at once, and the other origin sees nothing: no credentials,
	// no body, and no answer taken from it for registry data.
	{"redirect-302-foreign", func(t *testing.T, fx *fixture) spec { return redirectCell(t, fx, http.StatusFound) }},
	{"redirect-307-foreign", func(t *testing.T, fx *fixture) spec { return redirectCell(t, fx, http.StatusTemporaryRedirect) }},
	// Issue 12 case 3: a 400 whose body echoes the credential the request
	// carried (a minted bearer, a static token, a Basic password) must not
	// put it into the report, the log or the error.
	{"echo-credential", echoCredentialCell},
	// Issue 12 case 5: a 200 that is not the listing (an error body, or
	// nothing) fails the scope, naming what was missing.
	{"200-error-body", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: grpcTyped}
		}
		body := errJSON(map[string]any{"detail": "fm rate limit exceeded", "error_message": "fm rate limit exceeded"})
		fx.px.add(&rule{match: on(fx.bad, opList), do: respond(http.StatusOK, hdr("Content-Type", "application/json"), body)})
		return spec{want: scopeError, msg: []string{"has no \"", "cannot unmarshal", "required field"}, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	{"200-error-body-repo", func(t *testing.T, fx *fixture) spec {
		if fx.denyRepo == nil && fx.kind != providers.KindQuay {
			return spec{skip: noRepoRead}
		}
		body := errJSON(map[string]any{"detail": "fm rate limit exceeded", "error_message": "fm rate limit exceeded"})
		fx.px.add(&rule{match: onRepo(fx.bad, target), do: respond(http.StatusOK, hdr("Content-Type", "application/json"), body)})
		return spec{want: repoError, msg: []string{"has no", "required field", "missing"}, counted: onRepo(fx.bad, target), min: 1, max: 1}
	}},
	{"200-empty-body", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: grpcTyped}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: respond(http.StatusOK, hdr("Content-Type", "application/json"), nil)})
		return spec{want: scopeError, msg: []string{"empty body", "has no \"", "required field", "EOF"}, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	// Issue 12 case 6: a body over the limit (plain, or a gzip bomb) fails
	// the scope naming the limit; before, the cut body still parsed.
	{"oversize-body", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: "gRPC caps received messages itself (4 MiB by default)"}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			return st, append(b, bytes.Repeat([]byte(" "), int(httpapi.MaxBodyBytes)+1)...)
		})})
		return spec{want: scopeError, msg: []string{"too large"}, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	{"gzip-bomb", func(t *testing.T, fx *fixture) spec {
		if fx.gp != nil {
			return spec{skip: "gRPC caps received messages itself (4 MiB by default)"}
		}
		fx.px.add(&rule{match: on(fx.bad, opList), do: func(w http.ResponseWriter, r *http.Request, up http.Handler) {
			rec := httptest.NewRecorder()
			r.Header.Del("Accept-Encoding")
			up.ServeHTTP(rec, r)
			// The answer as one gzip member, then the bomb: members of 1 MiB
			// of spaces each (a gzip stream may hold several) up to twice
			// the limit, which costs one small compression.
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			_, _ = zw.Write(rec.Body.Bytes())
			_ = zw.Close()
			member := bombMember()
			for range 2 * (httpapi.MaxBodyBytes >> 20) {
				z.Write(member)
			}
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(z.Len()))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(z.Bytes())
		}})
		// A client that did not ask for gzip reads the compressed bytes as
		// JSON and fails on them instead: the scope fails either way.
		msg := append([]string{"too large"}, decodeMsgs...)
		if fx.kind == providers.KindGitLab {
			// client-go asks for gzip and would decode the JSON at the
			// start of the stream and discard the rest: the adapter reads
			// every body whole and must refuse this one for its size.
			msg = []string{"too large"}
		}
		return spec{want: scopeError, msg: msg, counted: on(fx.bad, opList), min: 1, max: 1}
	}},
	// Issue 12 case 7: null entries, empty names, "..", control characters
	// and over-long names are reported as errors, are never read, and no
	// finding has an empty name.
	{"invalid-entries", invalidEntriesCell},
	{"401-refresh", func(t *testing.T, fx *fixture) spec {
		switch fx.kind {
		case providers.KindDockerHub:
			// Revoke every token at the emulator mid-scan: the next call
			// answers 401 and the adapter must mint one new token.
			fx.px.add(&rule{match: on(fx.bad, opRepo), skip: 1, times: 1, do: then(fx.revoke)})
			return spec{want: recovers, counted: onOp(opToken), min: 2, max: 2}
		case providers.KindACR:
			act, _ := fx.apiErr(expired, "fm-token-expired")
			fx.px.add(&rule{match: onRepo(fx.bad, target), times: 1, do: act})
			return spec{want: recovers, counted: onRepo(fx.bad, target), min: 2, max: 2}
		}
		return spec{skip: staticCreds}
	}},
	{"401-expired", func(t *testing.T, fx *fixture) spec {
		switch fx.kind {
		case providers.KindArtifactRegistry:
			fx.arInject(codes.Unauthenticated, "fm-unauthenticated")
			return spec{want: scopeError, msg: []string{"fm-unauthenticated"}, counted: on(fx.bad, opList), min: 1, max: 1}
		case providers.KindQuay:
			// A static OAuth token revoked mid-scan: the repository read
			// after it fails, the ones before stay valid.
			act, msg := fx.apiErr(expired, "fm-token-revoked")
			fx.px.add(&rule{match: onRepo(fx.bad, target), do: act})
			return spec{want: repoError, msg: []string{msg}, counted: onRepo(fx.bad, target), min: 1, max: 1}
		}
		act, msg := fx.apiErr(expired, "fm-token-expired")
		fx.px.add(&rule{match: on(fx.bad, opList), do: act})
		// A bearer token is renewed once after a 401; static credentials are not.
		n := 1
		if fx.kind == providers.KindDockerHub || fx.kind == providers.KindACR {
			n = 2
		}
		return spec{want: scopeError, msg: []string{msg}, counted: on(fx.bad, opList), min: n, max: n}
	}},
	{"403-scope", func(t *testing.T, fx *fixture) spec {
		fx.denyScope()
		// ECR reads the pull-through-cache rules first: two calls.
		return spec{want: scopeError, msg: []string{"denied", "forbidden", "permission"}, counted: inScope(fx.bad), min: 1, max: 2}
	}},
	{"403-repo", func(t *testing.T, fx *fixture) spec {
		switch {
		case fx.kind == providers.KindQuay:
			act, msg := fx.apiErr(denied, "fm-repo-forbidden")
			fx.px.add(&rule{match: onRepo(fx.bad, target), do: act})
			return spec{want: repoError, msg: []string{msg}, counted: onRepo(fx.bad, target), min: 1, max: 1}
		case fx.denyRepo == nil:
			return spec{skip: noRepoRead}
		}
		fx.denyRepo()
		return spec{want: repoError, msg: []string{"denied"}, counted: onRepo(fx.bad, target), min: 1, max: 1}
	}},
	{"long-unicode-names", func(t *testing.T, fx *fixture) spec {
		return spec{want: recovers, post: func(t *testing.T, fx *fixture, r result) {
			for _, n := range fx.names {
				f, ok := r.rep.finding(fx.goodProv, fx.good, n)
				if !ok || f.Status != fx.intactStatus() {
					t.Errorf("repository %q: found=%v status=%q reason=%q", n, ok, f.Status, f.Reason)
				}
			}
		}}
	}},
}

func echoCredentialCell(t *testing.T, fx *fixture) spec {
	switch {
	case fx.gp != nil:
		return spec{skip: "gRPC errors carry a status message the adapter never fills from the request"}
	case fx.kind == providers.KindECR:
		return spec{skip: "SigV4 sends no reusable credential: the signature is good for one request"}
	}
	var (
		mu    sync.Mutex
		creds []string
	)
	fx.px.add(&rule{match: on(fx.bad, opList), do: func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		// The whole header value, and the credential without its scheme
		// where the header has one (Authorization: Bearer x).
		name := cmp.Or(fx.credHeader, "Authorization")
		auth := r.Header.Get(name)
		cred := auth
		if name == "Authorization" {
			_, cred, _ = strings.Cut(auth, " ")
		}
		mu.Lock()
		creds = append(creds, auth, cred)
		mu.Unlock()
		msg := "invalid credential " + cred + " (you sent " + name + ": " + auth + ")"
		respond(http.StatusBadRequest, hdr("Content-Type", "application/json"), errJSON(map[string]any{
			"detail": msg, "error_message": msg, "errors": []map[string]string{{"code": "DENIED", "message": msg}},
		}))(w, r, nil)
	}})
	return spec{want: scopeError, msg: []string{redact.Mask}, counted: on(fx.bad, opList), min: 1, max: 1,
		post: func(t *testing.T, _ *fixture, r result) {
			mu.Lock()
			defer mu.Unlock()
			if len(creds) == 0 || creds[1] == "" {
				t.Fatalf("the listing carried no credential in %s to echo", cmp.Or(fx.credHeader, "Authorization"))
			}
			for _, c := range creds {
				for what, out := range map[string]string{"stdout (report)": r.stdout, "stderr (log, error)": r.stderr} {
					if len(c) >= 8 && strings.Contains(out, c) {
						t.Errorf("%s carries the echoed credential %q...", what, c[:8])
					}
				}
			}
		}}
}

// bombMember is one gzip member inflating to 1 MiB of spaces.
var bombMember = sync.OnceValue(func() []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	_ = zw.Close()
	return z.Bytes()
})

const grpcTyped = "a gRPC answer is typed: there is no error body with a success status"

// hostileNames are listing entries no registry allows ("" also stands for
// a null entry where the listing holds objects).
var hostileNames = []string{"", "../escape", "evil\x1b]0;owned\x07\x1b[2J", "line\nbreak", strings.Repeat("n", 300)}

func invalidEntriesCell(t *testing.T, fx *fixture) spec {
	if fx.gp != nil {
		return spec{skip: "Artifact Registry names are resource names the API builds; the engine's check covers them"}
	}
	inject := func(b []byte) []byte {
		var m any
		if json.Unmarshal(b, &m) != nil {
			return b
		}
		add := func(list []any, obj func(string) any) []any {
			list = append(list, nil)
			for _, n := range hostileNames {
				list = append(list, obj(n))
			}
			return list
		}
		named := func(key string) func(string) any { return func(n string) any { return map[string]any{key: n} } }
		switch fx.kind {
		case providers.KindHarbor:
			list, _ := m.([]any)
			m = add(list, func(n string) any { return map[string]any{"name": fx.bad + "/" + n} })
		case providers.KindDockerHub:
			mm, _ := m.(map[string]any)
			list, _ := mm["results"].([]any)
			mm["results"] = add(list, named("name"))
		case providers.KindQuay:
			mm, _ := m.(map[string]any)
			list, _ := mm["repositories"].([]any)
			mm["repositories"] = add(list, func(n string) any { return map[string]any{"namespace": fx.bad, "name": n} })
		case providers.KindACR:
			mm, _ := m.(map[string]any)
			list, _ := mm["repositories"].([]any)
			mm["repositories"] = add(list, func(n string) any { return n })
		case providers.KindOCI, providers.KindArtifactory, providers.KindNexus:
			mm, _ := m.(map[string]any)
			list, _ := mm["repositories"].([]any)
			mm["repositories"] = add(list, func(n string) any { return n })
		case providers.KindGitLab:
			list, _ := m.([]any)
			m = add(list, func(n string) any { return map[string]any{"id": 9000 + len(n), "name": n, "path": n, "project_id": 1} })
		case providers.KindGHCR:
			list, _ := m.([]any)
			m = add(list, func(n string) any { return map[string]any{"name": n, "package_type": "container"} })
		case providers.KindECR:
			mm, _ := m.(map[string]any)
			list, _ := mm["repositories"].([]any)
			mm["repositories"] = add(list, func(n string) any {
				return map[string]any{"repositoryName": n, "imageTagMutability": "IMMUTABLE", "repositoryUri": "x/" + n,
					"registryId": "123456789012", "repositoryArn": "arn:aws:ecr:eu-west-1:123456789012:repository/" + n}
			})
		}
		return errJSON(m)
	}
	fx.px.add(&rule{match: on(fx.bad, opList), times: 1, do: rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
		return st, inject(b)
	})})
	return spec{want: entryErrors, post: func(t *testing.T, fx *fixture, r result) {
		bad := 0
		for _, f := range r.rep.findingsIn(fx.badProv, fx.bad) {
			if f.Repository == "" || strings.ContainsAny(f.Repository, "\x00\x07\x1b\n") || len(f.Repository) > 200 {
				t.Errorf("finding with an unsafe name %q", f.Repository)
			}
			if strings.Contains(f.Reason, "invalid listing entry") {
				bad++
				if f.Status != audit.StatusError {
					t.Errorf("invalid entry %q graded %q", f.Repository, f.Status)
				}
			}
		}
		// ACR and Harbor lists carry no null distinct from "": one entry fewer
		// may collapse, never more.
		if want := len(hostileNames) + 1; bad != want {
			t.Errorf("%d invalid entries reported, want %d", bad, want)
		}
		for _, n := range hostileNames {
			if n != "" && fx.px.count(onRepo(fx.bad, n)) > 0 {
				t.Errorf("the adapter read the invalid entry %q", n)
			}
		}
	}}
}

// redirectCell answers the bad scope's listing with status and a Location
// on another origin.
func redirectCell(t *testing.T, fx *fixture, status int) spec {
	if fx.gp != nil {
		return spec{skip: "gRPC has no redirects"}
	}
	ev := newEvil(t)
	fx.px.add(&rule{match: on(fx.bad, opList), do: func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Location", ev.srv.URL+r.URL.RequestURI())
		w.WriteHeader(status)
	}})
	return spec{want: scopeError, msg: []string{"redirect"}, counted: on(fx.bad, opList), min: 1, max: 1,
		post: func(t *testing.T, fx *fixture, r result) {
			if hits := ev.requests(); len(hits) > 0 {
				t.Errorf("the adapter followed a redirect to another origin: %v", hits)
			}
			if bs, _ := r.rep.scope(fx.badProv, fx.bad); !strings.Contains(bs.Error, fx.badProv) || !strings.Contains(bs.Error, ev.srv.URL) {
				t.Errorf("scope error %q should name the provider %q and the redirect target %s", bs.Error, fx.badProv, ev.srv.URL)
			}
		}}
}

var (
	// The ECR adapter reports an undecodable 200 as "unexpected HTTP 200
	// answer without an AWS error body".
	decodeMsgs = []string{"decode", "unmarshal", "deserializ", "invalid character", "unexpected end", "json", "eof", "unexpected HTTP 200"}
	loopMsgs   = []string{"loop", "repeat"}
)

// TestFaultMatrix runs every fault against every kind. Cells run
// concurrently from their own goroutines rather than with t.Parallel: they
// mostly wait on retry backoffs, and -parallel (GOMAXPROCS, 2 in CI) would
// serialise those waits.
func TestFaultMatrix(t *testing.T) {
	sem := make(chan struct{}, 12)
	var wg sync.WaitGroup
	for _, k := range kinds {
		for _, fc := range faults {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				t.Run(string(k.name)+"/"+fc.name, func(t *testing.T) { runCell(t, k.start, fc) })
			}()
		}
	}
	wg.Wait()
}

// attemptTimeout cuts off the stalled attempts of the timeout cells. It is
// well above what an answered attempt takes on a loaded machine (under the
// race detector, with the rest of the suite running): an attempt that runs
// out without a stall would count one call too many.
const attemptTimeout = 3 * time.Second

// timeouts gives sp a short per-attempt timeout through the knob fx's
// adapter reads.
func (fx *fixture) timeouts(sp spec) spec {
	if fx.retry != (providers.RetryTuning{}) {
		sp.attempt = attemptTimeout
	} else {
		sp.hc = &http.Client{Timeout: attemptTimeout}
	}
	return sp
}

func runCell(t *testing.T, start func(*testing.T) *fixture, fc faultCase) {
	fx := start(t)
	sp := fc.plan(t, fx)
	if sp.skip != "" {
		t.Skip(sp.skip)
	}
	// A missing loop guard or retry bound must fail the cell, not hang the suite.
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	cfg := writeConfig(t, config.Policy{}, fx.providers...)
	rt := fx.retry
	if sp.attempt > 0 {
		rt.AttemptTimeout = sp.attempt
	}
	r := run(t, ctx, invocation{cfg: cfg, env: fx.env, hc: sp.hc, retry: rt, args: []string{"audit", "-o", "json", "--concurrency", "4"}})
	if ctx.Err() != nil {
		t.Fatalf("the run did not finish in time (%s): exit %d err %v", r.elapsed, r.code, r.err)
	}
	calls := -1
	if sp.counted != nil {
		if fx.gp != nil {
			calls = fx.gp.count(sp.counted)
		} else {
			calls = fx.px.count(sp.counted)
		}
	}
	t.Logf("exit %d in %s, counted calls %d", r.code, r.elapsed.Round(time.Millisecond), calls)
	checkCell(t, fx, sp, r, calls)
	if sp.post != nil {
		sp.post(t, fx, r)
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

func containsAny(s string, subs []string) bool {
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func checkCell(t *testing.T, fx *fixture, sp spec, r result, calls int) {
	t.Helper()
	want := 0
	if sp.want != recovers {
		want = 2
	}
	if r.code != want {
		t.Errorf("exit code %d, want %d (%s); err: %v", r.code, want, sp.want, r.err)
	}
	if r.rep.Findings == nil && r.code != 1 {
		t.Fatalf("no report on stdout:\n%s", r.stdout)
	}
	rep := r.rep

	// Bounded retries, and the fault was really exercised.
	if sp.counted != nil && (calls < sp.min || calls > sp.max) {
		t.Errorf("%d calls at the wire, want %d..%d", calls, sp.min, sp.max)
	}

	// Invariants over every finding: fail closed, no duplicates.
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		key := f.Provider + "|" + f.Scope + "|" + f.Repository
		if seen[key] {
			t.Errorf("repository %s reported twice", key)
		}
		seen[key] = true
		if f.Mode == providers.ModeUnknown && f.Status != audit.StatusError {
			t.Errorf("%s: mode unknown graded %q", key, f.Status)
		}
		if f.Status == audit.StatusCompliant && f.Mode != providers.ModeImmutable && f.Mode != providers.ModePartial {
			t.Errorf("%s: compliant with mode %q", key, f.Mode)
		}
	}

	// The rest of the scan completed.
	driftScope := cmp.Or(fx.driftScope, fx.good)
	for _, sc := range []string{fx.good, driftScope} {
		if s, ok := rep.scope(fx.goodProv, sc); !ok || s.Status != "ok" {
			t.Errorf("healthy scope %s/%s: %+v (found %v)", fx.goodProv, sc, s, ok)
		}
	}
	for _, h := range []struct {
		scope, repo string
		want        audit.Status
	}{{fx.good, repoOK, fx.intactStatus()}, {driftScope, repoDrift, audit.StatusDrift}} {
		if f, ok := rep.finding(fx.goodProv, h.scope, fx.rname(h.scope, h.repo)); !ok || f.Status != h.want {
			t.Errorf("healthy %s/%s: status %q, want %q (found %v, reason %q)", h.scope, h.repo, f.Status, h.want, ok, f.Reason)
		}
	}

	bs, found := rep.scope(fx.badProv, fx.bad)
	bad := rep.findingsIn(fx.badProv, fx.bad)
	compliant := 0
	for _, f := range bad {
		if f.Status == audit.StatusCompliant {
			compliant++
		}
	}
	switch sp.want {
	case recovers, entryErrors:
		if !found || bs.Status != "ok" {
			t.Errorf("faulted scope should have recovered: %+v", bs)
		}
		for _, n := range badRepos {
			if f, ok := rep.finding(fx.badProv, fx.bad, fx.rname(fx.bad, n)); !ok || f.Status != fx.intactStatus() {
				t.Errorf("%s after recovery: status %q (found %v, reason %q)", n, f.Status, ok, f.Reason)
			}
		}
	case scopeError:
		if !found || bs.Status != "error" {
			t.Errorf("faulted scope not reported as error: %+v (found %v)", bs, found)
		} else if len(sp.msg) > 0 && !containsAny(bs.Error, sp.msg) {
			t.Errorf("scope error %q carries none of %q", bs.Error, sp.msg)
		}
		if compliant > sp.read {
			t.Errorf("%d repositories of the failed scope graded compliant, at most %d were read", compliant, sp.read)
		}
	case repoError:
		if !found || bs.Status != "ok" {
			t.Errorf("scope of the faulted repository should be ok: %+v", bs)
		}
		for _, n := range badRepos {
			f, ok := rep.finding(fx.badProv, fx.bad, fx.rname(fx.bad, n))
			switch {
			case !ok:
				t.Errorf("%s missing from the report", n)
			case n == target && (f.Status != audit.StatusError || f.Mode != providers.ModeUnknown):
				t.Errorf("faulted repository %s: status %q mode %q", n, f.Status, f.Mode)
			case n == target && len(sp.msg) > 0 && !containsAny(f.Reason, sp.msg):
				t.Errorf("faulted repository reason %q carries none of %q", f.Reason, sp.msg)
			case n != target && f.Status != fx.intactStatus():
				t.Errorf("%s (not faulted): status %q reason %q", n, f.Status, f.Reason)
			}
		}
	}
	if r.rep.Summary.Repositories != len(rep.Findings) {
		t.Errorf("summary counts %d repositories, report lists %d", r.rep.Summary.Repositories, len(rep.Findings))
	}
}
