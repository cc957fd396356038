// Package moto starts moto_server, an independent ECR/STS implementation,
// for peer tests. One server per test binary, on a free loopback port; each
// caller gets a freshly reset state.
package moto

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Account is moto's default account id.
const Account = "123456789012"

var srv struct {
	once sync.Once
	cmd  *exec.Cmd
	url  string
	err  error
}

// HTTPClient is the HTTP client for a test's own AWS SDK clients (seeding
// moto). It sends through the transport immutag's adapters use: on loopback,
// a plain client sometimes has a call cut under its response by a race
// between the SDK and net/http (see httpapi's redirectTransport), and the
// SDK's retry of a CreateRepository that had gone through then fails with
// RepositoryAlreadyExistsException.
func HTTPClient() *http.Client { return httpapi.NoRedirectClient(nil, "moto") }

// Server returns the URL of the shared moto_server, starting it on first
// use, after resetting its state. It skips the test with a clear message
// when moto_server is not installed.
func Server(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not on PATH; install moto[server] to run the moto peer tests")
	}
	srv.once.Do(func() { srv.url, srv.cmd, srv.err = start(bin) })
	if srv.err != nil {
		t.Fatalf("start moto_server: %v", srv.err)
	}
	resp, err := http.Post(srv.url+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto_server: %v", err)
	}
	resp.Body.Close()
	return srv.url
}

func start(bin string) (string, *exec.Cmd, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return "", nil, errors.New("moto_server did not answer GET /moto-api/ within 30s")
}

// Stop ends the shared server; call it from TestMain after m.Run.
func Stop() {
	if srv.cmd != nil && srv.cmd.Process != nil {
		_ = srv.cmd.Process.Kill()
		_ = srv.cmd.Wait()
	}
}
