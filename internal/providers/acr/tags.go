package acr

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/immutag/immutag/internal/providers"
)

var _ providers.TagLister = (*Provider)(nil)

// Tags streams every tag of r from the data-plane tag listing
// (GET /acr/v1/{name}/_tags, followed by its Link header): each tag carries
// its manifest digest (a manifest list's or OCI index's own digest for a
// multi-arch image) and lastUpdateTime, when the tag was last pushed or
// moved. One call per page, none per tag.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	reg, err := p.knownRegistry(r.Handle, r.Scope)
	if err != nil {
		return err
	}
	return p.eachTag(ctx, reg, r.Name, func(t *azcontainerregistry.TagAttributes) error {
		tag := providers.Tag{Name: *t.Name}
		if t.Digest != nil {
			tag.Digest = *t.Digest
		}
		if t.LastUpdatedOn != nil {
			tag.Pushed = t.LastUpdatedOn.UTC()
		} else if t.CreatedOn != nil {
			tag.Pushed = t.CreatedOn.UTC()
		}
		return yield(tag)
	})
}
