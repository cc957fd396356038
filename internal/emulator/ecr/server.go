// Package ecr is an in-memory Amazon ECR emulator that speaks the real wire
// protocol (AWS JSON 1.1) closely enough for aws-sdk-go-v2 and the aws CLI
// to work against it unchanged. The same listener also answers the two STS
// query-protocol calls the ECR adapter makes (AssumeRole, GetCallerIdentity),
// so cross-account listing via role_arns can be exercised end to end.
//
// Identity follows AWS: the region is read from the SigV4 credential scope
// and the account from the access key (keys issued by the emulator's
// AssumeRole belong to the role's account, any other key to the default
// account). State is kept per account x region.
package ecr

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/emulator"
)

// DefaultAccount is the account of every access key the emulator did not issue.
const DefaultAccount = "123456789012"

const (
	targetPrefix = "AmazonEC2ContainerRegistry_V20150921."
	jsonType     = "application/x-amz-json-1.1"
	// maxBody bounds a request: the largest member ECR accepts is a 4 MiB manifest.
	maxBody = 8 << 20
)

// Server is the emulator. The zero value is not usable; call New.
type Server struct {
	defaultAccount string
	inj            *emulator.Injector
	calls          emulator.Counter
	now            func() time.Time

	mu          sync.Mutex
	registries  map[scopeKey]*registry
	sessions    map[string]*session // issued access key -> session
	denied      map[scopeKey]map[string]bool
	unsupported map[string]bool
	digestSeq   uint64
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults are the initial fault-injection settings.
	Faults emulator.Faults
}

// New returns an emulator with empty state.
func New(o Options) *Server {
	return &Server{
		defaultAccount: DefaultAccount,
		inj:            emulator.NewInjector(o.Faults),
		now:            time.Now,
		registries:     map[scopeKey]*registry{},
		sessions:       map[string]*session{},
		denied:         map[scopeKey]map[string]bool{},
		unsupported:    map[string]bool{},
	}
}

// Handler serves the emulated ECR and STS APIs. The caller owns the
// listener (an httptest.Server, emulator.ServeLoopback), as with
// go-containerregistry's registry.New.
func (s *Server) Handler() http.Handler { return s }

// SetFaults replaces the fault injection settings.
func (s *Server) SetFaults(f emulator.Faults) { s.inj.Set(f) }

// Calls counts every API call by operation name (DescribeRepositories,
// AssumeRole, ...), including calls answered with an injected fault.
func (s *Server) Calls() *emulator.Counter { return &s.calls }

// Deny makes op ("*" for every ECR operation) answer AccessDeniedException
// for callers in account and region. STS operations are denied only by name
// (AssumeRole answers AccessDenied, 403); their region is the STS client's,
// and for AssumeRole the account is the role's, as if its trust policy refused.
func (s *Server) Deny(account, region, op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := scopeKey{s.acct(account), region}
	if s.denied[k] == nil {
		s.denied[k] = map[string]bool{}
	}
	s.denied[k][op] = true
}

// Unsupported makes op answer the way moto_server answers an operation it
// does not implement: HTTP 500 with werkzeug's HTML page. Adapters must treat
// that as "cannot tell", not as an empty result.
func (s *Server) Unsupported(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsupported[op] = true
}

// isDenied reports a Deny for op; "*" covers the ECR operations only, so
// denying everything in an account still lets a test reach it via AssumeRole.
func (s *Server) isDenied(account, region, op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.denied[scopeKey{account, region}]
	_, ecrOp := ecrOps[op]
	return d[op] || ecrOp && d["*"]
}

func (s *Server) isUnsupported(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsupported[op]
}

// acct maps "" to the default account so Go callers can omit it.
func (s *Server) acct(account string) string {
	if account == "" {
		return s.defaultAccount
	}
	return account
}

// ServeHTTP answers ECR (X-Amz-Target) and STS (form-encoded Action) calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveECR(w, r, target)
		return
	}
	if isSTS(r) {
		s.serveSTS(w, r)
		return
	}
	s.calls.Inc("UnknownOperation")
	writeJSONError(w, newErr(400, "UnknownOperationException", "missing X-Amz-Target header"))
}

