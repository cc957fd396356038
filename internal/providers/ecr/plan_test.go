package ecr

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestImmutabilityMapping(t *testing.T) {
	wf := func(fs ...string) []types.ImageTagMutabilityExclusionFilter {
		var out []types.ImageTagMutabilityExclusionFilter
		for _, f := range fs {
			out = append(out, types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard})
		}
		return out
	}
	tests := []struct {
		mode      types.ImageTagMutability
		filters   []types.ImageTagMutabilityExclusionFilter
		want      providers.Mode
		mutable   []string
		immutable []string
		err       bool
	}{
		{"IMMUTABLE", nil, providers.ModeImmutable, nil, nil, false},
		{"MUTABLE", nil, providers.ModeMutable, nil, nil, false},
		{"IMMUTABLE_WITH_EXCLUSION", wf("latest", "*"), providers.ModePartial, []string{"latest", "*"}, nil, false},
		{"MUTABLE_WITH_EXCLUSION", wf("v*"), providers.ModePartial, []string{"*"}, []string{"v*"}, false},
		// Filters on plain IMMUTABLE are not expected; treated as exclusions.
		{"IMMUTABLE", wf("dev"), providers.ModePartial, []string{"dev"}, nil, false},
		{"", nil, providers.ModeUnknown, nil, nil, true},
		{"SOMETIMES", nil, providers.ModeUnknown, nil, nil, true},
		// An unknown filter type never equals a plain allowed pattern.
		{"IMMUTABLE_WITH_EXCLUSION", []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("latest"), FilterType: "REGEX"}},
			providers.ModePartial, []string{"REGEX:latest"}, nil, false},
	}
	for _, tc := range tests {
		got := immutability(tc.mode, tc.filters)
		if got.Mode != tc.want || got.Native != string(tc.mode) || !slices.Equal(got.MutablePatterns, tc.mutable) ||
			!slices.Equal(got.ImmutablePatterns, tc.immutable) || (got.Error != "") != tc.err {
			t.Errorf("%q %v: got %+v", tc.mode, tc.filters, got)
		}
	}
}

