# Wache: `make run` builds everything and starts a demo server on embedded
# defaults (SQLite, in-process broker); `make test` runs every test.
GO        ?= go
BIN       := bin/wache
DATA      ?= data
ADDR      ?= 127.0.0.1:8080
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.Version=$(VERSION)
# Tests against PostgreSQL use this server (trust auth, database test).
export WACHE_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: all build web run test test-short fuzz bench vet fmt clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wache

# web builds the browser app into web/dist (embedded by package web): the Go
# client core as WebAssembly (gzip twin served to browsers that accept it),
# then the TypeScript UI with npm.
web:
	mkdir -p web/public web/dist
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags=-s -o web/public/wache.wasm ./web/wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" web/public/wasm_exec.js
	npm ci --prefix web --no-audit --no-fund && npm run --prefix web build
	gzip -9 -n -k -f web/dist/wache.wasm

run: web
	$(MAKE) build
	./$(BIN) serve --demo --data $(DATA) --addr $(ADDR)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

test: vet web
	$(GO) test -count=1 -timeout 30m ./...
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" ./web/wasm/

test-short:
	$(GO) test -short -count=1 ./...

# Runs each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./bench/ ./internal/store/sqldb/

fmt:
	gofmt -w .

clean:
	rm -rf bin
