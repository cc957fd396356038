package ecr

// Tests against moto_server, an independent ECR/STS implementation, keep
// the adapter honest about the wire format. moto does not paginate
// DescribeRepositories (it ignores maxResults and returns everything in one
// page) and does not implement pull-through cache rules or repository
// creation templates (it answers those with a bare HTTP 500); pagination and
// the template flows are covered against the in-process emulator.

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/moto"
)

const motoAccount = moto.Account

func TestMain(m *testing.M) {
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

func motoServer(t *testing.T) string { return moto.Server(t) }

// motoEnv isolates the SDK and sends STS to moto.
func motoEnv(t *testing.T) string {
	u := motoServer(t)
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", u)
	return u
}

func seedClient(endpoint, region string, creds aws.CredentialsProvider) *ecr.Client {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
	}
	return ecr.New(ecr.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds, HTTPClient: moto.HTTPClient()})
}

func seed(t *testing.T, c *ecr.Client, name string, m types.ImageTagMutability, filters ...string) {
	t.Helper()
	in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: m}
	for _, f := range filters {
		in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters,
			types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	if _, err := c.CreateRepository(t.Context(), in); err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
}

func TestMotoModesRegionsAndPTCUnsupported(t *testing.T) {
	u := motoEnv(t)
	east := seedClient(u, "us-east-1", nil)
	seed(t, east, "web/immutable", types.ImageTagMutabilityImmutable)
	seed(t, east, "web/mutable", types.ImageTagMutabilityMutable)
	seed(t, east, "web/imm-excl", types.ImageTagMutabilityImmutableWithExclusion, "latest", "dev-*")
	seed(t, east, "web/mut-excl", types.ImageTagMutabilityMutableWithExclusion, "v*")
	seed(t, seedClient(u, "eu-west-1", nil), "eu/only", types.ImageTagMutabilityImmutable)

	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1", "eu-west-1"}}, Endpoint: u})
	if got, want := scopeNames(t, p), []string{motoAccount + "/eu-west-1", motoAccount + "/us-east-1"}; !slices.Equal(got, want) {
		t.Fatalf("scopes = %v, want %v", got, want)
	}
	recs, errs := testutil.ScanEach(t, p)
	if len(errs) > 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	eastRecs, euRecs := recs[motoAccount+"/us-east-1"], recs[motoAccount+"/eu-west-1"]
	if got := euRecs.Names(); !slices.Equal(got, []string{"eu/only"}) {
		t.Errorf("eu-west-1 repositories = %v", got)
	}
	repos := eastRecs.ByName()
	if len(repos) != 4 {
		t.Fatalf("us-east-1 repositories = %v", eastRecs.Names())
	}
	tests := []struct {
		name      string
		mode      providers.Mode
		native    string
		mutable   []string
		immutable []string
	}{
		{"web/immutable", providers.ModeImmutable, "IMMUTABLE", nil, nil},
		{"web/mutable", providers.ModeMutable, "MUTABLE", nil, nil},
		{"web/imm-excl", providers.ModePartial, "IMMUTABLE_WITH_EXCLUSION", []string{"latest", "dev-*"}, nil},
		{"web/mut-excl", providers.ModePartial, "MUTABLE_WITH_EXCLUSION", []string{"*"}, []string{"v*"}},
	}
	for _, tc := range tests {
		r := repos[tc.name]
		if r.Mode != tc.mode || r.Native != tc.native || !sameSet(r.MutablePatterns, tc.mutable) || !sameSet(r.ImmutablePatterns, tc.immutable) {
			t.Errorf("%s: got mode=%s native=%s mutable=%v immutable=%v, want %s %s %v %v",
				tc.name, r.Mode, r.Native, r.MutablePatterns, r.ImmutablePatterns, tc.mode, tc.native, tc.mutable, tc.immutable)
		}
		if !strings.HasSuffix(r.URI, "/"+tc.name) || r.Scope != motoAccount+"/us-east-1" || r.Provider != "aws-test" || r.DefaultExemption != "" {
			t.Errorf("%s: uri=%q scope=%q provider=%q exemption=%q", tc.name, r.URI, r.Scope, r.Provider, r.DefaultExemption)
		}
	}
	// moto has no pull-through cache API (a bare 500): each scope counts no
	// rules, says so, and holds nothing back.
	for name, rec := range recs {
		if ws := rec.Warnings(); len(ws) != 1 || ws[0].Code != warnPTCUnsupported || ws[0].Scope != name ||
			!strings.Contains(ws[0].Message, name) || !strings.Contains(ws[0].Message, "counted as no pull-through-cache rules") {
			t.Errorf("%s: warnings = %+v, want one %s naming the scope", name, ws, warnPTCUnsupported)
		}
		for _, r := range rec.Repos() {
			if r.HoldWrites != "" {
				t.Errorf("%s: held back on an endpoint without the rules API: %q", r.Name, r.HoldWrites)
			}
		}
	}
}

