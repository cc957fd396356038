// Package hardening holds immutag's robustness tests that cut across
// packages: fuzz targets for everything that parses untrusted or
// hand-written input (the config file, registry API answers, saved
// reports), and the credentials test that runs every command with debug
// logging against the emulators and searches all output for the secrets.
//
// It has no non-test code. Seeds live in testdata/<target>/; inputs the
// fuzzer finds go to testdata/fuzz/<FuzzName>/ and then run as regression
// cases in every `go test`. CI runs each target briefly, for example:
//
//	go test -run='^$' -fuzz='^FuzzConfigDecode$' -fuzztime=30s ./internal/hardening
package hardening
