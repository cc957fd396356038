package emulator

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestServeLoopback(t *testing.T) {
	s, err := ServeLoopback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusTeapot, ContentJSONUTF8, map[string]string{"a": "b"})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q is not loopback", s.URL())
	}
	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("Content-Type") != ContentJSONUTF8 {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Error("still serving after Close")
	}
	var never *HTTPServer
	if err := never.Close(); err != nil {
		t.Errorf("closing a server never started: %v", err)
	}
}

func TestInject(t *testing.T) {
	answer := func(in *Injector) (bool, *httptest.ResponseRecorder) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		done := Inject(in, w, r,
			func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) },
			func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		return done, w
	}
	if done, _ := answer(NewInjector(Faults{})); done {
		t.Error("no faults, yet the call was answered")
	}
	done, w := answer(NewInjector(Faults{ThrottleRate: 1, RetryAfter: 1500 * time.Millisecond}))
	if !done || w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("throttled: %v %d Retry-After %q", done, w.Code, w.Header().Get("Retry-After"))
	}
	done, w = answer(NewInjector(Faults{ThrottleRate: 1}))
	if !done || w.Header().Get("Retry-After") != "" {
		t.Errorf("Retry-After %q advertised without a delay", w.Header().Get("Retry-After"))
	}
	done, w = answer(NewInjector(Faults{ErrorRate: 1}))
	if !done || w.Code != http.StatusInternalServerError {
		t.Errorf("failed: %v %d", done, w.Code)
	}
}

func TestDemoSecret(t *testing.T) {
	a, err := DemoSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DemoSecret()
	if len(a) != 32 || a == b {
		t.Errorf("secrets %q %q", a, b)
	}
}

func TestPushManifest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		if r.URL.Path == "/v2/ns/app/manifests/locked" {
			WriteJSON(w, http.StatusConflict, ContentJSON, map[string]any{"errors": []map[string]string{{"code": "TAG_IMMUTABLE", "message": "tag is immutable"}}})
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	rep, err := PushManifest(t.Context(), srv.URL, "ns/app", "locked", "u", "p", "1")
	if err != nil || rep != (PushReply{Status: http.StatusConflict, Code: "TAG_IMMUTABLE", Message: "tag is immutable"}) {
		t.Fatalf("refused push: %+v %v", rep, err)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "u" || p != "p" || got.Method != http.MethodPut {
		t.Errorf("request %s with credentials %q %q %v", got.Method, u, p, ok)
	}
	rep, err = PushManifest(t.Context(), srv.URL, "ns/app", "v1", "u", "p", "2")
	if err != nil || rep.Status != http.StatusCreated || rep.Code != "" || rep.Message != "201 Created" {
		t.Fatalf("accepted push: %+v %v", rep, err)
	}
}

// TestLoopbackCertificate: a fresh key per run (one for the process),
// valid for loopback, and not httptest's built-in certificate.
func TestLoopbackCertificate(t *testing.T) {
	a, err := LoopbackCertificate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newLoopbackCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Certificate[0], b.Certificate[0]) {
		t.Fatal("two generations gave the same certificate")
	}
	if c, _ := LoopbackCertificate(); !bytes.Equal(c.Certificate[0], a.Certificate[0]) {
		t.Error("the process's certificate changed between calls")
	}
	if err := a.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("127.0.0.1: %v", err)
	}
	if err := a.Leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("localhost: %v", err)
	}
	hts := httptest.NewUnstartedServer(nil)
	hts.StartTLS()
	defer hts.Close()
	if bytes.Equal(hts.Certificate().Raw, a.Certificate[0]) {
		t.Error("the certificate is httptest's built-in one")
	}
}
