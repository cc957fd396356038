package acr

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/emulator"
)

// Endpoint is https:// and the login server.
func (d *demo) Endpoint() string { return "https://" + d.host }

// Calls counts the calls served, by operation.
func (d *demo) Calls() *emulator.Counter { return d.srv.Calls() }

// SetFaults replaces the injected faults.
func (d *demo) SetFaults(f emulator.Faults) { d.srv.SetFaults(f) }

// SetWritesPerMinute overrides the Premium write limit; negative disables
// write throttling.
func (d *demo) SetWritesPerMinute(n int) { d.srv.SetWritesPerMinute(n) }

// Deny refuses the catalog of scope, the login server.
func (d *demo) Deny(scope string) error {
	if !strings.EqualFold(scope, d.host) {
		return fmt.Errorf("acr scope %q: the sandbox registry is %s", scope, d.host)
	}
	d.srv.Deny("registry:catalog")
	return nil
}

// demoRepositories are the repositories StartDemo seeds.
const demoRepositories = 4

// Grow gives each repository one to four tags: 50% of repositories fully
// locked, 20% partly locked, 30% unlocked.
func (d *demo) Grow(total int) error {
	for i := range total - demoRepositories {
		name := fmt.Sprintf("team-%02d/app-%05d", i%23, i)
		tags := 1 + i%4
		b := i % 20
		if b >= 10 && b < 14 && tags < 2 {
			tags = 2
		}
		for t := range tags {
			var locked bool
			switch {
			case b < 10:
				locked = true
			case b < 14:
				locked = t < tags/2
			}
			d.srv.AddTag(name, fmt.Sprintf("v1.%d.0", t), locked)
		}
	}
	return nil
}
