package ecr

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

const emuAccount = ecremu.DefaultAccount

// startEmu starts the in-process ECR emulator and points the SDK at it.
func startEmu(t *testing.T, o ecremu.Options) *ecrEmu {
	t.Helper()
	web := httptest.NewServer(ecremu.New(o).Handler())
	t.Cleanup(web.Close)
	s := &ecrEmu{Server: web.Config.Handler.(*ecremu.Server), web: web}
	isolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", s.URL())
	return s
}

// ecrEmu is an emulator and the test server it is served on.
type ecrEmu struct {
	*ecremu.Server
	web *httptest.Server
}

// URL is the emulator's base URL.
func (e *ecrEmu) URL() string { return e.web.URL }

func mustCreate(t *testing.T, s *ecrEmu, region, name, mode string, excl ...string) {
	t.Helper()
	if err := s.CreateRepository(emuAccount, region, name, mode, excl...); err != nil {
		t.Fatalf("seed %s/%s: %v", region, name, err)
	}
}

// streamCheck is an Emitter that records, at the first repository, how many
// DescribeRepositories calls had been made: with streaming that is one.
type streamCheck struct {
	testutil.Emitter
	calls      *emulator.Counter
	firstCalls int64
	seen       map[string]bool
	dup        bool
}

func (s *streamCheck) Repository(r providers.Repository) error {
	if s.seen == nil {
		s.seen = map[string]bool{}
		s.firstCalls = s.calls.Get("DescribeRepositories")
	}
	s.dup = s.dup || s.seen[r.Name]
	s.seen[r.Name] = true
	return nil
}

func TestEmulatorPaginationStreams(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	regions := []string{"us-east-1", "eu-west-1"}
	for _, r := range regions {
		for i := range 2500 {
			mustCreate(t, s, r, fmt.Sprintf("team%d/svc-%04d", i%7, i), ecremu.Immutable)
		}
	}
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: regions}, Endpoint: s.URL()})
	ss, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range ss {
		s.Calls().Reset()
		e := &streamCheck{calls: s.Calls()}
		if err := p.Repositories(t.Context(), sc, e); err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if len(e.seen) != 2500 || e.dup {
			t.Errorf("%s: %d distinct repositories (duplicates: %v), want 2500", sc.Name, len(e.seen), e.dup)
		}
		if got := s.Calls().Get("DescribeRepositories"); got != 3 {
			t.Errorf("%s: %d DescribeRepositories calls, want 3 pages of 1000", sc.Name, got)
		}
		if e.firstCalls != 1 {
			t.Errorf("%s: first repository emitted after %d calls, want 1 (stream per page)", sc.Name, e.firstCalls)
		}
	}
}

func TestEmulatorDeniedRegionIsAScopeError(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	for i := range 30 {
		mustCreate(t, s, "us-east-1", fmt.Sprintf("ok-%02d", i), ecremu.Mutable)
	}
	mustCreate(t, s, "eu-west-1", "hidden", ecremu.Mutable)
	s.Deny(emuAccount, "eu-west-1", "DescribeRepositories")
	s.SetFaults(emulator.Faults{PageSize: 7}) // several pages in the readable region

	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"eu-west-1", "us-east-1"}}, Endpoint: s.URL()})
	recs, errs := testutil.ScanEach(t, p)
	if got := len(recs[emuAccount+"/us-east-1"].Repos()); got != 30 {
		t.Errorf("us-east-1 emitted %d repositories, want 30", got)
	}
	err := errs[emuAccount+"/eu-west-1"]
	var ae *providers.APIError
	if !errors.As(err, &ae) || ae.Class != providers.ErrDenied || ae.Code != "AccessDeniedException" || !strings.Contains(ae.Message, "ecr:DescribeRepositories") {
		t.Fatalf("eu-west-1 error = %v, want a denied APIError with the API's code and message", err)
	}
	if !strings.Contains(err.Error(), emuAccount+"/eu-west-1") {
		t.Errorf("error %q does not name the scope", err)
	}
	if len(errs) != 1 {
		t.Errorf("scope errors = %v", errs)
	}
}

