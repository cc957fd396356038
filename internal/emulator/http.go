package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HTTPServer serves one emulator's handler on a free loopback port.
type HTTPServer struct {
	srv *http.Server
	url string
}

// ServeLoopback listens on a free 127.0.0.1 port and serves h in the
// background until Close. ReadHeaderTimeout keeps a stalled client from
// holding a connection open forever.
func ServeLoopback(h http.Handler) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &HTTPServer{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + ln.Addr().String(),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL, http://127.0.0.1:PORT.
func (s *HTTPServer) URL() string { return s.url }

// Close shuts the server down, giving calls in flight two seconds to
// finish, then closes what is left: a connection a client dialled and
// never used counts as busy for five seconds, and an SDK's transport may
// hold one. Closing a nil server (one never started) does nothing.
func (s *HTTPServer) Close() error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		return s.srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}

// BaseURL is the scheme and host r was sent to: where an emulator whose
// caller owns the listener is reached, for the absolute URLs a registry
// puts in its answers.
func BaseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// PageNames sorts names and cuts the page a distribution-spec catalog
// query asks for: the names after ?last=, at most ?n= of them (def when n
// is absent or not positive), capped by the injected page size pageSize
// (0: none). more reports a further page; its link carries n and the
// page's last name, and where it points is the registry's own.
func PageNames(r *http.Request, names []string, def, pageSize int) (page []string, n int, more bool) {
	sort.Strings(names)
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n <= 0 {
		n = def
	}
	if pageSize > 0 {
		n = min(n, pageSize)
	}
	if last := r.URL.Query().Get("last"); last != "" {
		i := sort.SearchStrings(names, last)
		if i < len(names) && names[i] == last {
			i++
		}
		names = names[i:]
	}
	if len(names) > n {
		return names[:n], n, true
	}
	return names, n, false
}

// Content types the emulated registries answer JSON with.
const (
	ContentJSON     = "application/json"
	ContentJSONUTF8 = "application/json; charset=utf-8"
)

// WriteJSON answers with status and v encoded as JSON under contentType.
// Each registry's error body stays with its emulator: the shapes differ.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// RetryAfter is d as a Retry-After header value: whole seconds, rounded up.
func RetryAfter(d time.Duration) string { return strconv.Itoa(int(math.Ceil(d.Seconds()))) }

// Inject applies in's faults to one HTTP call: it waits out the injected
// latency, then answers a throttled call with throttled, after setting
// Retry-After when the faults advertise a delay, and a failed call with
// failed. It reports whether the call was answered; when it was not, the
// caller serves it.
func Inject(in *Injector, w http.ResponseWriter, r *http.Request, throttled, failed http.HandlerFunc) bool {
	switch in.Before(r.Context()) {
	case Throttle:
		if ra := in.Faults().RetryAfter; ra > 0 {
			w.Header().Set("Retry-After", RetryAfter(ra))
		}
		throttled(w, r)
		return true
	case Fail:
		failed(w, r)
		return true
	}
	return false
}

// RegistryError answers with a distribution-spec error body
// ({"errors":[{"code","message"}]}).
func RegistryError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ContentJSON, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// ManifestPut reads a manifest PUT routed as /v2/{path...}: the image and
// reference the path names, and the body (4 MiB at most). When it cannot,
// it has answered with a distribution-spec error and ok is false.
func ManifestPut(w http.ResponseWriter, r *http.Request) (image, ref string, body []byte, ok bool) {
	path := r.PathValue("path")
	i := strings.LastIndex(path, "/manifests/")
	if i < 0 {
		RegistryError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return "", "", nil, false
	}
	image, ref = path[:i], path[i+len("/manifests/"):]
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		RegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return "", "", nil, false
	}
	return image, ref, body, true
}

// PushReply is a registry's answer to PushManifest.
type PushReply struct {
	Status int
	// Code and Message are the first error of a distribution-spec error
	// body ({"errors":[{"code","message"}]}); Message falls back to the
	// HTTP status line.
	Code, Message string
}

