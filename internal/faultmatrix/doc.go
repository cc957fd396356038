// Package faultmatrix holds immutag's fault-injection test matrix: every
// registry adapter is run through the real CLI (in process) against its
// wire-level emulator while a fault is injected, either by the emulator's
// own fault and deny API or by a reverse proxy (HTTP) or forwarding server
// (gRPC) that corrupts the wire.
//
// The package has no non-test code. Its tests assert, in every cell: no
// panic, a bounded number of calls at the wire, the affected scope or
// repository reported as error with the API's message, nothing that was not
// read reported compliant, the exit-code contract, and every unaffected
// scope still fully audited. The interruption tests cancel `fix --apply`
// midway for every kind and check that the journal and the registry agree
// and that the next run finishes the job without repeating a write. The
// credentials test runs audit, fix and report render at debug level and
// searches every output for the secrets and for every credential the fronts
// saw on the wire.
package faultmatrix
