# secretsdb's tasks. `make help` lists them. Database tests use $TEST_DATABASE_URL (or
# $DATABASE_URL) and fall back to a testcontainers PostgreSQL when neither is set.

GO ?= go
BIN ?= bin/secretsdb

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with what they do
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the secretsdb binary into bin/
	$(GO) build -trimpath -o $(BIN) -ldflags "-X \
		github.com/secretsdb/secretsdb/internal/cli.version=$$(git describe \
		--tags --always --dirty 2>/dev/null || echo dev)" ./cmd/secretsdb

.PHONY: test
test: ## Run the Go unit and integration tests on a real PostgreSQL
	$(GO) test -count=1 ./...

.PHONY: test-sql
test-sql: ## Run the pgTAP tests of the SQL API with pg_prove on a scratch database
	./tests/sql/run

.PHONY: test-dev
test-dev: ## Run `secretsdb dev` for real on an embedded server as an unprivileged user
	./tests/dev/run

.PHONY: run
run: ## Run the API with a ready database (embedded PostgreSQL, else the local server)
	$(GO) run ./cmd/secretsdb dev

GOLANGCI_LINT := $(GO) tool -modfile=tools/lint/go.mod golangci-lint

.PHONY: lint
lint: ## go vet, gofmt, golangci-lint (.golangci.yml) and the migration checks
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GOLANGCI_LINT) run ./...
	$(GO) run ./cmd/secretsdb migrate lint

SQLC := $(GO) tool -modfile=tools/go.mod sqlc
SCRATCHDB := $(GO) run ./internal/devtools/scratchdb --

.PHONY: generate
generate: ## Regenerate internal/dbq with sqlc against a migrated scratch database
	$(SCRATCHDB) $(SQLC) generate

.PHONY: verify-generate
verify-generate: ## Fail when internal/dbq is stale against migrations/ and queries/
	$(SCRATCHDB) $(SQLC) diff

.PHONY: ci
ci: lint verify-generate test test-sql test-dev ## Everything CI runs: lint, generated code, all tests
