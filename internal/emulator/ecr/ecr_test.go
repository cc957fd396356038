package ecr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/emulator"
)

func TestModesRoundTrip(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	modes := []struct {
		mode    types.ImageTagMutability
		filters []string
	}{
		{types.ImageTagMutabilityMutable, nil},
		{types.ImageTagMutabilityImmutable, nil},
		{types.ImageTagMutabilityImmutableWithExclusion, []string{"latest", "dev-*"}},
		{types.ImageTagMutabilityMutableWithExclusion, []string{"release-*"}},
	}
	for i, m := range modes {
		name := fmt.Sprintf("team/repo-%d", i)
		out, err := c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
			RepositoryName:                     aws.String(name),
			ImageTagMutability:                 m.mode,
			ImageTagMutabilityExclusionFilters: wildcard(m.filters...),
		})
		if err != nil {
			t.Fatalf("create %s: %v", m.mode, err)
		}
		if out.Repository.ImageTagMutability != m.mode || !slices.Equal(filterValues(out.Repository.ImageTagMutabilityExclusionFilters), m.filters) {
			t.Errorf("create %s echoed %s %v", m.mode, out.Repository.ImageTagMutability, filterValues(out.Repository.ImageTagMutabilityExclusionFilters))
		}
		if got := aws.ToString(out.Repository.RepositoryUri); got != "123456789012.dkr.ecr.us-east-1.amazonaws.com/"+name {
			t.Errorf("uri = %s", got)
		}
		if out.Repository.CreatedAt == nil || time.Since(*out.Repository.CreatedAt) > time.Minute {
			t.Errorf("createdAt = %v, want about now", out.Repository.CreatedAt)
		}
	}

	// Move every repository through every mode and read it back each time.
	for i := range modes {
		name := fmt.Sprintf("team/repo-%d", i)
		for _, m := range modes {
			put, err := c.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{
				RepositoryName:                     aws.String(name),
				ImageTagMutability:                 m.mode,
				ImageTagMutabilityExclusionFilters: wildcard(m.filters...),
			})
			if err != nil {
				t.Fatalf("put %s on %s: %v", m.mode, name, err)
			}
			if put.ImageTagMutability != m.mode || aws.ToString(put.RegistryId) != DefaultAccount {
				t.Errorf("put echoed %s registry %s", put.ImageTagMutability, aws.ToString(put.RegistryId))
			}
			desc, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
			if err != nil {
				t.Fatal(err)
			}
			r := desc.Repositories[0]
			if r.ImageTagMutability != m.mode || !slices.Equal(filterValues(r.ImageTagMutabilityExclusionFilters), m.filters) {
				t.Errorf("%s read back %s %v, want %s %v", name, r.ImageTagMutability, filterValues(r.ImageTagMutabilityExclusionFilters), m.mode, m.filters)
			}
			st, ok := s.Repository("", "us-east-1", name)
			if !ok || st.Mutability != string(m.mode) || !slices.Equal(st.Exclusions, m.filters) {
				t.Errorf("state %+v, want %s %v", st, m.mode, m.filters)
			}
		}
	}
}

