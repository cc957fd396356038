package ecr

import (
	"context"
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo credentials: obviously fake, accepted by the emulator like any key.
const (
	demoAccessKey = "AKIAEMULATORDEMO0000"
	demoSecretKey = "emulator-demo-secret-not-a-real-key"
)

// demoRepo is one seeded repository.
type demoRepo struct {
	region, name, mode string
	exclusions         []string
}

var demoRepos = []demoRepo{
	{"us-east-1", "payments/api", Mutable, nil},
	{"us-east-1", "payments/worker", Immutable, nil},
	{"us-east-1", "web/frontend", ImmutableWithExclusion, []string{"latest"}},
	{"us-east-1", "web/legacy", ImmutableWithExclusion, []string{"*"}},
	{"us-east-1", "ml/model", MutableWithExclusion, []string{"release-*"}},
	{"us-east-1", "ecr-public/library/nginx", Mutable, nil},
	{"eu-west-1", "data/etl", Mutable, nil},
	{"eu-west-1", "data/reports", Immutable, nil},
}

var demoRegions = []string{"us-east-1", "eu-west-1"}

type demo struct {
	s   *Server
	web *emulator.HTTPServer
}

var _ emulator.Demo = (*demo)(nil)

// StartDemo starts an emulator on 127.0.0.1 seeded with a repository in
// every mode across two regions of the default account, plus a
// pull-through-cache rule (ecr-public) and the repository it created. The
// emulator runs until Close; ctx only bounds the start.
func StartDemo(ctx context.Context) (emulator.Demo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start ecr demo: %w", err)
	}
	s := New(Options{})
	if err := seedDemo(s); err != nil {
		return nil, err
	}
	web, err := emulator.ServeLoopback(s.Handler())
	if err != nil {
		return nil, fmt.Errorf("ecr demo: listen: %w", err)
	}
	return &demo{s: s, web: web}, nil
}

func seedDemo(s *Server) error {
	acct := s.defaultAccount
	if err := s.CreatePullThroughCacheRule(acct, "us-east-1", "ecr-public", "public.ecr.aws"); err != nil {
		return fmt.Errorf("seed ecr demo: %w", err)
	}
	for _, r := range demoRepos {
		if err := s.CreateRepository(acct, r.region, r.name, r.mode, r.exclusions...); err != nil {
			return fmt.Errorf("seed ecr demo: %w", err)
		}
		for _, tag := range []string{"v1.0.0", "latest"} {
			if err := s.PutImage(acct, r.region, r.name, tag, s.newDigest(r.name+":"+tag)); err != nil {
				return fmt.Errorf("seed ecr demo: %w", err)
			}
		}
	}
	return nil
}

func (d *demo) Kind() providers.Kind { return providers.KindECR }

func (d *demo) Provider() config.Provider {
	return config.Provider{Name: "aws-demo", Kind: providers.KindECR, Endpoint: d.web.URL(), Settings: config.Keys{"regions": append([]string(nil), demoRegions...)}}
}

// Env points the SDK's default chain at the emulator: static keys, a region,
// and STS on the same listener (the adapter calls GetCallerIdentity).
func (d *demo) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     demoAccessKey,
		"AWS_SECRET_ACCESS_KEY": demoSecretKey,
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL_STS":  d.web.URL(),
		// Keep the SDK from probing instance metadata for credentials.
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}

func (d *demo) OverwriteTarget() (scope, repository, tag string) {
	return d.s.defaultAccount + "/us-east-1", "payments/api", "v1.0.0"
}

// PushTag re-points tag to a new digest, as pushing a rebuilt image would.
func (d *demo) PushTag(_ context.Context, scope, repository, tag string) error {
	account, region, ok := strings.Cut(scope, "/")
	if !ok || account == "" || region == "" {
		return fmt.Errorf("push %s:%s: scope %q is not ACCOUNT/REGION", repository, tag, scope)
	}
	return d.s.PutImage(account, region, repository, tag, d.s.newDigest(repository+":"+tag))
}

func (d *demo) Close() error { return d.web.Close() }
