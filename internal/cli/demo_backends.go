package cli

import (
	"context"

	"github.com/immutag/immutag/internal/emulator"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
)

// demoBackends starts each registry emulator the demo drives, in report order.
var demoBackends = []func(context.Context) (emulator.Demo, error){
	ecremu.StartDemo,
}