// TestPlanNeverWidens checks the fix rules over every mode and a range of
// policies: the planned setting never leaves a tag mutable that is not both
// allowed by the policy and (for immutable-based settings) already mutable.
func TestPlanNeverWidens(t *testing.T) {
	p := &Provider{name: "aws-test"}
	repos := []providers.Immutability{
		{Mode: providers.ModeImmutable, Native: "IMMUTABLE"},
		{Mode: providers.ModeMutable, Native: "MUTABLE"},
		{Mode: providers.ModePartial, Native: "IMMUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"latest"}},
		{Mode: providers.ModePartial, Native: "IMMUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"latest", "*", "v*"}},
		{Mode: providers.ModePartial, Native: "IMMUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"dev-*", "nightly"}},
		{Mode: providers.ModePartial, Native: "MUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"*"}, ImmutablePatterns: []string{"v*"}},
		{Mode: providers.ModePartial, Native: "MUTABLE_WITH_EXCLUSION", MutablePatterns: []string{"*"}, ImmutablePatterns: []string{"latest", "release-*"}},
		{Mode: providers.ModePartial, Native: "IMMUTABLE", MutablePatterns: []string{"latest"}},
	}
	policies := [][]string{
		nil,
		{"latest"},
		{" latest ", "dev-*"},
		{"*", "**"},
		{"v*"},
		{"feature/*", "a b", strings.Repeat("x", 129), "ok"},
		{"a", "b", "c", "d", "e", "f", "g"},
		{"nightly", "dev-*", "latest", "nightly"},
		{"release-*-rc", "*-rc", "lat*"},
	}
	for _, from := range repos {
		for _, allowed := range policies {
			r := providers.Repository{Scope: "111111111111/us-east-1", Name: "svc", Immutability: from}
			c, err := p.Plan(t.Context(), r, providers.FixPolicy{MutableTagsAllowed: allowed})
			if err != nil {
				t.Fatalf("%s %v / %q: %v", from.Native, from.MutablePatterns, allowed, err)
			}
			name := from.Native + " " + strings.Join(from.MutablePatterns, ",") + " / " + strings.Join(allowed, ",")
			ok := map[string]bool{}
			for _, a := range allowed {
				ok[strings.TrimSpace(a)] = true
			}
			if c.Noop {
				if c.Writes != 0 || c.To.Native != from.Native {
					t.Errorf("%s: inconsistent noop %+v", name, c)
				}
				// A noop is only right when nothing is left mutable that the
				// policy does not allow.
				if from.Native == "MUTABLE" || from.Native == "MUTABLE_WITH_EXCLUSION" {
					t.Errorf("%s: noop on a mutable setting", name)
				}
				for _, m := range from.MutablePatterns {
					if !ok[m] || allStars(m) {
						t.Errorf("%s: noop keeps %q", name, m)
					}
				}
				continue
			}
			if c.Writes != 1 || !strings.HasPrefix(c.Action, "PutImageTagMutability(repositoryName=svc, imageTagMutability="+c.To.Native) {
				t.Errorf("%s: change %+v", name, c)
			}
			switch c.To.Native {
			case "IMMUTABLE":
				if len(c.To.MutablePatterns) != 0 || c.To.Mode != providers.ModeImmutable {
					t.Errorf("%s: %+v", name, c.To)
				}
			case "IMMUTABLE_WITH_EXCLUSION":
				if len(c.To.MutablePatterns) == 0 || len(c.To.MutablePatterns) > maxFilters {
					t.Errorf("%s: filters %v", name, c.To.MutablePatterns)
				}
			default:
				t.Fatalf("%s: planned %s", name, c.To.Native)
			}
			immutableBased := from.Native == "IMMUTABLE" || from.Native == "IMMUTABLE_WITH_EXCLUSION"
			for _, f := range c.To.MutablePatterns {
				if !ok[f] || allStars(f) || !filterRE.MatchString(f) {
					t.Errorf("%s: keeps %q: not allowed by the policy, all-star or not a valid ECR filter", name, f)
				}
				if immutableBased && !slices.Contains(from.MutablePatterns, f) {
					t.Errorf("%s: adds exclusion %q to an immutable setting", name, f)
				}
				// MUTABLE_WITH_EXCLUSION's filters are immutable tags: a
				// kept exclusion matching one of them would unlock it.
				for _, imm := range from.ImmutablePatterns {
					if globsIntersect(f, imm) {
						t.Errorf("%s: keeps %q mutable, which makes tags matching the immutable filter %q mutable", name, f, imm)
					}
				}
			}
			if len(c.To.MutablePatterns) != len(slices.Compact(slices.Sorted(slices.Values(c.To.MutablePatterns)))) {
				t.Errorf("%s: duplicate filters %v", name, c.To.MutablePatterns)
			}
		}
	}
}

// The test above checks plans with globsIntersect; it must itself be right.
func TestGlobsIntersect(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"latest", "latest", true}, {"latest", "lat*", true}, {"v*", "*-rc", true}, {"release-*", "*-rc", true},
		{"v*", "dev-*", false}, {"latest", "v*", false}, {"a*b", "*c", false}, {"a*b", "*b", true},
		{"*", "x", true}, {"", "*", true}, {"", "a", false}, {"ab*", "*ba", true}, {"a*a", "aa", true}, {"a*a", "a", false},
	} {
		if got := globsIntersect(tc.p, tc.q); got != tc.want {
			t.Errorf("globsIntersect(%q, %q) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
		if got := globsIntersect(tc.q, tc.p); got != tc.want {
			t.Errorf("globsIntersect(%q, %q) = %v, want %v", tc.q, tc.p, got, tc.want)
		}
	}
}

func TestPlanRefusesUnread(t *testing.T) {
	p := &Provider{name: "aws-test"}
	for _, m := range []providers.Immutability{
		{Mode: providers.ModeUnknown, Error: "AccessDeniedException: nope"},
		{Mode: providers.ModeUnsupported},
		{Mode: providers.ModePartial, Native: "WHATEVER"},
	} {
		if _, err := p.Plan(t.Context(), providers.Repository{Name: "x", Immutability: m}, providers.FixPolicy{}); err == nil {
			t.Errorf("%+v: planned without an error", m)
		}
	}
}

// fakeECR is a scripted ecrAPI for read-back checks.
type fakeECR struct {
	ecrAPI // nil: any call not scripted panics, which fails the test
	puts   []*ecr.PutImageTagMutabilityInput
	after  types.Repository
}

func (f *fakeECR) PutImageTagMutability(_ context.Context, in *ecr.PutImageTagMutabilityInput, _ ...func(*ecr.Options)) (*ecr.PutImageTagMutabilityOutput, error) {
	f.puts = append(f.puts, in)
	return &ecr.PutImageTagMutabilityOutput{}, nil
}

func (f *fakeECR) DescribeRepositories(_ context.Context, in *ecr.DescribeRepositoriesInput, _ ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error) {
	if !slices.Equal(in.RepositoryNames, []string{"svc"}) || aws.ToString(in.RegistryId) != "111111111111" {
		return nil, errors.New("unexpected read-back input")
	}
	return &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{f.after}}, nil
}

func TestApplyVerifiesReadBack(t *testing.T) {
	p := &Provider{name: "aws-test", log: providers.Options{}.Log()}
	filters := func(fs ...string) []types.ImageTagMutabilityExclusionFilter {
		var out []types.ImageTagMutabilityExclusionFilter
		for _, f := range fs {
			out = append(out, types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard})
		}
		return out
	}
	tests := []struct {
		name     string
		after    types.Repository
		verified bool
	}{
		{"matches (order ignored)", types.Repository{RepositoryName: aws.String("svc"), ImageTagMutability: "IMMUTABLE_WITH_EXCLUSION", ImageTagMutabilityExclusionFilters: filters("dev-*", "latest")}, true},
		{"mode differs", types.Repository{RepositoryName: aws.String("svc"), ImageTagMutability: "MUTABLE"}, false},
		{"filter set differs", types.Repository{RepositoryName: aws.String("svc"), ImageTagMutability: "IMMUTABLE_WITH_EXCLUSION", ImageTagMutabilityExclusionFilters: filters("latest", "*")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeECR{after: tc.after}
			sc := &scope{name: "111111111111/us-east-1", account: "111111111111", region: "us-east-1", api: f}
			p.scopes = []*scope{sc}
			r := providers.Repository{Scope: sc.name, Name: "svc", Handle: sc,
				Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}}
			c, err := p.Plan(t.Context(), r, providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev-*"}})
			if err != nil {
				t.Fatal(err)
			}
			j := &testutil.Observer{}
			res, err := p.Apply(t.Context(), c, j)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verified != tc.verified || res.After.Native != string(tc.after.ImageTagMutability) {
				t.Errorf("verified=%v after=%+v", res.Verified, res.After)
			}
			if len(f.puts) != 1 || aws.ToString(f.puts[0].RegistryId) != sc.account || f.puts[0].ImageTagMutability != "IMMUTABLE_WITH_EXCLUSION" ||
				!slices.Equal(filterPatterns(f.puts[0].ImageTagMutabilityExclusionFilters), []string{"latest", "dev-*"}) || len(j.Records()) != 1 {
				t.Errorf("puts=%+v journal=%+v", f.puts, j.Records())
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		code     string
		status   int
		optional bool
		want     providers.ErrorClass
	}{
		{"AccessDeniedException", 400, false, providers.ErrDenied},
		{"UnrecognizedClientException", 400, false, providers.ErrDenied},
		{"RepositoryNotFoundException", 400, false, providers.ErrNotFound},
		{"ThrottlingException", 400, false, providers.ErrThrottled},
		{"UnknownOperationException", 400, false, providers.ErrUnsupported},
		{"", 500, true, providers.ErrUnsupported},
		{"", 500, false, providers.ErrOther},
		{"ServerException", 500, true, providers.ErrOther},
		{"InvalidParameterException", 400, true, providers.ErrOther},
	}
	for _, tc := range tests {
		if got := classify(tc.code, tc.status, tc.optional); got != tc.want {
			t.Errorf("classify(%q, %d, %v) = %s, want %s", tc.code, tc.status, tc.optional, got, tc.want)
		}
	}
	err := apiError(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, false)
	var ae *providers.APIError
	if !errors.As(err, &ae) || ae.Class != providers.ErrDenied || ae.Message != "no" {
		t.Errorf("apiError = %#v", err)
	}
	if err := apiError(context.Canceled, false); !errors.Is(err, context.Canceled) || providers.ClassOf(err) != providers.ErrOther {
		t.Errorf("context error wrapped: %v", err)
	}
}

func TestNewValidatesWithoutCallingAPIs(t *testing.T) {
	isolateAWS(t)
	for _, tc := range []struct {
		regions, roles []string
		endpoint, want string
	}{
		{nil, nil, "", "no region"},
		{[]string{"us-east-1", "us-east-1"}, nil, "", "duplicate region"},
		{[]string{"us-east-1"}, []string{"arn:aws:iam::12345:role/x"}, "", "role_arns[0]"},
		{[]string{"us-east-1"}, []string{"arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"}, "", "already reached"},
		{[]string{"us-east-1"}, nil, "ftp://x", "endpoint"},
	} {
		_, err := New(t.Context(), configProvider(tc.regions, tc.roles, tc.endpoint), providers.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v %q: err %v, want %q", tc.regions, tc.roles, tc.endpoint, err, tc.want)
		}
	}
	// AWS_REGION fills in for an empty regions list; nothing is contacted
	// (the endpoint is a closed port).
	t.Setenv("AWS_REGION", "ap-southeast-2")
	pr, err := New(t.Context(), configProvider(nil, []string{"arn:aws:iam::111111111111:role/a"}, "http://127.0.0.1:1"), providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := pr.(*Provider).Scopes(t.Context())
	if err != nil || len(ss) != 1 || ss[0].Name != "111111111111/ap-southeast-2" {
		t.Errorf("scopes %v err %v", ss, err)
	}
}

func TestNewLimiter(t *testing.T) {
	if newLimiter(config.Rate{}) != nil {
		t.Error("zero rate must not install a limiter")
	}
	l := newLimiter(config.Rate{RequestsPerSecond: 0.5, MaxConcurrent: 3})
	// The limiter itself (burst, slots) is httpapi's TestLimiter.
	if l == nil || l.l.Rate() != 0.5 {
		t.Errorf("limiter %+v", l)
	}
}
