# immutag: run `make help` for the targets.
# bash for pipefail: `make test` pipes go test into its summariser.
SHELL   := /bin/bash
GO      ?= go
BIN     ?= bin/immutag
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/immutag/immutag/internal/cli.Version=$(VERSION)
PKGS    := ./...
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.52.0
FUZZTIME ?= 30s
FUZZ := ./internal/hardening:FuzzConfigDecode ./internal/hardening:FuzzParseErrorBody \
	./internal/hardening:FuzzRetryAfter ./internal/hardening:FuzzNextLink \
	./internal/hardening:FuzzDockerHubListing ./internal/hardening:FuzzQuayListing \
	./internal/hardening:FuzzHarborListing ./internal/hardening:FuzzReportRender \
	./internal/lint:FuzzLintWorkflow \
	./internal/iac:FuzzTerraform ./internal/iac:FuzzCloudFormation ./internal/iac:FuzzPulumiYAML \
	./internal/redact:FuzzRedactPrefilters

.DEFAULT_GOAL := help
.PHONY: help build test demo bench bench-audit lint fmt vet golden fuzz

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/immutag
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/immutag

test: vet ## go vet, then every test with the race detector (starts moto_server itself where installed); ends with one line counting passed, failed and skipped tests and why
	@set -o pipefail; $(GO) test -race -count=1 -timeout 30m -json $(PKGS) | $(GO) run ./internal/testsummary

demo: ## run audit -> fix plan -> fix apply -> re-audit on the built-in emulators
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/immutag demo

bench: ## run the benchmarks (about 15 minutes; figures and how to read them in BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

bench-audit: ## only the 12,000-repository audit benchmark (about 2 minutes)
	$(GO) test -run '^$$' -bench 'Audit12k/all' -benchmem -timeout 30m ./internal/bench

lint: vet ## gofmt check, go vet, staticcheck and no unreachable function (deadcode -test)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run $(STATICCHECK) $(PKGS)
	@out=$$($(GO) run $(DEADCODE) -test ./...) || exit 1; if [ -n "$$out" ]; then echo "unreachable functions:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet $(PKGS)

fmt: ## gofmt -w
	gofmt -w $$(git ls-files '*.go')

golden: ## regenerate the report golden files (review the diff!)
	$(GO) test ./internal/report -run 'Golden|DiffFormats' -update

fuzz: ## fuzz every parser for FUZZTIME each (config, API answers, reports, workflows)
	@set -e; set -o pipefail; for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; corpus=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls $$corpus 2>/dev/null | wc -l || true); out=$$(mktemp); \
		echo "fuzz $$name for $(FUZZTIME)"; \
		if $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s $$pkg 2>&1 | tee $$out; then rm -f $$out; continue; fi; \
		after=$$(ls $$corpus 2>/dev/null | wc -l || true); \
		if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input' $$out; then \
			echo "fuzz $$name: the fuzzing engine stopped on its own deadline and wrote no failing input (a race in Go's fuzz coordinator, golang/go#75804, fixed in go1.27): not a crash"; \
			rm -f $$out; continue; \
		fi; \
		rm -f $$out; exit 1; \
	done
