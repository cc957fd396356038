// Package distreg starts a real Docker distribution registry (Debian's
// docker-registry package, distribution 2.8) for peer tests of the oci
// adapter: one process per test, on a free loopback port, with filesystem
// storage in the test's temporary directory and htpasswd (Basic) auth.
//
// Without the binary the test is skipped with a message, unless
// IMMUTAG_REQUIRE_REGISTRY=1 (CI), where a missing registry fails it.
package distreg

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is where Debian installs the registry.
const Binary = "/usr/bin/docker-registry"

// RequireEnv makes a missing registry a failure instead of a skip.
const RequireEnv = "IMMUTAG_REQUIRE_REGISTRY"

// Registry is one running registry.
type Registry struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Host is 127.0.0.1:PORT.
	Host string
	// Username and Password are accepted (htpasswd, bcrypt).
	Username, Password string
}

// Start runs a registry for t and stops it when t ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	bin := Binary
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("docker-registry"); lerr == nil {
			bin = p
		} else {
			msg := "docker-registry (Debian package docker-registry, distribution 2.8) is not installed: apt-get install -y docker-registry"
			if os.Getenv(RequireEnv) == "1" {
				t.Fatal(msg + " (" + RequireEnv + "=1)")
			}
			t.Skip(msg)
		}
	}
	dir := t.TempDir()
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	r := &Registry{Username: "immutag", Password: hex.EncodeToString(pw)}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = l.Addr().String()
	r.URL = "http://" + r.Host
	l.Close()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
auth:
  htpasswd:
    realm: immutag-test
    path: %s
`, filepath.Join(dir, "data"), r.Host, hex.EncodeToString(secret), filepath.Join(dir, "htpasswd"))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	if err := waitReady(r.URL); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		t.Fatalf("%s: %v\n%s", bin, err, b)
	}
	return r
}

// waitReady polls /v2/ until the registry answers (401 with auth on).
func waitReady(url string) error {
	for range 300 {
		resp, err := http.Get(url + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("did not answer GET /v2/ within 15s")
}