func isSTS(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.URL.Query().Get("Action") != ""
}

func (s *Server) serveECR(w http.ResponseWriter, r *http.Request, target string) {
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || op == "" {
		op = target
	}
	s.calls.Inc(op)
	if e := s.fault(r, true); e != nil {
		writeJSONError(w, e)
		return
	}
	if s.isUnsupported(op) {
		writeMotoNotImplemented(w)
		return
	}
	h, known := ecrOps[op]
	if !ok || !known || r.Method != http.MethodPost {
		writeJSONError(w, newErr(400, "UnknownOperationException", "unknown operation "+strconv.Quote(target)))
		return
	}
	c, e := s.identify(r)
	if e != nil {
		writeJSONError(w, e)
		return
	}
	if s.isDenied(c.account, c.region, op) {
		writeJSONError(w, newErr(400, "AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: ecr:%s on resource: arn:aws:ecr:%s:%s:repository/* because no identity-based policy allows the ecr:%s action",
			c.arn(), op, c.region, c.account, op)))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSONError(w, newErr(400, "SerializationException", "cannot read request body"))
		return
	}
	out, e := h(s, c, body)
	if e != nil {
		writeJSONError(w, e)
		return
	}
	writeJSON(w, out)
}

// fault applies the injected latency and draws a throttle or failure.
func (s *Server) fault(r *http.Request, jsonProto bool) *apiError {
	switch s.inj.Before(r.Context()) {
	case emulator.Throttle:
		e := newErr(400, "ThrottlingException", "Rate exceeded")
		if !jsonProto {
			e.code = "Throttling"
		}
		e.retryAfter = s.inj.Faults().RetryAfter
		return e
	case emulator.Fail:
		if jsonProto {
			return newErr(500, "ServerException", "injected server error")
		}
		return newErr(500, "InternalFailure", "injected server error")
	}
	return nil
}

// caller is who made a request, derived from its SigV4 credential scope.
type caller struct {
	account string
	region  string
	sess    *session // nil for keys the emulator did not issue
}

func (c caller) arn() string {
	if c.sess != nil {
		return c.sess.assumedARN()
	}
	return "arn:aws:iam::" + c.account + ":user/emulator"
}

// identify reads the access key and region from the Authorization header (or
// a presigned X-Amz-Credential) and maps the key to an account.
func (s *Server) identify(r *http.Request) (caller, *apiError) {
	akid, region, ok := credentialScope(r)
	if !ok {
		return caller{}, newErr(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	s.mu.Lock()
	sess := s.sessions[akid]
	s.mu.Unlock()
	if sess == nil {
		return caller{account: s.defaultAccount, region: region}, nil
	}
	tok := r.Header.Get("X-Amz-Security-Token")
	if tok == "" {
		tok = r.URL.Query().Get("X-Amz-Security-Token")
	}
	if tok != sess.token || !s.now().Before(sess.expires) {
		return caller{}, newErr(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	return caller{account: sess.account, region: region, sess: sess}, nil
}

// credentialScope parses Credential=AKID/DATE/REGION/SERVICE/aws4_request.
func credentialScope(r *http.Request) (akid, region string, ok bool) {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if h := r.Header.Get("Authorization"); h != "" {
		_, after, found := strings.Cut(h, "Credential=")
		if !found {
			return "", "", false
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// apiError is an error answer in protocol-neutral form. Go-level seeding
// methods return it too, so callers can inspect the AWS code.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration
}

func newErr(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// Unwrap lets callers of the Go API test for emulator.ErrTagImmutable.
func (e *apiError) Unwrap() error {
	if e.code == "ImageTagAlreadyExistsException" {
		return emulator.ErrTagImmutable
	}
	return nil
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("X-Amzn-RequestId", requestID())
	h.Set("X-Amzn-ErrorType", e.code)
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.status)
	_ = writeJSONBody(w, map[string]string{"__type": e.code, "message": e.msg})
}

// motoNotImplemented is byte for byte what moto_server (werkzeug) sends for
// an operation it lacks.
const motoNotImplemented = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n"

func writeMotoNotImplemented(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, motoNotImplemented)
}
