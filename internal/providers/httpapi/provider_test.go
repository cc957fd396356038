package httpapi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

func TestLazyBuildsOnceAndKeepsErrors(t *testing.T) {
	var l Lazy
	calls := 0
	build := func() (Options, error) { calls++; return Options{BaseURL: "http://127.0.0.1:1"}, nil }
	c1, err1 := l.Client("quay q", build)
	c2, err2 := l.Client("quay q", build)
	if err1 != nil || err2 != nil || c1 == nil || c1 != c2 || calls != 1 {
		t.Fatalf("clients %p %p, errors %v %v, builds %d", c1, c2, err1, err2, calls)
	}

	var bad Lazy
	missing := errors.New("environment variable T (credentials.token_env) is empty")
	if _, err := bad.Client("quay q", func() (Options, error) { return Options{}, missing }); !errors.Is(err, missing) ||
		err.Error() != "quay q: environment variable T (credentials.token_env) is empty" {
		t.Fatalf("build error: %v", err)
	}

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	var tlsBad Lazy
	_, err := tlsBad.Client("harbor h", func() (Options, error) {
		return Options{BaseURL: "https://127.0.0.1:1", TLS: config.TLS{CAFile: ca}}, nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "harbor h: tls.ca_file "+ca+": no PEM certificate found") {
		t.Fatalf("client configuration error: %v", err)
	}
}

func TestProviderOptions(t *testing.T) {
	p := config.Provider{TLS: config.TLS{InsecureSkipVerify: true}, Rate: config.Rate{RequestsPerSecond: 7, MaxConcurrent: 3}}
	o := ProviderOptions("https://r.example", p, providers.Options{}, nil, Basic{Username: "u", Password: "p"})
	if o.BaseURL != "https://r.example" || !o.TLS.InsecureSkipVerify || o.RequestsPerSecond != 7 || o.MaxConcurrent != 3 || o.Auth == nil {
		t.Errorf("options %+v", o)
	}
}
