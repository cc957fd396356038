package oci

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/distreg"
)

// TestAgainstDistribution runs the adapter against a real distribution
// registry (Debian's docker-registry, 2.8) with htpasswd auth: images and a
// multi-arch index written by go-containerregistry, catalog and tag paging,
// and one tag overwritten between two scans, which the tag ledger reports
// with both digests.
func TestAgainstDistribution(t *testing.T) {
	reg := distreg.Start(t)
	ctx := t.Context()
	push := ociemu.Pusher{Base: reg.URL, Auth: &authn.Basic{Username: reg.Username, Password: reg.Password}}
	repos := []string{"acme/api", "acme/web", "tools"}
	want := map[string]map[string]string{}
	for _, r := range repos {
		want[r] = map[string]string{}
		for i := range 3 {
			tag := fmt.Sprintf("v1.%d", i)
			d, err := push.Image(ctx, r, tag)
			if err != nil {
				t.Fatal(err)
			}
			want[r][tag] = d.String()
		}
	}
	idx, err := push.Index(ctx, "acme/api", "multi")
	if err != nil {
		t.Fatal(err)
	}
	want["acme/api"]["multi"] = idx.String()
	before, err := push.Image(ctx, "acme/web", "latest")
	if err != nil {
		t.Fatal(err)
	}
	want["acme/web"]["latest"] = before.String()

	env := map[string]string{"REG_USER": reg.Username, "REG_PASS": reg.Password}
	p, err := NewFromConfig(Config{Name: "dist", Endpoint: reg.URL, UsernameEnv: "REG_USER", PasswordEnv: "REG_PASS"},
		providers.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	p.pageSize = 2 // distribution answers n with a Link header: exercise it

	e, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	if got := e.Names(); !slices.Equal(got, repos) {
		t.Fatalf("catalog %v, want %v", got, repos)
	}
	for _, r := range e.Repos() {
		if r.Mode != providers.ModeUnsupported || r.Scope != reg.Host {
			t.Errorf("%s: %s in %s", r.Name, r.Mode, r.Scope)
		}
		got, _, err := tags(t, p, r.Name)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want[r.Name]) {
			t.Errorf("%s tags\n got %v\nwant %v", r.Name, got, want[r.Name])
		}
	}

	// The ledger records a scan, the tag is overwritten, the next scan
	// reports the overwrite with both digests.
	store, err := ledger.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := time.Date(2026, 9, 1, 15, 0, 0, 0, time.UTC)
	var overwrites []ledger.Overwrite
	record := func() {
		t.Helper()
		rec := store.Record(ledger.RecordOptions{Now: func() time.Time { return clock },
			OnOverwrite: func(o ledger.Overwrite) { overwrites = append(overwrites, o) }})
		for _, r := range e.Repos() {
			lr := ledger.Repo{Provider: p.Name(), Scope: r.Scope, Repository: r.Name}
			if err := p.Tags(ctx, r, func(tg providers.Tag) error { return rec.Tag(ctx, lr, tg) }); err != nil {
				t.Fatal(err)
			}
			if err := rec.RepositoryDone(ctx, lr); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	record()
	after, err := push.Image(ctx, "acme/web", "latest")
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	record()
	if len(overwrites) != 1 {
		t.Fatalf("overwrites %+v, want the one of acme/web:latest", overwrites)
	}
	o := overwrites[0]
	if o.Repository != "acme/web" || o.Tag != "latest" || o.Previous != before.String() || o.Digest != after.String() || o.Scope != reg.Host {
		t.Errorf("overwrite %+v, want acme/web:latest %s -> %s", o, before, after)
	}

	// Wrong credentials are refused by the real registry too.
	env["REG_PASS"] = "not-the-password"
	_, errs = testutil.Scan(t, p)
	if !errors.Is(errs[reg.Host], providers.ErrDenied) {
		t.Errorf("wrong password: %v, want denied", errs[reg.Host])
	}
}