// TestMotoEndpointVariables runs without the endpoint key: ECR and STS are
// found only through AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_STS. STS goes
// through a counting proxy to prove the variable was honoured; a second
// provider with an explicit endpoint must still send STS to the variable.
func TestMotoEndpointVariables(t *testing.T) {
	u := motoEnv(t)
	seed(t, seedClient(u, "us-west-2", nil), "app", types.ImageTagMutabilityMutable)
	target, _ := url.Parse(u)
	var stsCalls atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stsCalls.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Setenv("AWS_ENDPOINT_URL_STS", srv)
	t.Setenv("AWS_ENDPOINT_URL_ECR", u)

	for i, cfg := range []config.Provider{
		{Settings: &Settings{Regions: []string{"us-west-2"}}},
		{Settings: &Settings{Regions: []string{"us-west-2"}}, Endpoint: u},
	} {
		before := stsCalls.Load()
		p := newTestProvider(t, cfg)
		recs, errs := testutil.ScanEach(t, p)
		if len(errs) > 0 {
			t.Fatalf("case %d: scope errors: %v", i, errs)
		}
		if got := recs[motoAccount+"/us-west-2"].Names(); !slices.Equal(got, []string{"app"}) {
			t.Errorf("case %d: repositories = %v", i, got)
		}
		if stsCalls.Load() == before {
			t.Errorf("case %d: GetCallerIdentity did not go to AWS_ENDPOINT_URL_STS", i)
		}
	}
}

func TestMotoRoleARNsScopeByAccount(t *testing.T) {
	u := motoEnv(t)
	accounts := []string{"111111111111", "222222222222"}
	var arns []string
	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), HTTPClient: moto.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")})
	for _, acct := range accounts {
		arn := "arn:aws:iam::" + acct + ":role/immutag-audit"
		arns = append(arns, arn)
		out, err := stsc.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("seed")})
		if err != nil {
			t.Fatalf("assume role for seeding: %v", err)
		}
		c := out.Credentials
		creds := credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		seed(t, seedClient(u, "us-east-1", creds), "svc-"+acct, types.ImageTagMutabilityMutable)
	}
	seed(t, seedClient(u, "us-east-1", nil), "caller-own", types.ImageTagMutabilityMutable)

	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}, RoleARNs: arns}, Endpoint: u})
	want := []string{"111111111111/us-east-1", "222222222222/us-east-1"}
	if got := scopeNames(t, p); !slices.Equal(got, want) {
		t.Fatalf("scopes = %v, want %v (the caller's own account must not appear)", got, want)
	}
	recs, errs := testutil.ScanEach(t, p)
	if len(errs) > 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	for _, acct := range accounts {
		if got := recs[acct+"/us-east-1"].Names(); !slices.Equal(got, []string{"svc-" + acct}) {
			t.Errorf("scope %s sees %v, want only its own repository", acct, got)
		}
	}
}

