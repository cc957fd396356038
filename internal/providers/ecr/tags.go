package ecr

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/providers"
)

var _ providers.TagLister = (*Provider)(nil)

// describeImagesPage is DescribeImages' largest page.
const describeImagesPage = 1000

// Tags streams every tag of r from DescribeImages pages alone: each image
// detail carries its digest (for a multi-arch image the index digest; its
// platform manifests are untagged and filtered out), its tags and
// imagePushedAt. One call per page, none per tag.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	sc, err := p.scopeFor(ctx, r.Handle, r.Scope)
	if err != nil {
		return err
	}
	in := &ecr.DescribeImagesInput{
		RegistryId:     aws.String(sc.account),
		RepositoryName: aws.String(r.Name),
		MaxResults:     aws.Int32(describeImagesPage),
		Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
	}
	seen := map[string]bool{}
	for {
		out, err := sc.api.DescribeImages(ctx, in)
		if err != nil {
			return fmt.Errorf("%s: describe images: %w", r.Name, apiError(err, false))
		}
		for _, im := range out.ImageDetails {
			t := providers.Tag{Digest: aws.ToString(im.ImageDigest)}
			if im.ImagePushedAt != nil {
				t.Pushed = im.ImagePushedAt.UTC()
			}
			for _, name := range im.ImageTags {
				t.Name = name
				if err := yield(t); err != nil {
					return err
				}
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			return nil
		}
		if seen[next] || next == aws.ToString(in.NextToken) {
			return fmt.Errorf("%s: describe images: the API repeated a page token", r.Name)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}