func TestEmulatorPTC(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	if err := s.CreatePullThroughCacheRule(emuAccount, "us-east-1", "ecr-public", "public.ecr.aws"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePullThroughCacheRule(emuAccount, "us-east-1", "quay", "quay.io"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ecr-public", "ecr-public/library/nginx", "ecr-publicity/app", "app/ecr-public", "quay/coreos/etcd"} {
		mustCreate(t, s, "us-east-1", n, ecremu.Mutable)
	}
	// One rule per page: the rule lookup must follow nextToken too.
	s.SetFaults(emulator.Faults{PageSize: 1})
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})

	t.Run("exempt by prefix", func(t *testing.T) {
		recs, errs := testutil.ScanEach(t, p)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		rec := recs[emuAccount+"/us-east-1"]
		if len(rec.Warnings()) != 0 {
			t.Errorf("unexpected warnings %+v", rec.Warnings())
		}
		want := map[string]bool{"ecr-public": true, "ecr-public/library/nginx": true, "ecr-publicity/app": false, "app/ecr-public": false, "quay/coreos/etcd": true}
		for name, r := range rec.ByName() {
			if got := r.DefaultExemption != ""; got != want[name] {
				t.Errorf("%s: exemption %q, want exempt=%v", name, r.DefaultExemption, want[name])
			}
			if want[name] && !strings.Contains(r.DefaultExemption, "prefix "+strings.Split(name, "/")[0]+")") {
				t.Errorf("%s: exemption %q does not name the prefix", name, r.DefaultExemption)
			}
		}
	})

	t.Run("lookup denied holds every write of the scope back", func(t *testing.T) {
		s.Deny(emuAccount, "us-east-1", "DescribePullThroughCacheRules")
		recs, errs := testutil.ScanEach(t, p)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		rec := recs[emuAccount+"/us-east-1"]
		if len(rec.Repos()) != 5 {
			t.Errorf("emitted %d repositories, want 5", len(rec.Repos()))
		}
		for _, r := range rec.Repos() {
			if r.DefaultExemption != "" {
				t.Errorf("%s exempt although the rules could not be read", r.Name)
			}
			// ecr-publicity/app cannot be told from a cached repository
			// either: without the rules, every repository is held back.
			if !strings.Contains(r.HoldWrites, "pull-through-cache rules of "+emuAccount+"/us-east-1 could not be read") ||
				!strings.Contains(r.HoldWrites, "denied") || !strings.Contains(r.HoldWrites, "pull_through_cache_prefixes") {
				t.Errorf("%s: HoldWrites = %q", r.Name, r.HoldWrites)
			}
		}
		if ws := rec.Warnings(); len(ws) != 1 || ws[0].Code != warnPTCLookup || ws[0].Scope != emuAccount+"/us-east-1" ||
			!strings.Contains(ws[0].Message, "not authorized") || !strings.Contains(ws[0].Message, string(providers.ErrDenied)) ||
			!strings.Contains(ws[0].Message, "held back") {
			t.Errorf("warnings = %+v", ws)
		}
	})

	t.Run("declared prefixes replace the denied lookup", func(t *testing.T) {
		// The deny from the previous subtest is still in place.
		pd := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}, PullThroughCachePrefixes: []string{"quay"}}, Endpoint: s.URL()})
		s.Calls().Reset()
		recs, errs := testutil.ScanEach(t, pd)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if n := s.Calls().Get("DescribePullThroughCacheRules"); n != 0 {
			t.Errorf("%d DescribePullThroughCacheRules calls with declared prefixes, want 0", n)
		}
		rec := recs[emuAccount+"/us-east-1"]
		if ws := rec.Warnings(); len(ws) != 0 {
			t.Errorf("warnings = %+v", ws)
		}
		for name, r := range rec.ByName() {
			if r.HoldWrites != "" {
				t.Errorf("%s held back: %q", name, r.HoldWrites)
			}
			if got, want := r.DefaultExemption != "", strings.HasPrefix(name, "quay/"); got != want {
				t.Errorf("%s: exemption %q, want exempt=%v", name, r.DefaultExemption, want)
			}
		}
		// [] declares that there is no rule at all.
		pn := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}, PullThroughCachePrefixes: []string{}}, Endpoint: s.URL()})
		recs, _ = testutil.ScanEach(t, pn)
		for name, r := range recs[emuAccount+"/us-east-1"].ByName() {
			if r.HoldWrites != "" || r.DefaultExemption != "" {
				t.Errorf("%s: hold %q exemption %q with no declared rule", name, r.HoldWrites, r.DefaultExemption)
			}
		}
	})
}