func TestExclusionValidation(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	if err := s.CreateRepository("", "us-east-1", "app/x", Immutable); err != nil {
		t.Fatal(err)
	}
	iwe := types.ImageTagMutabilityImmutableWithExclusion
	cases := []struct {
		name    string
		mode    types.ImageTagMutability
		filters []types.ImageTagMutabilityExclusionFilter
	}{
		{"slash in filter", iwe, wildcard("release/*")},
		{"question mark", iwe, wildcard("v1.?")},
		{"129 chars", iwe, wildcard(strings.Repeat("a", 129))},
		{"empty filter", iwe, wildcard("")},
		{"six filters", iwe, wildcard("a", "b", "c", "d", "e", "f")},
		{"no filters with exclusion mode", types.ImageTagMutabilityMutableWithExclusion, nil},
		{"filters with IMMUTABLE", types.ImageTagMutabilityImmutable, wildcard("latest")},
		{"filters with MUTABLE", types.ImageTagMutabilityMutable, wildcard("latest")},
		{"regex filter type", iwe, []types.ImageTagMutabilityExclusionFilter{{FilterType: "REGEX", Filter: aws.String("latest")}}},
		{"unknown mode", "LOCKED", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{
				RepositoryName: aws.String("app/x"), ImageTagMutability: tc.mode, ImageTagMutabilityExclusionFilters: tc.filters,
			})
			var ipe *types.InvalidParameterException
			if !errors.As(err, &ipe) {
				t.Fatalf("PutImageTagMutability: want InvalidParameterException, got %v", err)
			}
			_, err = c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
				RepositoryName: aws.String("app/new"), ImageTagMutability: tc.mode, ImageTagMutabilityExclusionFilters: tc.filters,
			})
			if !errors.As(err, &ipe) {
				t.Fatalf("CreateRepository: want InvalidParameterException, got %v", err)
			}
			if st, _ := s.Repository("", "us-east-1", "app/x"); st.Mutability != Immutable || len(st.Exclusions) != 0 {
				t.Errorf("a refused call changed the setting: %+v", st)
			}
			if _, ok := s.Repository("", "us-east-1", "app/new"); ok {
				t.Error("a refused CreateRepository created the repository")
			}
		})
	}

	// Boundaries that must pass: 5 filters, 128 chars, every allowed character.
	_, err := c.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app/x"), ImageTagMutability: iwe,
		ImageTagMutabilityExclusionFilters: wildcard("a", "b", "c", "d", strings.Repeat("z", 128)),
	})
	if err != nil {
		t.Fatalf("5 filters: %v", err)
	}
	if _, err := c.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app/x"), ImageTagMutability: iwe, ImageTagMutabilityExclusionFilters: wildcard("Az09._-*"),
	}); err != nil {
		t.Fatalf("allowed characters: %v", err)
	}
	if err := s.CreateRepository("", "us-east-1", "app/y", MutableWithExclusion); err == nil {
		t.Error("Go CreateRepository accepted an exclusion mode without filters")
	}

	_, err = c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("app/x")})
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("duplicate create: want RepositoryAlreadyExistsException, got %v", err)
	}
	_, err = c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("Upper/Case")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("bad name: want InvalidParameterException, got %v", err)
	}
	_, err = c.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{RepositoryName: aws.String("ghost/x"), ImageTagMutability: types.ImageTagMutabilityImmutable})
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown repository: want RepositoryNotFoundException, got %v", err)
	}
}

func TestDescribeRepositoriesPagination(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	var want []string
	for i := range 23 {
		n := fmt.Sprintf("svc/r%02d", i)
		want = append(want, n)
		if err := s.CreateRepository("", "us-east-1", n, Mutable); err != nil {
			t.Fatal(err)
		}
	}

	names, pages := listNames(ctx, t, c, 7)
	if !slices.Equal(names, want) || pages != 4 {
		t.Errorf("limit 7: %d pages %v", pages, names)
	}
	if n := s.Calls().Get("DescribeRepositories"); n != 4 {
		t.Errorf("calls = %d, want 4", n)
	}

	// The injected page size caps maxResults.
	s.SetFaults(emulator.Faults{PageSize: 5})
	names, pages = listNames(ctx, t, c, 7)
	if !slices.Equal(names, want) || pages != 5 {
		t.Errorf("page size 5: %d pages %v", pages, names)
	}
	s.SetFaults(emulator.Faults{})

	// Without maxResults the service answers up to 100.
	for i := range 90 {
		if err := s.CreateRepository("", "us-east-1", fmt.Sprintf("zz/r%03d", i), Mutable); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Repositories) != 100 || out.NextToken == nil {
		t.Errorf("default page: %d repositories, token %v", len(out.Repositories), out.NextToken)
	}
	last, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{NextToken: out.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Repositories) != 13 || last.NextToken != nil {
		t.Errorf("last page: %d repositories, token %v", len(last.Repositories), last.NextToken)
	}

	bad := []struct {
		name string
		in   *awsecr.DescribeRepositoriesInput
	}{
		{"garbage token", &awsecr.DescribeRepositoriesInput{NextToken: aws.String("not-a-token!")}},
		{"token of another operation", &awsecr.DescribeRepositoriesInput{NextToken: aws.String(encodeToken("ListImages", "x"))}},
		{"names with maxResults", &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"svc/r01"}, MaxResults: aws.Int32(5)}},
		{"maxResults 0", &awsecr.DescribeRepositoriesInput{MaxResults: aws.Int32(0)}},
		{"maxResults 1001", &awsecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1001)}},
		{"malformed registry id", &awsecr.DescribeRepositoriesInput{RegistryId: aws.String("bad")}},
	}
	for _, b := range bad {
		_, err := c.DescribeRepositories(ctx, b.in)
		var ipe *types.InvalidParameterException
		if !errors.As(err, &ipe) {
			t.Errorf("%s: want InvalidParameterException, got %v", b.name, err)
		}
	}
	_, err = c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"svc/r01", "ghost/repo"}})
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "ghost/repo") {
		t.Errorf("unknown name: want RepositoryNotFoundException naming it, got %v", err)
	}
}

