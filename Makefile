# immutag: run `make help` for the targets.
GO      ?= go
BIN     ?= bin/immutag
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/immutag/immutag/internal/cli.Version=$(VERSION)
PKGS    := ./...

.DEFAULT_GOAL := help
.PHONY: help build test demo bench bench-audit lint fmt vet golden fuzz

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/immutag
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/immutag

test: vet ## go vet, then every test with the race detector (starts moto_server itself where installed)
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

demo: ## run audit -> fix plan -> fix apply -> re-audit on the built-in emulators
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/immutag demo

bench: ## run the benchmarks (about 15 minutes; figures and how to read them in BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

bench-audit: ## only the 12,000-repository audit benchmark (about 2 minutes)
	$(GO) test -run '^$$' -bench 'Audit12k/all' -benchmem -timeout 30m ./internal/bench

lint: vet ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet $(PKGS)

fmt: ## gofmt -w
	gofmt -w $$(git ls-files '*.go')

golden: ## regenerate the report golden files (review the diff!)
	$(GO) test ./internal/report -run 'Golden|DiffFormats' -update

fuzz: ## fuzz the parsers briefly (workflow linter; see .ci/run for the CI budget)
	$(GO) test -run '^$$' -fuzz=FuzzLintWorkflow -fuzztime=20s -fuzzminimizetime=5s ./internal/lint