// An endpoint that does not implement the rules at all (moto's bare 500)
// has none: nothing is held back, and a warning says why.
func TestEmulatorPTCUnsupportedCountsAsNone(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	mustCreate(t, s, "us-east-1", "ecr-public/library/nginx", ecremu.Mutable)
	s.Unsupported("DescribePullThroughCacheRules")
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})
	recs, errs := testutil.ScanEach(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rec := recs[emuAccount+"/us-east-1"]
	for _, r := range rec.Repos() {
		if r.HoldWrites != "" || r.DefaultExemption != "" {
			t.Errorf("%s: hold %q exemption %q", r.Name, r.HoldWrites, r.DefaultExemption)
		}
	}
	if ws := rec.Warnings(); len(ws) != 1 || ws[0].Code != warnPTCUnsupported || !strings.Contains(ws[0].Message, "counted as no pull-through-cache rules") {
		t.Errorf("warnings = %+v", ws)
	}
}

// With the rules throttled past the retries, fix --apply writes nothing to
// the scope: the change is listed held back with the reason.
func TestEmulatorPTCThrottledHoldsFixBack(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	mustCreate(t, s, "us-east-1", "ecr-public/library/nginx", ecremu.Mutable)
	if err := s.CreatePullThroughCacheRule(emuAccount, "us-east-1", "ecr-public", "public.ecr.aws"); err != nil {
		t.Fatal(err)
	}
	s.Deny(emuAccount, "us-east-1", "DescribePullThroughCacheRules")
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})
	recs, _ := testutil.ScanEach(t, p)
	r := recs[emuAccount+"/us-east-1"].ByName()["ecr-public/library/nginx"]
	if r.HoldWrites == "" || r.DefaultExemption != "" {
		t.Fatalf("hold %q exemption %q", r.HoldWrites, r.DefaultExemption)
	}
}

func TestEmulatorThrottlingRiddenOut(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	for i := range 120 {
		mustCreate(t, s, "us-east-1", fmt.Sprintf("r%03d", i), ecremu.Immutable)
	}
	s.SetFaults(emulator.Faults{PageSize: 10, ThrottleRate: 0.3, Seed: 42})
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})
	recs, errs := testutil.ScanEach(t, p)
	if len(errs) > 0 {
		t.Fatalf("throttling was not ridden out: %v", errs)
	}
	if got := len(recs[emuAccount+"/us-east-1"].ByName()); got != 120 {
		t.Errorf("emitted %d distinct repositories, want 120", got)
	}
	if got := s.Calls().Get("DescribeRepositories"); got <= 12 {
		t.Errorf("%d DescribeRepositories calls for 12 pages: no throttle was injected, the test proves nothing", got)
	}

	// A throttle that never ends surfaces as a throttled scope error after
	// the retryer's attempts, not as an endless loop.
	s.SetFaults(emulator.Faults{ThrottleRate: 1})
	s.Calls().Reset()
	_, errs = testutil.ScanEach(t, p)
	err := errs[emuAccount+"/us-east-1"]
	if !errors.Is(err, providers.ErrThrottled) {
		t.Errorf("error = %v, want throttled", err)
	}
	if got := s.Calls().Get("DescribeRepositories"); got != maxAttempts {
		t.Errorf("%d attempts, want %d (one retry loop, the SDK's)", got, maxAttempts)
	}
}

