# vpnflow: the two everyday commands are `make dev` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
GO_TEST_FLAGS ?= -race -count=1 -timeout 30m -parallel 4

.PHONY: dev test tools vet workflowcheck unit fmt build replay-record chaos chaos-smoke chaos-seed bench test-temporal-postgres

## dev: start the whole system locally (sandbox unless TELEGRAM_BOT_TOKEN is set;
## TEMPORAL=postgres: on the production Temporal server in the local PostgreSQL)
dev:
	go run ./internal/dev/cmd/vpnflow-dev run $(if $(TEMPORAL),-temporal $(TEMPORAL))

## test: vet, determinism check and every test against the real components
test: tools vet workflowcheck
	go test $(GO_TEST_FLAGS) ./...
	cd internal/dev/singboxcheck && go vet ./... && go test $(GO_TEST_FLAGS) ./...

## tools: build the pinned Temporal CLI, Xray-core and sing-box into the cache (first run only)
tools:
	go run ./internal/dev/cmd/vpnflow-dev tools $(if $(TEMPORAL),-temporal $(TEMPORAL))

## chaos: 1,000 purchases under faults, then the audit (CHAOS_PURCHASES,
## CHAOS_SEED, CHAOS_DURATION, CHAOS_CONCURRENCY, CHAOS_FAULTS, CHAOS_HOLD adjust it)
chaos: tools
	go run ./internal/dev/cmd/vpnflow-dev chaos

## chaos-seed: the predecessor's incident replayed for 10 minutes
## (CHAOS_SEED_LONG=1: 60; CHAOS_SEED_DURATION sets any length)
chaos-seed: tools
	go run ./internal/dev/cmd/vpnflow-dev chaos-seed $(if $(CHAOS_SEED_LONG),-long)

## bench: the benchmarks' table (BENCH_PURCHASES, BENCH_CONCURRENCY, BENCH_BARE, BENCH_PAIRS,
## BENCH_STORM, BENCH_WORKERS, BENCH_BROADCAST, BENCH_RECONCILE, BENCH_FAILOVER, BENCH_AUTORENEW,
## BENCH_TEMPORAL_DOWN;
## -1 skips a case;
## TEMPORAL=postgres: on the production Temporal server)
bench: tools
	$(if $(TEMPORAL),VPNFLOW_TEST_TEMPORAL=$(TEMPORAL)) go run ./internal/dev/cmd/vpnflow-dev bench

## chaos-smoke: the short chaos run that `make test` includes (~100 purchases)
chaos-smoke: tools
	go test -count=1 -v -run TestChaosSmoke ./internal/dev/chaos/

## test-temporal-postgres: the money-path end-to-end tests on the production
## Temporal server with its state in PostgreSQL, after the server's own
## restart test (E2E_MONEY selects the tests)
E2E_MONEY ?= Buy|Purchase|Stars|Crypto|Balance|CreditOnce|LateWebhook|Promo
test-temporal-postgres:
	go run ./internal/dev/cmd/vpnflow-dev tools -temporal postgres
	VPNFLOW_TEST_TEMPORAL=postgres go test -count=1 -v -run TestTemporalPostgres ./internal/dev/stack/
	VPNFLOW_TEST_TEMPORAL=postgres go test -count=1 -timeout 30m -v -run '$(E2E_MONEY)' ./internal/e2e/

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

workflowcheck:
	go run $(WORKFLOWCHECK) ./workflows/...

build:
	go build -o bin/ ./worker ./bot ./starter

fmt:
	gofmt -w $$(git ls-files '*.go')

## record-histories: re-record the replay fixtures from a real run (only when
## a workflow change is meant to be incompatible and is versioned)
record-histories:
	mkdir -p workflows/testdata/histories
	VPNFLOW_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories go test -count=1 -run 'TestHistoriesReplay|TestRevocationEndsOpenSessions|TestFailoverMovesUsersOffAStoppedNode|TestExpiredKeyLeavesXrayAndUserIsTold' ./internal/e2e/