// PushManifest pushes tag the way a registry client does: a PUT of a small
// OCI image manifest, made unique by nonce, to base/v2/repo/manifests/tag
// with HTTP Basic credentials. Whether the answer means "tag is immutable"
// is the registry's own (status and code differ), so the caller decides.
func PushManifest(ctx context.Context, base, repo, tag, user, pass, nonce string) (PushReply, error) {
	req, err := manifestPut(ctx, base, repo, tag, user, pass, nonce)
	if err != nil {
		return PushReply{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return PushReply{}, err
	}
	defer resp.Body.Close()
	return pushReply(resp), nil
}

// PushManifestTo is PushManifest served by h in this process: an emulator
// pushes to itself through its own registry routes without knowing the
// address its caller serves it on.
// prefix is the path the registry API sits under ("" for /v2/ at the root).
func PushManifestTo(ctx context.Context, h http.Handler, prefix, repo, tag, user, pass, nonce string) (PushReply, error) {
	req, err := manifestPut(ctx, "http://emulator.invalid"+prefix, repo, tag, user, pass, nonce)
	if err != nil {
		return PushReply{}, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return pushReply(rec.Result()), nil
}

func manifestPut(ctx context.Context, base, repo, tag, user, pass, nonce string) (*http.Request, error) {
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"push":%q}}`, nonce)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	req.SetBasicAuth(user, pass)
	return req, nil
}

func pushReply(resp *http.Response) PushReply {
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	r := PushReply{Status: resp.StatusCode, Message: resp.Status}
	if len(e.Errors) > 0 {
		r.Code, r.Message = e.Errors[0].Code, e.Errors[0].Message
	}
	return r
}

// DemoPush is one push of a demo's PushTag: a fresh manifest to
// URL+Prefix/v2/Repo/manifests/Tag as User.
type DemoPush struct {
	// Emulator names the emulator in the "not started" error.
	Emulator string
	// URL is the emulator's base URL, "" before Start; Prefix is the path
	// the registry API sits under on it.
	URL, Prefix           string
	Repo, Tag, User, Pass string
	// Label is the image errors name ("scope/repo:tag").
	Label string
	// Immutable says whether a refusal means the tag is immutable: the
	// status and code a registry answers with are its own.
	Immutable func(PushReply) bool
}

// Do pushes; a refusal Immutable accepts wraps ErrTagImmutable.
func (p DemoPush) Do(ctx context.Context) error {
	if p.URL == "" {
		return errors.New(p.Emulator + " emulator: not started")
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	rep, err := PushManifest(ctx, p.URL+p.Prefix, p.Repo, p.Tag, p.User, p.Pass, hex.EncodeToString(nonce))
	if err != nil {
		return fmt.Errorf("push %s: %w", p.Label, err)
	}
	switch {
	case p.Immutable(rep):
		return fmt.Errorf("push %s: %s: %w", p.Label, rep.Message, ErrTagImmutable)
	case rep.Status/100 != 2:
		return fmt.Errorf("push %s: HTTP %d: %s", p.Label, rep.Status, rep.Message)
	}
	return nil
}

// DemoSecret is a fresh random secret (32 hex digits) for a demo's
// credentials, so that no fixed password or token ships with the demo.
func DemoSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Served is the listener a demo serves its emulator on. Embedded in a
// demo it gives the demo its Endpoint, URL and Close.
type Served struct{ Web *HTTPServer }

// Endpoint is the emulator's URL, as the sandbox asks for it.
func (s Served) Endpoint() string { return s.Web.URL() }

// URL is the base URL the demo serves the emulator on, http://127.0.0.1:PORT.
func (s Served) URL() string { return s.Web.URL() }

// Close stops the demo's listener.
func (s Served) Close() error { return s.Web.Close() }