func TestTwoRegionsAndTwoAccounts(t *testing.T) {
	s := startServer(t, Options{})
	ctx := t.Context()
	seed := []struct{ account, region, name string }{
		{"", "us-east-1", "east/one"},
		{"", "us-east-1", "east/two"},
		{"", "eu-west-1", "west/one"},
		{otherAccount, "us-east-1", "other/east"},
		{otherAccount, "eu-west-1", "other/west"},
	}
	for _, r := range seed {
		if err := s.CreateRepository(r.account, r.region, r.name, Immutable); err != nil {
			t.Fatal(err)
		}
	}
	check := func(c *awsecr.Client, want ...string) {
		t.Helper()
		names, _ := listNames(ctx, t, c, 0)
		if !slices.Equal(names, want) {
			t.Errorf("saw %v, want %v", names, want)
		}
	}
	check(ecrClient(s, "us-east-1", staticCreds), "east/one", "east/two")
	check(ecrClient(s, "eu-west-1", staticCreds), "west/one")

	stsc := stsClient(s, staticCreds)
	id, err := stsc.GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != DefaultAccount {
		t.Errorf("base identity account = %s", aws.ToString(id.Account))
	}

	role := "arn:aws:iam::" + otherAccount + ":role/immutag-audit"
	assumed := aws.NewCredentialsCache(stscredsProvider(stsc, role))
	check(ecrClient(s, "us-east-1", assumed), "other/east")
	check(ecrClient(s, "eu-west-1", assumed), "other/west")

	id, err = stsClient(s, assumed).GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != otherAccount || !strings.HasPrefix(aws.ToString(id.Arn), "arn:aws:sts::"+otherAccount+":assumed-role/immutag-audit/") {
		t.Errorf("assumed identity = %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}

	// Writes through the assumed role land in the role's account only.
	out, err := ecrClient(s, "us-east-1", assumed).CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("made/by-role")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Repository.RegistryId) != otherAccount || !strings.Contains(aws.ToString(out.Repository.RepositoryArn), ":"+otherAccount+":") {
		t.Errorf("created in %s (%s)", aws.ToString(out.Repository.RegistryId), aws.ToString(out.Repository.RepositoryArn))
	}
	if _, ok := s.Repository(otherAccount, "us-east-1", "made/by-role"); !ok {
		t.Error("repository missing from the role's account")
	}
	if _, ok := s.Repository("", "us-east-1", "made/by-role"); ok {
		t.Error("repository leaked into the default account")
	}

	// An issued key with the wrong session token is refused.
	creds, err := assumed.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forged := ecrClient(s, "us-east-1", staticProvider(creds.AccessKeyID, creds.SecretAccessKey, "forged"))
	_, err = forged.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	if code, _ := apiCode(t, err); code != "UnrecognizedClientException" {
		t.Errorf("forged token: code %s", code)
	}
}

func TestPutImageOverwritePerMode(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	type repoCase struct {
		mode    string
		filters []string
		// refused lists the tags whose overwrite must be refused.
		refused []string
	}
	tags := []string{"latest", "v1.0.0", "dev-", "dev-42", "latest-rc", "release-1", "prerelease-1"}
	repos := []repoCase{
		{Mutable, nil, nil},
		{Immutable, nil, tags},
		// Exclusions stay movable; matching is anchored, "*" may be empty.
		{ImmutableWithExclusion, []string{"latest", "dev-*"}, []string{"v1.0.0", "latest-rc", "release-1", "prerelease-1"}},
		{MutableWithExclusion, []string{"release-*"}, []string{"release-1"}},
		{ImmutableWithExclusion, []string{"*"}, nil},
	}
	manifest := func(n int) *string {
		return aws.String(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"size":%d}}`, n))
	}
	for i, rc := range repos {
		name := fmt.Sprintf("mode/%d", i)
		if err := s.CreateRepository("", "us-east-1", name, rc.mode, rc.filters...); err != nil {
			t.Fatal(err)
		}
		for j, tag := range tags {
			t.Run(fmt.Sprintf("%s%v/%s", rc.mode, rc.filters, tag), func(t *testing.T) {
				first, err := c.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String(name), ImageTag: aws.String(tag), ImageManifest: manifest(j)})
				if err != nil {
					t.Fatalf("first push: %v", err)
				}
				digest := aws.ToString(first.Image.ImageId.ImageDigest)
				if !strings.HasPrefix(digest, "sha256:") {
					t.Fatalf("digest %q", digest)
				}
				_, err = c.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String(name), ImageTag: aws.String(tag), ImageManifest: manifest(j)})
				var same *types.ImageAlreadyExistsException
				if !errors.As(err, &same) {
					t.Errorf("same manifest again: want ImageAlreadyExistsException, got %v", err)
				}
				_, err = c.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String(name), ImageTag: aws.String(tag), ImageManifest: manifest(1000 + j)})
				wantRefused := slices.Contains(rc.refused, tag)
				var taken *types.ImageTagAlreadyExistsException
				if got := errors.As(err, &taken); got != wantRefused {
					t.Fatalf("overwrite refused=%v (err %v), want refused=%v", got, err, wantRefused)
				}
				if err != nil && !wantRefused {
					t.Fatalf("overwrite: %v", err)
				}
				st, _ := s.Repository("", "us-east-1", name)
				if moved := st.Tags[tag] != digest; moved == wantRefused {
					t.Errorf("tag moved=%v after refused=%v", moved, wantRefused)
				}
				// The Go seeding API enforces the same rule.
				err = s.PutImage("", "us-east-1", name, tag, s.newDigest(tag))
				if errors.Is(err, emulator.ErrTagImmutable) != wantRefused {
					t.Errorf("Go PutImage: err %v, want refused=%v", err, wantRefused)
				}
			})
		}
	}
	if err := s.PutImage("", "us-east-1", "ghost/repo", "v1", "sha256:00"); err == nil || errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("push to unknown repository: %v", err)
	}
	_, err := c.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String("mode/0"), ImageTag: aws.String("x"), ImageManifest: aws.String(`{"schemaVersion":2}`)})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("manifest without media type: want InvalidParameterException, got %v", err)
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"latest", "xlatest", false},
		{"*", "", true},
		{"*", "anything", true},
		{"dev-*", "dev-", true},
		{"dev-*", "dev-1.2", true},
		{"dev-*", "prod-dev-1", false},
		{"*-rc", "1.0-rc", true},
		{"*-rc", "1.0-rc1", false},
		{"v*.*.*", "v1.2.3", true},
		{"v*.*.*", "v1.2", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyyca", false},
		{"**", "x", true},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestImagesListing(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	if err := s.CreateRepository("", "us-east-1", "img/repo", Mutable); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.PutImage("", "us-east-1", "img/repo", fmt.Sprintf("v%d", i), fmt.Sprintf("sha256:%064d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Moving v0 onto v1's image leaves image 0 untagged.
	if err := s.PutImage("", "us-east-1", "img/repo", "v0", fmt.Sprintf("sha256:%064d", 1)); err != nil {
		t.Fatal(err)
	}

	var tagged int
	p := awsecr.NewDescribeImagesPaginator(c, &awsecr.DescribeImagesInput{RepositoryName: aws.String("img/repo")}, func(o *awsecr.DescribeImagesPaginatorOptions) { o.Limit = 2 })
	pages, images := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range out.ImageDetails {
			images++
			tagged += len(d.ImageTags)
			if d.ImagePushedAt == nil {
				t.Error("imagePushedAt missing")
			}
		}
	}
	if pages != 3 || images != 5 || tagged != 5 {
		t.Errorf("DescribeImages: %d pages, %d images, %d tags", pages, images, tagged)
	}
	untagged, err := c.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("img/repo"), Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusUntagged}})
	if err != nil {
		t.Fatal(err)
	}
	if len(untagged.ImageDetails) != 1 || aws.ToString(untagged.ImageDetails[0].ImageDigest) != fmt.Sprintf("sha256:%064d", 0) {
		t.Errorf("untagged = %+v", untagged.ImageDetails)
	}
	byTag, err := c.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("img/repo"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v0")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := byTag.ImageDetails[0].ImageTags; !slices.Equal(got, []string{"v0", "v1"}) {
		t.Errorf("tags of v0's image = %v", got)
	}
	_, err = c.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("img/repo"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("nope")}}})
	var inf *types.ImageNotFoundException
	if !errors.As(err, &inf) {
		t.Errorf("unknown tag: want ImageNotFoundException, got %v", err)
	}

	lp := awsecr.NewListImagesPaginator(c, &awsecr.ListImagesInput{RepositoryName: aws.String("img/repo")}, func(o *awsecr.ListImagesPaginatorOptions) { o.Limit = 4 })
	var ids []types.ImageIdentifier
	for lp.HasMorePages() {
		out, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.ImageIds...)
	}
	// Five tags plus the untagged image.
	if len(ids) != 6 {
		t.Errorf("ListImages returned %d ids: %+v", len(ids), ids)
	}
}
