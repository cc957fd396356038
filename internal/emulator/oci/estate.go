package oci

import (
	"fmt"
	"strings"
)

// Endpoint is the registry's URL.
func (d *Demo) Endpoint() string { return d.URL() }

// Deny refuses every call: scope is the registry's host:port.
func (d *Demo) Deny(scope string) error {
	if !strings.EqualFold(scope, d.Host()) {
		return fmt.Errorf("oci scope %q: the sandbox registry is %s", scope, d.Host())
	}
	d.SetDenied(true)
	return nil
}

// Grow adds repositories of one tag each, 50 per gen-NN/ prefix; the
// registry has no setting, so all are reported unsupported.
func (d *Demo) Grow(total int) error {
	for i := range total - len(DemoRepositories) {
		if _, err := d.Seed(fmt.Sprintf("gen-%02d/svc-%05d", i/50%100, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}