func TestEmulatorApplyJournalAndVerify(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	mustCreate(t, s, "us-east-1", "web/legacy", ecremu.Mutable)
	mustCreate(t, s, "us-east-1", "web/frontend", ecremu.ImmutableWithExclusion, "latest", "*")
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})
	recs, _ := testutil.ScanEach(t, p)
	repos := recs[emuAccount+"/us-east-1"].ByName()
	pol := providers.FixPolicy{MutableTagsAllowed: []string{" latest "}}

	j := &testutil.Observer{}
	for _, tc := range []struct {
		name, action string
		after        []string
	}{
		{"web/legacy", "PutImageTagMutability(repositoryName=web/legacy, imageTagMutability=IMMUTABLE_WITH_EXCLUSION, imageTagMutabilityExclusionFilters=[latest])", []string{"latest"}},
		{"web/frontend", "PutImageTagMutability(repositoryName=web/frontend, imageTagMutability=IMMUTABLE_WITH_EXCLUSION, imageTagMutabilityExclusionFilters=[latest])", []string{"latest"}},
	} {
		ch, err := p.Plan(t.Context(), repos[tc.name], pol)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Action != tc.action || ch.Writes != 1 {
			t.Errorf("%s: action %q writes %d", tc.name, ch.Action, ch.Writes)
		}
		res, err := p.Apply(t.Context(), ch, j)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified || res.Writes != 1 || res.After.Native != nativeImmutableExclude || !slices.Equal(res.After.MutablePatterns, tc.after) {
			t.Errorf("%s: result %+v", tc.name, res)
		}
		st, _ := s.Repository(emuAccount, "us-east-1", tc.name)
		if st.Mutability != ecremu.ImmutableWithExclusion || !slices.Equal(st.Exclusions, tc.after) {
			t.Errorf("%s: emulator state %+v", tc.name, st)
		}
	}
	w := j.Records()
	if len(w) != 2 || len(j.Steps()) != 2 {
		t.Fatalf("journal = %+v (progress %d)", w, len(j.Steps()))
	}
	if w[0] != (providers.WriteRecord{Call: "PutImageTagMutability", Target: "web/legacy", Before: "MUTABLE", After: "IMMUTABLE_WITH_EXCLUSION [latest]"}) {
		t.Errorf("record 0 = %+v", w[0])
	}
	if w[1].Before != "IMMUTABLE_WITH_EXCLUSION [latest, *]" || w[1].After != "IMMUTABLE_WITH_EXCLUSION [latest]" {
		t.Errorf("record 1 = %+v", w[1])
	}

	// A failed write is journalled with its error and returned.
	s.Deny(emuAccount, "us-east-1", "PutImageTagMutability")
	mustCreate(t, s, "us-east-1", "web/denied", ecremu.Mutable)
	ch, err := p.Plan(t.Context(), providers.Repository{Provider: "aws-test", Scope: emuAccount + "/us-east-1", Name: "web/denied",
		Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}}, pol)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(t.Context(), ch, j)
	if !errors.Is(err, providers.ErrDenied) || res.Verified || res.Writes != 0 {
		t.Errorf("denied apply: res=%+v err=%v", res, err)
	}
	if w := j.Records(); len(w) != 3 || !strings.Contains(w[2].Err, "AccessDeniedException") {
		t.Errorf("denied write not journalled: %+v", w)
	}
}

