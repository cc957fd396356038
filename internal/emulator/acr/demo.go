package acr

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo environment variable names the demo provider entry points at.
const (
	DemoUserEnv     = "IMMUTAG_DEMO_ACR_USER"
	DemoPasswordEnv = "IMMUTAG_DEMO_ACR_PASSWORD"
	demoUser        = "immutag-demo"
)

// Demo repositories, one per mode ACR can be in.
const (
	DemoRepoLocked   = "base/alpine"   // every tag locked: immutable
	DemoRepoPartial  = "team/api"      // some tags locked: partial
	DemoRepoUnlocked = "team/web"      // no tag locked: mutable
	DemoRepoEmpty    = "sandbox/empty" // no tags: immutable with zero tags
)

type demo struct {
	srv      *Server
	web      *Loopback
	host     string
	dir      string
	caFile   string
	password string
	once     sync.Once
	closed   chan struct{}
	closeErr error
}

// StartDemo starts a seeded Premium-SKU emulator whose Provider entry makes
// the acr adapter work against it with admin-user credentials (no Azure
// login). It stops when ctx ends or Close is called.
func StartDemo(ctx context.Context) (emulator.Demo, error) {
	pw, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("acr demo: password: %w", err)
	}
	srv := New(Options{SKU: "Premium"})
	d := &demo{srv: srv, password: pw, closed: make(chan struct{})}
	if d.web, err = ServeLoopback(srv); err != nil {
		return nil, fmt.Errorf("acr demo: %w", err)
	}
	d.host = d.web.LoginServer()
	d.dir, err = os.MkdirTemp("", "immutag-acr-demo-")
	if err == nil {
		d.caFile, err = d.web.WriteCAFile(d.dir)
	}
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("acr demo: %w", err)
	}
	srv.AddUser(demoUser, d.password)
	for _, t := range []string{"3.19", "3.20", "3.21"} {
		srv.AddTag(DemoRepoLocked, t, true)
	}
	for _, t := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		srv.AddTag(DemoRepoPartial, t, true)
	}
	for _, t := range []string{"v1.3.0", "latest"} {
		srv.AddTag(DemoRepoPartial, t, false)
	}
	for _, t := range []string{"1.0", "1.1", "2.0", "latest"} {
		srv.AddTag(DemoRepoUnlocked, t, false)
	}
	srv.AddRepository(DemoRepoEmpty)
	go func() {
		select {
		case <-ctx.Done():
			_ = d.Close()
		case <-d.closed:
		}
	}()
	return d, nil
}

// DemoServer exposes the emulator behind a Demo started by StartDemo, with
// its listener (nil for any other Demo), for tests that need counters or
// seeding.
func DemoServer(d emulator.Demo) *Loopback {
	if dd, ok := d.(*demo); ok {
		return dd.web
	}
	return nil
}

func (d *demo) Kind() providers.Kind { return providers.KindACR }

func (d *demo) Provider() config.Provider {
	return config.Provider{
		Name:     "acr-demo",
		Kind:     providers.KindACR,
		Settings: config.Keys{"registries": []string{d.host}},
		Credentials: config.Credentials{
			UsernameEnv: DemoUserEnv,
			PasswordEnv: DemoPasswordEnv,
		},
		TLS: config.TLS{CAFile: d.caFile},
		// A Premium registry takes 2,000 writes/min; the demo stays below it.
		Rate: config.Rate{RequestsPerSecond: 25, MaxConcurrent: 4},
	}
}

func (d *demo) Env() map[string]string {
	return map[string]string{DemoUserEnv: demoUser, DemoPasswordEnv: d.password}
}

func (d *demo) OverwriteTarget() (scope, repository, tag string) {
	return d.host, DemoRepoUnlocked, "latest"
}

func (d *demo) PushTag(ctx context.Context, scope, repository, tag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if scope != d.host {
		return fmt.Errorf("acr demo: unknown registry %q", scope)
	}
	return d.srv.PushTag(repository, tag)
}

func (d *demo) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.web.Close()
		if d.dir != "" {
			d.closeErr = os.RemoveAll(d.dir)
		}
	})
	return d.closeErr
}
