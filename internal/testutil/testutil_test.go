package testutil

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

func TestEmitterKeepsOrderAndCountsRepeats(t *testing.T) {
	var e Emitter
	for _, r := range []providers.Repository{{Scope: "b", Name: "x"}, {Scope: "a", Name: "y"}, {Scope: "b", Name: "x", Immutability: providers.Immutability{Native: "again"}}} {
		Must(t, e.Repository(r))
	}
	e.Warn(providers.Warning{Code: "w"})
	if got := e.Names(); !slices.Equal(got, []string{"x", "x", "y"}) {
		t.Errorf("Names = %v", got)
	}
	if got := e.Keys(); !slices.Equal(got, []string{"a/y", "b/x"}) {
		t.Errorf("Keys = %v", got)
	}
	if e.Dups() != 1 || len(e.Repos()) != 3 || e.ByKey()["b/x"].Native != "again" || len(e.Warnings()) != 1 {
		t.Errorf("dups %d, repos %d, last b/x %+v, warnings %v", e.Dups(), len(e.Repos()), e.ByKey()["b/x"], e.Warnings())
	}
}

func TestObserverCountsSuccessesOutsideItsLock(t *testing.T) {
	var seen []int
	o := &Observer{}
	o.OnWrite = func(n int) {
		seen = append(seen, n)
		_ = o.Records() // would deadlock if called under the lock
	}
	o.Write(providers.Change{Repository: "r"}, providers.WriteRecord{Target: "a"})
	o.Write(providers.Change{Repository: "r"}, providers.WriteRecord{Target: "b", Err: "denied"})
	o.Write(providers.Change{Repository: "s"}, providers.WriteRecord{Target: "c"})
	o.Progress(providers.Change{}, 3, 3)
	if !slices.Equal(seen, []int{1, 1, 2}) {
		t.Errorf("OnWrite saw %v", seen)
	}
	if w := o.Writes(); len(w) != 3 || w[2].Change.Repository != "s" || o.Records()[1].Err != "denied" {
		t.Errorf("writes %+v", w)
	}
	if s := o.Steps(); len(s) != 1 || s[0] != (Step{Done: 3, Total: 3}) {
		t.Errorf("steps %v", s)
	}
}

func TestSpecPath(t *testing.T) {
	dir := t.TempDir()
	Must(t, os.WriteFile(filepath.Join(dir, "x.json"), []byte("{}"), 0o600))
	t.Setenv(SpecsEnv, dir)
	if p, err := SpecPath("x.json"); err != nil || p != filepath.Join(dir, "x.json") {
		t.Errorf("from %s: %q %v", SpecsEnv, p, err)
	}
	_, err := SpecPath("absent.json")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "absent.json")) ||
		!strings.Contains(err.Error(), filepath.Join("shared", "specs", "absent.json")) || !strings.Contains(err.Error(), SpecsEnv) {
		t.Errorf("error does not say where it looked: %v", err)
	}
}

func TestTapSeesBothBodiesAndLeavesThemReadable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(append([]byte("echo:"), b...))
	}))
	t.Cleanup(srv.Close)
	var gotReq, gotResp string
	hc := &http.Client{Transport: Tap(http.DefaultTransport, func(_ *http.Request, reqBody []byte, _ *http.Response, respBody []byte) {
		gotReq, gotResp = string(reqBody), string(respBody)
	})}
	resp, body := Send(t, hc, http.MethodPost, srv.URL, "ping", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "echo:ping" || gotReq != "ping" || gotResp != "echo:ping" {
		t.Errorf("status %d body %q, tapped %q / %q", resp.StatusCode, body, gotReq, gotResp)
	}
}

// recTB records how Spec ends a test; Fatalf and Skipf stop the goroutine
// as the real ones do.
type recTB struct {
	testing.TB
	fatal, skip string
}

func (r *recTB) Helper() {}
func (r *recTB) Fatalf(f string, a ...any) {
	r.fatal = fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (r *recTB) Skipf(f string, a ...any) {
	r.skip = fmt.Sprintf(f, a...)
	runtime.Goexit()
}

func TestSpecMissingSkipsOrFails(t *testing.T) {
	t.Setenv(SpecsEnv, t.TempDir())
	t.Chdir(t.TempDir()) // no go.mod above: only the variable is tried
	for _, require := range []string{"", "1"} {
		t.Setenv(RequireSpecsEnv, require)
		r := &recTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Spec(r, "contract test", "absent.json") }()
		<-done
		if require == "1" && (r.fatal == "" || !strings.Contains(r.fatal, RequireSpecsEnv)) {
			t.Errorf("required: fatal %q skip %q", r.fatal, r.skip)
		}
		if require == "" && (r.skip == "" || r.fatal != "") {
			t.Errorf("not required: fatal %q skip %q", r.fatal, r.skip)
		}
	}
}