func TestEmulatorTemplates(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	regions := []string{"us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"}
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: regions}, Endpoint: s.URL()})
	pol := providers.FixPolicy{MutableTagsAllowed: []string{"latest", "*"}}
	// eu-west-1 already has a loose ROOT template with fields to preserve;
	// ap-south-1 is already immutable; sa-east-1's also applies to
	// pull-through caches.
	seedTmpl := func(region string, m types.ImageTagMutability, applied ...types.RCTAppliedFor) {
		c := ecr.New(ecr.Options{Region: region, BaseEndpoint: aws.String(s.URL()), Credentials: staticTestCreds()})
		_, err := c.CreateRepositoryCreationTemplate(t.Context(), &ecr.CreateRepositoryCreationTemplateInput{
			Prefix: aws.String("ROOT"), AppliedFor: applied,
			ImageTagMutability: m, Description: aws.String("owned by platform team"),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seedTmpl("eu-west-1", types.ImageTagMutabilityMutable, types.RCTAppliedForReplication)
	seedTmpl("ap-south-1", types.ImageTagMutabilityImmutable, types.RCTAppliedForReplication)
	seedTmpl("sa-east-1", types.ImageTagMutabilityMutable, types.RCTAppliedForCreateOnPush, types.RCTAppliedForPullThroughCache)

	changes, err := p.PlanDefaults(t.Context(), pol)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]providers.Change{}
	for _, c := range changes {
		if c.Target != targetTemplate || c.Repository != "ROOT" {
			t.Errorf("change %+v", c)
		}
		by[strings.TrimPrefix(c.Scope, emuAccount+"/")] = c
	}
	// Pull-through caches are left out of a new template, and the policy's
	// allowed tag stays mutable ("*" never becomes an exclusion).
	if c := by["us-east-1"]; c.Noop || c.HeldBack != "" || c.Action != "CreateRepositoryCreationTemplate(prefix=ROOT, appliedFor=[CREATE_ON_PUSH, REPLICATION], imageTagMutability=IMMUTABLE_WITH_EXCLUSION, imageTagMutabilityExclusionFilters=[latest])" {
		t.Errorf("us-east-1: %+v", c)
	}
	if c := by["eu-west-1"]; c.Noop || !strings.HasPrefix(c.Action, "UpdateRepositoryCreationTemplate(prefix=ROOT, imageTagMutability=IMMUTABLE_WITH_EXCLUSION, imageTagMutabilityExclusionFilters=[latest]") || c.From.Native != "MUTABLE" {
		t.Errorf("eu-west-1: %+v", c)
	}
	if c := by["ap-south-1"]; !c.Noop || c.Writes != 0 {
		t.Errorf("ap-south-1: %+v", c)
	}
	if c := by["sa-east-1"]; c.Noop || !strings.Contains(c.HeldBack, "PULL_THROUGH_CACHE") {
		t.Errorf("sa-east-1 not held back: %+v", c)
	}

	j := &testutil.Observer{}
	for _, c := range changes {
		if c.HeldBack != "" || c.Noop {
			continue
		}
		res, err := p.Apply(t.Context(), c, j)
		if err != nil {
			t.Fatalf("%s: %v", c.Scope, err)
		}
		if !res.Verified || res.After.Native != nativeImmutableExclude || !slices.Equal(res.After.MutablePatterns, []string{"latest"}) {
			t.Errorf("%s: %+v", c.Scope, res)
		}
	}
	// Even a held-back change handed to Apply does not tighten a template
	// that applies to pull-through caches.
	if _, err := p.Apply(t.Context(), by["sa-east-1"], j); err == nil || !strings.Contains(err.Error(), "PULL_THROUGH_CACHE") {
		t.Errorf("sa-east-1 apply: %v", err)
	}
	if w := j.Records(); len(w) != 2 {
		t.Errorf("journal %+v, want a create and an update", w)
	}
	if st, ok := s.Template(emuAccount, "us-east-1", "ROOT"); !ok || st.Mutability != ecremu.ImmutableWithExclusion ||
		!slices.Equal(st.Exclusions, []string{"latest"}) || !sameSet(st.AppliedFor, []string{"CREATE_ON_PUSH", "REPLICATION"}) {
		t.Errorf("created template %+v", st)
	}
	if st, _ := s.Template(emuAccount, "eu-west-1", "ROOT"); st.Mutability != ecremu.ImmutableWithExclusion ||
		st.Description != "owned by platform team" || !slices.Equal(st.AppliedFor, []string{"REPLICATION"}) {
		t.Errorf("updated template lost its fields: %+v", st)
	}
	if st, _ := s.Template(emuAccount, "sa-east-1", "ROOT"); st.Mutability != ecremu.Mutable {
		t.Errorf("template applying to pull-through caches was changed: %+v", st)
	}

	again, err := p.PlanDefaults(t.Context(), pol)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if !c.Noop && c.HeldBack == "" {
			t.Errorf("second plan not a noop: %+v", c)
		}
	}
	// Nothing allowed: plain IMMUTABLE, the exclusion dropped.
	again, err = p.PlanDefaults(t.Context(), providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if strings.HasSuffix(c.Scope, "us-east-1") && (c.To.Native != nativeImmutable || !strings.Contains(c.Action, "imageTagMutability=IMMUTABLE,")) {
			t.Errorf("nothing allowed: %+v", c)
		}
	}

	s.Deny(emuAccount, "eu-west-1", "DescribeRepositoryCreationTemplates")
	s.Unsupported("CreateRepositoryCreationTemplate") // irrelevant to planning
	again, err = p.PlanDefaults(t.Context(), pol)
	if len(again) != 3 || !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "scope "+emuAccount+"/eu-west-1") {
		t.Errorf("denied scope: %d changes, err %v", len(again), err)
	}
}

