package artifactregistry

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/emulator"
)

// Endpoint is grpc://host:port.
func (d *Demo) Endpoint() string { return "grpc://" + d.addr }

// Calls counts the gRPC calls served.
func (d *Demo) Calls() *emulator.Counter { return d.srv.Calls() }

// SetFaults replaces the injected faults.
func (d *Demo) SetFaults(f emulator.Faults) { d.srv.SetFaults(f) }

// Deny refuses scope, PROJECT or PROJECT/LOCATION.
func (d *Demo) Deny(scope string) error {
	project, loc, _ := strings.Cut(scope, "/")
	if project == "" || strings.Contains(loc, "/") {
		return fmt.Errorf("artifactregistry scope %q: want PROJECT or PROJECT/LOCATION", scope)
	}
	p := d.Provider()
	if err := emulator.Audited(p, "project", project, "projects"); err != nil {
		return err
	}
	if loc != "" {
		if err := emulator.Audited(p, "location", loc, "locations"); err != nil {
			return err
		}
	}
	d.srv.Deny(project, loc)
	return nil
}

// demoAudited is how many demo repositories the adapter reports: all but
// the maven one.
const demoAudited = 6

// Grow spreads docker repositories over the demo project's two locations:
// 55% standard mutable, 35% standard immutable, 5% remote, 5% virtual.
func (d *Demo) Grow(total int) error {
	locs := []string{"us-central1", "europe-west1"}
	for i := range total - demoAudited {
		mode, immutable := ModeStandard, false
		switch b := i % 20; {
		case b < 11:
		case b < 18:
			immutable = true
		case b == 18:
			mode = ModeRemote
		default:
			mode = ModeVirtual
		}
		if err := d.srv.CreateRepository(DemoProject, locs[i%2], fmt.Sprintf("svc-%05d", i), mode, immutable); err != nil {
			return err
		}
	}
	return nil
}