func TestMotoFixPlanApplyIdempotent(t *testing.T) {
	u := motoEnv(t)
	c := seedClient(u, "us-east-1", nil)
	seed(t, c, "web/legacy", types.ImageTagMutabilityMutable)
	seed(t, c, "web/excl", types.ImageTagMutabilityImmutableWithExclusion, "latest", "v*")
	seed(t, c, "web/mutexcl", types.ImageTagMutabilityMutableWithExclusion, "release-*")
	seed(t, c, "web/ok", types.ImageTagMutabilityImmutable)
	pol := providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev-*", "bad/pattern"}}
	want := map[string]providers.Immutability{
		"web/legacy":  {Mode: providers.ModePartial, Native: nativeImmutableExclude, MutablePatterns: []string{"latest", "dev-*"}},
		"web/excl":    {Mode: providers.ModePartial, Native: nativeImmutableExclude, MutablePatterns: []string{"latest"}},
		"web/mutexcl": {Mode: providers.ModePartial, Native: nativeImmutableExclude, MutablePatterns: []string{"latest", "dev-*"}},
		"web/ok":      {Mode: providers.ModeImmutable, Native: nativeImmutable},
	}

	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: u})
	recs, _ := testutil.ScanEach(t, p)
	j := &testutil.Observer{}
	for _, r := range recs[motoAccount+"/us-east-1"].Repos() {
		ch, err := p.Plan(t.Context(), r, pol)
		if err != nil {
			t.Fatalf("plan %s: %v", r.Name, err)
		}
		w := want[r.Name]
		if ch.To.Native != w.Native || !sameSet(ch.To.MutablePatterns, w.MutablePatterns) {
			t.Errorf("plan %s: to %s %v, want %s %v", r.Name, ch.To.Native, ch.To.MutablePatterns, w.Native, w.MutablePatterns)
		}
		if (r.Name == "web/ok") != ch.Noop {
			t.Errorf("plan %s: noop=%v", r.Name, ch.Noop)
		}
		res, err := p.Apply(t.Context(), ch, j)
		if err != nil {
			t.Fatalf("apply %s: %v", r.Name, err)
		}
		if !res.Verified || res.After.Native != w.Native || !sameSet(res.After.MutablePatterns, w.MutablePatterns) {
			t.Errorf("apply %s: verified=%v after=%+v", r.Name, res.Verified, res.After)
		}
	}
	if got := len(j.Records()); got != 3 {
		t.Errorf("journal has %d writes, want 3 (one per non-noop change): %+v", got, j.Records())
	}
	for _, w := range j.Records() {
		if w.Call != opPutMutability || w.Before == "" || !strings.HasPrefix(w.After, nativeImmutableExclude) || w.Err != "" {
			t.Errorf("journal record %+v", w)
		}
	}

	// Second pass: the fresh listing plans nothing and writes nothing.
	recs, _ = testutil.ScanEach(t, p)
	j2 := &testutil.Observer{}
	for _, r := range recs[motoAccount+"/us-east-1"].Repos() {
		ch, err := p.Plan(t.Context(), r, pol)
		if err != nil {
			t.Fatalf("second plan %s: %v", r.Name, err)
		}
		if !ch.Noop || ch.Writes != 0 {
			t.Errorf("second plan %s not a noop: %+v", r.Name, ch)
		}
		res, err := p.Apply(t.Context(), ch, j2)
		if err != nil || res.Writes != 0 || !res.Verified {
			t.Errorf("second apply %s: res=%+v err=%v", r.Name, res, err)
		}
	}
	if len(j2.Records()) != 0 {
		t.Errorf("second apply wrote: %+v", j2.Records())
	}
}

func TestMotoTemplatesUnsupported(t *testing.T) {
	u := motoEnv(t)
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1", "eu-west-1"}}, Endpoint: u})
	changes, err := p.PlanDefaults(t.Context(), providers.FixPolicy{})
	if err == nil || len(changes) != 0 {
		t.Fatalf("PlanDefaults = %v, %v; want per-scope errors", changes, err)
	}
	for _, s := range []string{motoAccount + "/us-east-1", motoAccount + "/eu-west-1"} {
		if !strings.Contains(err.Error(), "scope "+s+": ") || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("error %q does not explain scope %s", err, s)
		}
	}
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("kind = %s", providers.ClassOf(err))
	}
}
