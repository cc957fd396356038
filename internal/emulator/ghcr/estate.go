package ghcr

import (
	"fmt"
)

// Endpoint is the API root.
func (d *Demo) Endpoint() string { return d.URL() }

// Deny refuses scope, a user or organisation.
func (d *Demo) Deny(scope string) error {
	d.Server.Deny(scope, true)
	return nil
}

// demoRepositories are the packages the demo seeds.
const demoRepositories = 3

// Grow adds packages to the demo organisation, each with a release and a
// latest tag on one version; the registry has no setting, so all are
// reported unsupported.
func (d *Demo) Grow(total int) error {
	for i := range total - demoRepositories {
		if _, err := d.Push("acme", fmt.Sprintf("gen/svc-%05d", i), "1.0.0", "latest"); err != nil {
			return err
		}
	}
	return nil
}
