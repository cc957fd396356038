package gitlab

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	"github.com/immutag/immutag/internal/providers"
)

// A null entry in a container repository listing (client-go decodes it as
// a nil *RegistryRepository) is emitted with an empty name, which the
// engine reports as an invalid listing entry; the real entries still come.
// Before, the adapter dereferenced it and the whole run panicked.
func TestNullListingEntry(t *testing.T) {
	const token = "glpat-null-entry-secret"
	s := glemu.New(glemu.Options{Token: token})
	s.AddGroup("grp")
	if err := s.AddProject("grp/app", glemu.Project{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRepo("grp/app", "web", "v1"); err != nil {
		t.Fatal(err)
	}
	web, err := emulator.ServeLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/registry/repositories") {
			s.Handler().ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(bytes.Replace(rec.Body.Bytes(), []byte("["), []byte("[null,"), 1))
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = web.Close() })
	p := providerFor(t, config.Provider{Name: "gl", Kind: Kind, Endpoint: web.URL(),
		Settings: config.Keys{"projects": []string{"grp/app"}}, Credentials: config.Credentials{TokenEnv: "GL_TOKEN"}},
		map[string]string{"GL_TOKEN": token})
	var c collector
	if err := p.Repositories(context.Background(), providers.Scope{Provider: "gl", Kind: Kind, Name: "grp/app"}, &c); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range c.repos {
		names = append(names, r.Name)
	}
	if len(names) != 2 || names[0] != "" || names[1] != "grp/app/web" {
		t.Fatalf("emitted %q, want the null entry (empty name) and grp/app/web", names)
	}
	if err := providers.CheckName(Kind, names[0]); err == nil {
		t.Error("the engine's name check accepts the null entry's empty name")
	}
}
