package faultmatrix

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	"github.com/immutag/immutag/internal/providers"
)

// rawCodec passes messages through as bytes, so the forwarding server
// needs no knowledge of the service and can corrupt any answer. It keeps
// the "proto" name: the content-subtype on the wire stays what clients send.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// grpcAction answers one unary call; forward sends it to the emulator.
type grpcAction func(method string, req []byte, forward func([]byte) ([]byte, error)) ([]byte, error)

type grpcRule struct {
	match func(wire) bool
	skip  int
	times int
	do    grpcAction
	// stall, in place of do, never answers: the call is held until the
	// client gives up (its deadline) or the proxy stops.
	stall bool
	seen  int
}

// grpcProxy forwards every unary call to the Artifact Registry emulator,
// classifying, counting and, by rule, rewriting them.
type grpcProxy struct {
	addr string
	cc   *grpc.ClientConn

	mu     sync.Mutex
	active int
	last   time.Time
	rules  []*grpcRule
	counts map[wire]int
	// pages records the page token of each ListRepositories call per scope.
	pages map[string][]string
}

func newGRPCProxy(t *testing.T, target string) *grpcProxy {
	t.Helper()
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &grpcProxy{addr: lis.Addr().String(), cc: cc, counts: map[wire]int{}, pages: map[string][]string{}}
	gs := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.handle))
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		cc.Close()
	})
	return p
}

func (p *grpcProxy) add(r *grpcRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

func (p *grpcProxy) count(m func(wire) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for w, c := range p.counts {
		if m(w) {
			n += c
		}
	}
	return n
}

// classify reads the resource name from the request to find its scope
// ("PROJECT/LOCATION").
func classifyAR(method string, req []byte) wire {
	scopeOf := func(name string) string {
		parts := strings.Split(name, "/")
		if len(parts) >= 4 && parts[0] == "projects" && parts[2] == "locations" {
			return parts[1] + "/" + parts[3]
		}
		return ""
	}
	last := func(name string) string { return name[strings.LastIndex(name, "/")+1:] }
	switch method[strings.LastIndex(method, "/")+1:] {
	case "ListRepositories":
		var in artifactregistrypb.ListRepositoriesRequest
		_ = proto.Unmarshal(req, &in)
		return wire{Scope: scopeOf(in.GetParent()), Op: opList}
	case "GetRepository":
		var in artifactregistrypb.GetRepositoryRequest
		_ = proto.Unmarshal(req, &in)
		return wire{Scope: scopeOf(in.GetName()), Op: opRepo, Repo: last(in.GetName())}
	case "UpdateRepository":
		var in artifactregistrypb.UpdateRepositoryRequest
		_ = proto.Unmarshal(req, &in)
		return wire{Scope: scopeOf(in.GetRepository().GetName()), Op: opWrite, Repo: last(in.GetRepository().GetName())}
	}
	return wire{Op: opOther}
}

func (p *grpcProxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "proxy: no method")
	}
	var req []byte
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	ctx := ss.Context()
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	forward := func(in []byte) ([]byte, error) {
		var out []byte
		// A call the client abandoned still reaches the emulator, as it
		// may reach a real registry: the interruption tests need that.
		err := p.cc.Invoke(context.WithoutCancel(ctx), method, &in, &out, grpc.ForceCodec(rawCodec{}))
		return out, err
	}
	wi := classifyAR(method, req)
	var (
		do    grpcAction
		stall bool
	)
	p.mu.Lock()
	p.active++
	p.last = time.Now()
	defer func() {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}()
	p.counts[wi]++
	if wi.Op == opList {
		var in artifactregistrypb.ListRepositoriesRequest
		_ = proto.Unmarshal(req, &in)
		p.pages[wi.Scope] = append(p.pages[wi.Scope], in.GetPageToken())
	}
	for _, r := range p.rules {
		if !r.match(wi) {
			continue
		}
		n := r.seen
		r.seen++
		if n >= r.skip && (r.times == 0 || n < r.skip+r.times) {
			do, stall = r.do, r.stall
			break
		}
	}
	p.mu.Unlock()
	if stall {
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	var (
		out []byte
		err error
	)
	if do == nil {
		out, err = forward(req)
	} else {
		out, err = do(method, req, forward)
	}
	if err != nil {
		return err
	}
	return ss.SendMsg(&out)
}

// idle waits until no call is being forwarded, or fails after d.
func (p *grpcProxy) idle(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		// Quiet for a while, not just idle now: a request the client sent
		// before it gave up may still sit in the accept queue.
		p.mu.Lock()
		n, quiet := p.active, time.Since(p.last)
		p.mu.Unlock()
		if n == 0 && quiet > 200*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC proxy still forwarding %d call(s) after %s", n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pageToken is the token the n-th ListRepositories call of scope carried.
func (p *grpcProxy) pageToken(scope string, n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < len(p.pages[scope]) {
		return p.pages[scope][n]
	}
	return ""
}

// rewriteList lets the emulator answer a ListRepositories call and hands the
// decoded page to fn.
func rewriteList(fn func(*artifactregistrypb.ListRepositoriesResponse)) grpcAction {
	return func(_ string, req []byte, forward func([]byte) ([]byte, error)) ([]byte, error) {
		out, err := forward(req)
		if err != nil {
			return nil, err
		}
		var page artifactregistrypb.ListRepositoriesResponse
		if err := proto.Unmarshal(out, &page); err != nil {
			return nil, err
		}
		fn(&page)
		return proto.Marshal(&page)
	}
}

// corruptBytes answers with the emulator's reply damaged by fn.
func corruptBytes(fn func([]byte) []byte) grpcAction {
	return func(_ string, req []byte, forward func([]byte) ([]byte, error)) ([]byte, error) {
		out, err := forward(req)
		if err != nil {
			return nil, err
		}
		return fn(out), nil
	}
}

const arProject = "fm-project"

func startAR(t *testing.T) *fixture {
	t.Helper()
	s := aremu.New(aremu.Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	seed := func(loc, name string, immutable bool) {
		if err := s.CreateRepository(arProject, loc, name, aremu.ModeStandard, immutable); err != nil {
			t.Fatal(err)
		}
	}
	seed("us-central1", repoOK, true)
	seed("us-central1", repoDrift, false)
	for _, n := range badRepos {
		seed("europe-west1", n, true)
	}
	// Repository ids are [a-z][a-z0-9-]{0,62}: the longest one allowed.
	names := []string{"l" + strings.Repeat("o", 61) + "g"}
	for _, n := range names {
		seed("us-central1", n, true)
	}
	gp := newGRPCProxy(t, lis.Addr().String())
	return &fixture{
		kind: providers.KindArtifactRegistry,
		providers: []config.Provider{{Name: "gar", Kind: providers.KindArtifactRegistry, Endpoint: gp.addr,
			Settings: config.Keys{"projects": []string{arProject}, "locations": []string{"us-central1", "europe-west1"}}}},
		goodProv: "gar", badProv: "gar", good: arProject + "/us-central1", bad: arProject + "/europe-west1",
		gp: gp, ar: s,
		retry:     fastRetry,
		pageSize:  func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
		denyScope: func() { s.Deny(arProject, "europe-west1") },
		names:     names,
		attempts:  5,
	}
}

// arInject fails the bad location's calls with code and msg at the emulator.
func (fx *fixture) arInject(code codes.Code, msg string) {
	fx.ar.InjectError(arProject, "europe-west1", code, msg)
}