func TestEmulatorTemplatesUnsupported(t *testing.T) {
	s := startEmu(t, ecremu.Options{})
	s.Unsupported("DescribeRepositoryCreationTemplates")
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: []string{"us-east-1"}}, Endpoint: s.URL()})
	_, err := p.PlanDefaults(t.Context(), providers.FixPolicy{})
	if !errors.Is(err, providers.ErrUnsupported) || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("err = %v", err)
	}
}

// TestEmulatorRolesAndLimiter lists two assumed-role accounts in two regions
// concurrently under max_concurrent=2 and checks the cap at the wire. It
// also proves STS follows the endpoint key when no STS variable is set.
func TestEmulatorRolesAndLimiter(t *testing.T) {
	emu := ecremu.New(ecremu.Options{Faults: emulator.Faults{Latency: 2 * time.Millisecond, PageSize: 2}})
	var inflight, peak atomic.Int64
	url := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		emu.ServeHTTP(w, r)
	}))
	isolateAWS(t)
	accounts := []string{"210987654321", "345678901234"}
	regions := []string{"us-east-1", "eu-west-1"}
	var arns []string
	for _, a := range accounts {
		arns = append(arns, "arn:aws:iam::"+a+":role/audit")
		for _, r := range regions {
			for i := range 5 {
				if err := emu.CreateRepository(a, r, fmt.Sprintf("%s-%s-%d", a[:3], r, i), ecremu.Mutable); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	p := newTestProvider(t, config.Provider{Settings: &Settings{Regions: regions, RoleARNs: arns}, Endpoint: url, Rate: config.Rate{MaxConcurrent: 2, RequestsPerSecond: 1000}})
	ss, err := p.Scopes(t.Context())
	if err != nil || len(ss) != 4 {
		t.Fatalf("scopes %v %v", ss, err)
	}
	var wg sync.WaitGroup
	recs := make([]*testutil.Emitter, len(ss))
	errs := make([]error, len(ss))
	for i, sc := range ss {
		recs[i] = &testutil.Emitter{}
		wg.Go(func() { errs[i] = p.Repositories(t.Context(), sc, recs[i]) })
	}
	wg.Wait()
	for i, sc := range ss {
		if errs[i] != nil {
			t.Fatalf("%s: %v", sc.Name, errs[i])
		}
		acct, region, _ := strings.Cut(sc.Name, "/")
		if len(recs[i].Repos()) != 5 {
			t.Errorf("%s: %d repositories", sc.Name, len(recs[i].Repos()))
		}
		for _, r := range recs[i].Repos() {
			if !strings.HasPrefix(r.Name, acct[:3]+"-"+region+"-") {
				t.Errorf("%s sees %s", sc.Name, r.Name)
			}
		}
	}
	if got := emu.Calls().Get("AssumeRole"); got != 2 {
		t.Errorf("%d AssumeRole calls, want one per account (credentials cached)", got)
	}
	// STS calls are not limited (see limiter.add), so allow one extra.
	if got := peak.Load(); got > 3 {
		t.Errorf("peak in-flight requests %d with max_concurrent=2", got)
	}
}
