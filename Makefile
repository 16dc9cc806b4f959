GO        ?= go
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL

.PHONY: run test contract lint generate mocks bench bench-http chaos redis

## run: the gateway with its embedded default (memory store + every bundled mock)
run:
	$(GO) run ./cmd/gateway

## test: every test with -race, fuzz seed corpora included, against a real Redis; then contract mode
test: lint redis
	$(GO) test -race -count=1 -timeout 12m ./...
	GO=$(GO) scripts/contract

## contract: the adapters' contract tests against every mock served by a separate mockbank process
contract:
	GO=$(GO) scripts/contract

## lint: gofmt, go vet, go.mod tidy, staticcheck (generated code's error-string style excepted)
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags vagate_example ./cmd/gateway/
	$(GO) mod tidy -diff
	@out="$$($(GO) tool staticcheck ./... 2>&1 | grep -v '^openapi/api.gen.go:[0-9:]* error strings should not be capitalized (ST1005)$$')"; \
	if [ -n "$$out" ]; then echo "staticcheck:"; echo "$$out"; exit 1; fi

## generate: regenerate code from openapi/openapi.yaml
generate:
	$(GO) generate ./...

## mocks: serve every bundled provider mock (QA)
mocks:
	$(GO) run ./cmd/mockbank -mock all

## bench: Go benchmarks; the pool's claims/s (BenchmarkClaimBookkeeping: the pool's own part with no
## provider call; BenchmarkClaimWithAllocation: whole claims at a provider answering at once), on memory and Redis
bench: redis
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

## bench-http: the HTTP load harness (cmd/benchhttp): the mock, a bare reverse proxy and the gateway (memory and
## Redis) side by side at 1 and 32 connections; writes BENCHMARKS.md and BENCHMARKS.svg. Not part of test.
bench-http: redis
	$(GO) run ./cmd/benchhttp -out BENCHMARKS.md

## chaos: the chaos runs at 2000 items: in process, and across two instances (SIGKILL, SIGTERM, default breakers)
chaos: redis
	VAGATE_CHAOS_ITEMS=2000 $(GO) test -race -count=1 -timeout 40m -run '^TestChaos' -v ./cmd/gateway/

## redis: make sure Redis answers at REDIS_URL (starts a local one if needed)
redis:
	@scripts/ensure-redis
