# Message Plane: build, run and test the four services.
# Every target that needs libzmq installs it first when missing (see deps).

SHELL := /bin/bash
GO ?= go
MODULES := . ./client ./proto ./cmd/mp $(patsubst %/go.mod,./%,$(wildcard services/*/go.mod))
# Modules kept out of go.work so their heavy test-only dependencies (Helm
# SDK, compose-go, Kubernetes types) never take part in the services'
# version selection; they run with GOWORK=off, in make test-deploy.
STANDALONE := ./test/deploy
IMAGE_TARGETS := store rpc ingest pub lb tools
# VERSION is the release: the images' tag (make images) and the chart's
# appVersion, so a default helm install pulls what make images built
# (test/deploy checks they agree). It lives in the file VERSION.
ifndef VERSION
VERSION := $(shell cat VERSION)
endif
# BUILD_VERSION is what every binary reports (-version, mp_build_info):
# git describe in a checkout, else VERSION (a source tarball).
ifndef BUILD_VERSION
BUILD_VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo $(VERSION))
endif
LDFLAGS := -X github.com/messageplane/mp/internal/buildinfo.Version=$(BUILD_VERSION)
# binaries: mp-<service> for each service, plus the tools under cmd/
SERVICES := $(patsubst services/%/main.go,%,$(wildcard services/*/main.go))
TOOLS_BIN := $(patsubst cmd/%/main.go,%,$(wildcard cmd/*/main.go))
TOOLS := $(CURDIR)/.tools/bin
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
TEST_TIMEOUT ?= 9m
# The e2e cases that also run on the JetStream store: the store's own, its
# restarts and crashes, and what PUB and ordering make of them.
E2E_JETSTREAM := ^(TestStore|TestPub|TestPublishOrder|TestCrash|TestIngestStorePaused|TestRPCStoreHung|TestMpctlTail)
# Debian's interpreter, which python3-zmq and python3-msgpack install into
# (a python3 earlier on PATH, e.g. pyenv's, lacks them).
PYTHON ?= /usr/bin/python3

.PHONY: all deps build run run-split test test-cluster test-deploy vet lint fmt proto proto-check proto-tools bench soak images image-tag clean

all: build

# deps installs the C libraries cgo needs (libzmq) when they are missing.
deps:
	@scripts/deps.sh

build: deps
	@mkdir -p bin
	@for s in $(SERVICES); do echo "go build bin/mp-$$s ($(BUILD_VERSION))"; $(GO) build -ldflags "$(LDFLAGS)" -o bin/mp-$$s ./services/$$s || exit 1; done
	@for t in $(TOOLS_BIN); do echo "go build bin/$$t"; $(GO) build -ldflags "$(LDFLAGS)" -o bin/$$t ./cmd/$$t || exit 1; done

# run starts the all-in-one bin/mp on loopback with the seed's ports; Ctrl-C stops it.
run: build
	@scripts/run.sh

# run-split starts the four services as separate processes instead.
run-split: build
	@scripts/run.sh split

vet: deps
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# test: vet, gofmt, then every workspace module's tests with the race
# detector (fuzz seed corpora run as ordinary tests), then the Python
# client's tests. End-to-end tests build and start the real binaries; the Go
# client's examples and the Python tests start those of bin/ (MP_BIN_DIR).
test: lint build
	@scripts/deps.sh --test
	@for m in $(MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && MP_BIN_DIR=$(CURDIR)/bin $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...) || exit 1; \
	done
	@echo "== pytest clients/python"
	@cd clients/python && MP_BIN_DIR=$(CURDIR)/bin $(PYTHON) -m pytest -q -p no:cacheprovider
	@echo "== go test ./test/e2e against the all-in-one mp (MP_E2E_MODE=mp)"
	@MP_E2E_MODE=mp $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./test/e2e/
	@echo "== go test ./test/e2e: the store, restart and PUB cases on the JetStream store (MP_E2E_STORE=jetstream)"
	@MP_E2E_STORE=jetstream $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -run '$(E2E_JETSTREAM)' ./test/e2e/

# test-cluster: two store replicas over a 3-node JetStream cluster (the
# nats-server binary built from the module) with the four edges, under
# load, while a NATS node and a store replica are killed -9 and restarted.
# Apart from make test for its minute of wall time; .ci/run runs it.
test-cluster: build
	@echo "== go test ./test/e2e: store replicas over a JetStream cluster (MP_E2E_CLUSTER=1)"
	@MP_E2E_CLUSTER=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -run '^TestCluster' ./test/e2e/

# test-deploy: the static checks of the chart and the compose file
# (test/deploy). Apart from make test because the Helm SDK and Kubernetes
# types take minutes to compile from cold caches, and these files change
# rarely; .ci/run runs both. No race detector: nothing here is concurrent.
test-deploy:
	@for m in $(STANDALONE); do \
		echo "== go vet + go test $$m (GOWORK=off)"; \
		(cd $$m && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...) || exit 1; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

proto-tools:
	@mkdir -p $(TOOLS)
	@test -x $(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) || { \
		GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION) && \
		mv $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION); }
	@test -x $(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION) || { \
		GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION) && \
		mv $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION); }
	@command -v protoc >/dev/null || scripts/deps.sh protobuf-compiler

# proto regenerates the checked-in Go code from proto/ with pinned generators.
proto: proto-tools
	cd proto && protoc -I . \
		--plugin=protoc-gen-go=$(TOOLS)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) \
		--plugin=protoc-gen-go-grpc=$(TOOLS)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION) \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		messageplane/v1/*.proto

# proto-check fails when the checked-in generated code is not what make proto makes.
proto-check: proto
	@git diff --exit-code -- proto/ || { echo "generated code is stale: run make proto and commit"; exit 1; }

# bench: Go benchmarks of the hot paths (bounded), then scripts/bench.sh:
# the all-in-one bin/mp and the four split services on loopback, each
# measured by mpbench beside a raw-libzmq baseline, REPS runs of each; one
# table of the medians with the ratios and which targets hold.
# BENCH_FLAGS="-scale 0.1 -reps 1" makes a quick run (-reps overrides REPS).
BENCH_FLAGS ?=
REPS ?= 3
bench: build
	@for m in $(MODULES); do \
		(cd $$m && $(GO) test -run '^$$' -bench . -benchmem -benchtime 200x ./...) || exit 1; \
	done
	REPS=$(REPS) scripts/bench.sh $(BENCH_FLAGS)

# soak: all four services under concurrent RPC publishers, ingest pushers,
# four subscribers and readers for SOAK_DURATION; then nothing may be lost
# or duplicated and no process may have died. Not part of make test.
SOAK_DURATION ?= 3m
soak: deps
	MP_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -race -count=1 -timeout 60m -run TestSoak -v ./test/e2e/

# images builds every image target as messageplane/mp-<target>:$(VERSION),
# the chart's default tag, with the binaries reporting $(BUILD_VERSION)
# (without a registry, run deploy/local-base-images.sh first to make the
# base images locally).
images:
	@for t in $(IMAGE_TARGETS); do \
		echo "docker build --target $$t -t messageplane/mp-$$t:$(VERSION) (binaries: $(BUILD_VERSION))"; \
		docker build -q --build-arg VERSION=$(BUILD_VERSION) --target $$t -t messageplane/mp-$$t:$(VERSION) . >/dev/null || exit 1; \
	done

# image-tag prints the tag make images gives the images.
image-tag:
	@echo $(VERSION)

clean:
	rm -rf bin .tools
