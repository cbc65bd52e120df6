# caravan — build, test and measure. Every target runs offline once the Go
# module cache is warm; .ci/run installs what the tests need on a fresh machine.

SHELL    := /bin/bash
GO       ?= go
BIN      ?= bin/caravan
AGENT_BIN ?= bin/caravan-agent
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/caravan-ml/caravan/internal/cli.Version=$(VERSION)
AGENT_LDFLAGS := -X main.version=$(VERSION)
EXAMPLES ?= hcl/examples
# The operator's pools and policy the examples name (what caravan autoscale
# publishes in Nomad on a real cluster).
EXAMPLE_POOLS ?= $(EXAMPLES)/pools
BENCHCOUNT ?= 5
BENCH ?= .
export CHECKPOINT_DISABLE = 1
# go-nvml's header marks dozens of NVML functions deprecated, and cgo's
# wrappers for them make gcc print pages of warnings whenever the package is
# compiled. Only that warning is turned off: any other still shows.
CGO_CFLAGS ?= -O2 -g
export CGO_CFLAGS += -Wno-deprecated-declarations

.PHONY: all build agent gpu-bundle test test-short bench fmt lint vet demo e2e gpu-check fuzz clean

all: build

## build: both binaries in bin/: caravan and the node agent
build: agent
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/caravan

## agent: bin/caravan-agent, the node agent that every GPU node runs (cgo on,
## so that it can load NVML); it links only the agent (internal/layering_test.go)
agent:
	CGO_ENABLED=1 $(GO) build -ldflags "$(AGENT_LDFLAGS)" -o $(AGENT_BIN) ./cmd/caravan-agent

## gpu-bundle: what to carry to a GPU machine without Go, as one tarball:
## the agent and the scripts that measure it; there, unpack it and run
##   bash .ci/gpu-check
gpu-bundle: agent
	tar -czf bin/gpu-bundle.tar.gz $(AGENT_BIN) .ci/gpu-check .ci/agent-rss
	@echo "bin/gpu-bundle.tar.gz: tar -xzf gpu-bundle.tar.gz && bash .ci/gpu-check"

## demo: build caravan and run it on the shipped example experiments
demo: build
	./$(BIN) validate $(EXAMPLES) -pools $(EXAMPLE_POOLS)
	./$(BIN) render $(EXAMPLES) -pools $(EXAMPLE_POOLS) -experiment resnet50 | head -n 60
	./$(BIN) fmt -check $(EXAMPLES)
	./$(BIN) fmt -check $(EXAMPLE_POOLS)
	./$(BIN) simulate -trace testdata/traces/itp/cluster10.csv -gpus-per-node 8
	./$(BIN) simulate -trace testdata/traces/itp/cluster10.csv -gpus-per-node 8 -checkpoint-overhead 2m
	./$(BIN) simulate -trace testdata/traces/itp/cluster10.csv -pools hcl/pools/right-sized.hcl

## test: unit, contract and integration tests (fake Nomad, real Terraform, real Prometheus)
test:
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## bench: the performance figures of docs/performance.md (medians of
## BENCHCOUNT runs); the benchmarks that need Nomad run against the rig
## that .ci/with-rig starts (or NOMAD_ADDR), the others skip nothing
bench:
	set -o pipefail; bash .ci/with-rig $(GO) test -p 1 -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) -timeout 90m ./... | tee bench.out
	@if command -v benchstat >/dev/null 2>&1; then benchstat bench.out; \
	 else echo "medians: go install golang.org/x/perf/cmd/benchstat@latest && benchstat bench.out"; fi

## e2e: every end-to-end suite against a real Nomad: the one at NOMAD_ADDR,
## else a private loopback Nomad from ../shared/nomad started and stopped
## around the suites; they skip in one line without either (see .ci/e2e)
e2e:
	GO=$(GO) bash .ci/e2e

## gpu-check: on a machine with an NVIDIA GPU, prove the real NVML path and
## measure the agent's resident memory against its target (docs/performance.md)
gpu-check: agent
	CARAVAN_AGENT_BIN=$(AGENT_BIN) bash .ci/gpu-check

## fuzz: run every fuzz target for FUZZTIME each (default 30s), or only the
## ones matching FUZZ (e.g. make fuzz FUZZ=FuzzLoad)
FUZZTIME ?= 30s
FUZZ ?= .
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' | grep -E '$(FUZZ)' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

## fmt: gofmt the Go code and caravan-fmt the example experiments
fmt:
	gofmt -w cmd internal
	$(GO) run ./cmd/caravan fmt $(EXAMPLES)
	$(GO) run ./cmd/caravan fmt $(EXAMPLE_POOLS)

## lint: go vet, staticcheck when installed, and the formatting checks
lint: vet
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; echo "gofmt needed: run make fmt"; exit 1)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; \
	 else echo "staticcheck not installed: go install honnef.co/go/tools/cmd/staticcheck@latest"; fi

vet:
	$(GO) vet ./...

clean:
	rm -rf bin bench.out
