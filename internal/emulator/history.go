package emulator

import "time"

// SeededOverwrite is implemented by demos whose registry keeps its own tag
// history (Quay's tag history, Harbor's and Docker Hub's audit logs) and
// whose data holds a tag overwritten before the demo started: the first
// recorded audit imports that history, so the ledger can say what the tag
// named at a time no scan of its own saw.
type SeededOverwrite interface {
	// SeededOverwrite names the tag and a moment when it still named the
	// image it was later moved off.
	SeededOverwrite() (scope, repository, tag string, at time.Time)
}
