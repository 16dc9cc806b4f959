GO        ?= go
NPM       ?= npm
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL
# The node tools of make lint, installed by make tools; never phoning home.
NODE_BIN  := .tools/node_modules/.bin
TOOLS     := .tools/node_modules/.package-lock.json
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

.PHONY: run test contract lint tools generate mocks bench bench-http chaos redis

## run: the gateway with its embedded default (memory store + every bundled mock)
run:
	$(GO) run ./cmd/gateway

## test: every test with -race, fuzz seed corpora included, against a real Redis and a local Redis
## Cluster and Sentinel (scripts/redis-topologies starts them once and stops them after); then contract mode
test: lint redis
	scripts/redis-topologies run -- $(GO) test -race -count=1 -timeout 12m ./...
	GO=$(GO) scripts/contract

## contract: the adapters' contract tests against every mock served by a separate mockbank process
contract:
	GO=$(GO) scripts/contract

## lint: gofmt, go vet, go.mod tidy, staticcheck (generated code's error-string style excepted); the
## OpenAPI document through Redocly and Spectral (any warning fails); generated TypeScript and Go
## clients type-checked (scripts/check-clients)
lint: tools
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags vagate_example ./cmd/gateway/
	$(GO) mod tidy -diff
	@out="$$($(GO) tool staticcheck ./... 2>&1 | grep -v '^openapi/api.gen.go:[0-9:]* error strings should not be capitalized (ST1005)$$')"; \
	if [ -n "$$out" ]; then echo "staticcheck:"; echo "$$out"; exit 1; fi
	$(NODE_BIN)/redocly lint openapi/openapi.yaml
	$(NODE_BIN)/spectral lint --fail-severity=warn openapi/openapi.yaml
	GO=$(GO) scripts/check-clients

## tools: the node tools of make lint (Redocly, Spectral, openapi-typescript, openapi-fetch, tsc), at
## the versions of .tools/package-lock.json, in .tools/node_modules; installed again only when those change
tools: $(TOOLS)
$(TOOLS): .tools/package.json .tools/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "make tools: npm not found; install Node.js 18.17 or later with npm (apt-get install -y nodejs npm)"; exit 1; }
	$(NPM) ci --prefix .tools --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

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
