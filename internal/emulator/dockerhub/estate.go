package dockerhub

import (
	"fmt"

	"github.com/immutag/immutag/internal/emulator"
)

// Endpoint is the emulator's URL.
func (d *demo) Endpoint() string { return d.web.URL() }

// Calls counts the calls served, by operation.
func (d *demo) Calls() *emulator.Counter { return d.s.Calls() }

// SetFaults replaces the injected faults.
func (d *demo) SetFaults(f emulator.Faults) { d.s.SetFaults(f) }

// Deny refuses scope, a namespace.
func (d *demo) Deny(scope string) error {
	if err := emulator.Audited(d.Provider(), "namespace", scope, "namespaces"); err != nil {
		return err
	}
	d.s.DenyNamespace(scope, 0)
	return nil
}

// Grow fills the demo namespace: 40% disabled, 40% enabled with ".*", 15%
// enabled with release rules only (partial), 5% disabled with a leftover
// rule; every third repository is private.
func (d *demo) Grow(total int) error {
	for i := range total - len(demoRepos) {
		r := Repository{Namespace: DemoNamespace, Name: fmt.Sprintf("svc-%05d", i), Private: i%3 == 0}
		switch b := i % 20; {
		case b < 8:
		case b < 16:
			r.ImmutableEnabled, r.ImmutableRules = true, []string{".*"}
		case b < 19:
			r.ImmutableEnabled, r.ImmutableRules = true, []string{`^v[0-9]+\.[0-9]+\.[0-9]+$`}
		default:
			r.ImmutableRules = []string{".*"}
		}
		if err := d.s.AddRepository(r); err != nil {
			return err
		}
	}
	return nil
}
