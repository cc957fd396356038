package dockerhub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo identity and the environment variables the demo config names.
const (
	DemoNamespace = "acme"
	DemoUserEnv   = "IMMUTAG_DEMO_HUB_USER"
	DemoTokenEnv  = "IMMUTAG_DEMO_HUB_TOKEN"
)

// demoRepos covers every immutable_tags_settings case Hub has.
var demoRepos = []Repository{
	{Name: "web", Description: "disabled, no rules (mutable)"},
	{Name: "api", Private: true, Description: "enabled, universal rule (immutable)", ImmutableEnabled: true, ImmutableRules: []string{".*"}},
	{Name: "base", Description: "enabled, anchored universal rule (immutable)", ImmutableEnabled: true, ImmutableRules: []string{"^.*$"}},
	{Name: "worker", Private: true, Description: "enabled, release rules only (partial)", ImmutableEnabled: true, ImmutableRules: []string{`^v[0-9]+\.[0-9]+\.[0-9]+$`, "release-.*"}},
	{Name: "legacy", Description: "disabled with a leftover rule (mutable)", ImmutableRules: []string{".*"}},
}

type demo struct {
	s      *Server
	web    *emulator.HTTPServer
	user   string
	secret string
	start  time.Time
}

var (
	_ emulator.Demo            = (*demo)(nil)
	_ emulator.SeededOverwrite = (*demo)(nil)
)

// StartDemo starts an emulator on 127.0.0.1 with namespace "acme" holding a
// repository in every mode (disabled, enabled universal, enabled anchored
// universal, enabled partial rules, disabled with leftover rules) and an
// organisation access token with admin rights. It runs until Close; ctx
// only bounds the start.
func StartDemo(ctx context.Context) (emulator.Demo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start dockerhub demo: %w", err)
	}
	secret, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("start dockerhub demo: %w", err)
	}
	d := &demo{s: New(Options{}), user: DemoNamespace, secret: "dckr_oat_demo_" + secret, start: time.Now().UTC()}
	d.s.AddAccount(Account{Identifier: d.user, Secret: d.secret, Namespaces: []string{DemoNamespace}, Admin: true})
	for _, r := range demoRepos {
		r.Namespace = DemoNamespace
		r.Tags = map[string]string{"latest": digestOf(r.Name + ":latest"), "v1.0.0": digestOf(r.Name + ":v1.0.0")}
		if err := d.s.AddRepository(r); err != nil {
			return nil, fmt.Errorf("seed dockerhub demo: %w", err)
		}
	}
	// acme is on a plan with audit logs, which remember that web:v1.0.0
	// was pushed 45 days ago and overwritten 15 days ago.
	d.s.EnableAuditLog(DemoNamespace)
	for i, dg := range []string{digestOf("web:v1.0.0#before"), digestOf("web:v1.0.0")} {
		if err := d.s.SeedPush(DemoNamespace, "web", "v1.0.0", dg, d.start.Add(-time.Duration(45-30*i)*24*time.Hour)); err != nil {
			return nil, fmt.Errorf("seed dockerhub demo: %w", err)
		}
	}
	if d.web, err = emulator.ServeLoopback(d.s.Handler()); err != nil {
		return nil, fmt.Errorf("dockerhub demo: listen: %w", err)
	}
	return d, nil
}

// SeededOverwrite is acme/web:v1.0.0, 30 days before the demo: the image it
// named until it was overwritten 15 days before, which only the audit log
// knows.
func (d *demo) SeededOverwrite() (scope, repository, tag string, at time.Time) {
	return DemoNamespace, "web", "v1.0.0", d.start.Add(-30 * 24 * time.Hour)
}

// digestOf stands in for the digest of the manifest pushed as s: a real
// SHA-256, so the demo shows digests shaped like the registry's.
func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Server exposes the running emulator (fault injection, counters).
func (d *demo) Server() *Server { return d.s }

func (d *demo) Kind() providers.Kind { return providers.KindDockerHub }

func (d *demo) Provider() config.Provider {
	return config.Provider{
		Name:        "hub-demo",
		Kind:        providers.KindDockerHub,
		Endpoint:    d.web.URL(),
		Settings:    config.Keys{"namespaces": []string{DemoNamespace}},
		Credentials: config.Credentials{UsernameEnv: DemoUserEnv, TokenEnv: DemoTokenEnv},
		// Loopback needs none of the politeness Hub itself gets.
		Rate: config.Rate{RequestsPerSecond: 200},
	}
}

func (d *demo) Env() map[string]string {
	return map[string]string{DemoUserEnv: d.user, DemoTokenEnv: d.secret}
}

func (d *demo) OverwriteTarget() (scope, repository, tag string) {
	return DemoNamespace, "web", "latest"
}

// PushTag pushes a new manifest for tag over HTTP, as `docker push` of a
// rebuilt image would, and maps the registry's refusal to
// emulator.ErrTagImmutable.
func (d *demo) PushTag(ctx context.Context, scope, repository, tag string) error {
	what := fmt.Sprintf("push %s/%s:%s", scope, repository, tag)
	hc := &http.Client{Timeout: 10 * time.Second}
	body, _ := json.Marshal(map[string]string{"identifier": d.user, "secret": d.secret})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.web.URL()+"/v2/auth/token", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: token: %w", what, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: token: HTTP %d", what, resp.StatusCode)
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pushed":%q}}`, time.Now().Format(time.RFC3339Nano))
	u := fmt.Sprintf("%s/v2/%s/%s/manifests/%s", d.web.URL(), url.PathEscape(scope), url.PathEscape(repository), url.PathEscape(tag))
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader([]byte(manifest)))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusCreated:
		return nil
	case bytes.Contains(msg, []byte("TAG_IMMUTABLE")):
		return fmt.Errorf("%s: %w", what, emulator.ErrTagImmutable)
	}
	return fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, bytes.TrimSpace(msg))
}

func (d *demo) Close() error { return d.web.Close() }
