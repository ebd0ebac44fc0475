# Capsule: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test deps build images server-image engine unit integration e2e security bench clean

help:
	@echo "make run     install deps, build the sandbox image if missing, start the server (http://127.0.0.1:8080/mcp)"
	@echo "make test    all tests (unit, integration, e2e, security) against the real Docker engine"
	@echo "make images  build the sandbox image (skipped when up to date)"
	@echo "make server-image  build the server image compose.yaml uses"
	@echo "make engine  install/start a Docker engine on a Debian machine as root (used by CI)"

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npm run build

images:
	bash images/build.sh

server-image:
	bash images/build.sh server

engine:
	bash scripts/provision-docker-engine.sh

run: deps images build
	node dist/server/cli.js serve

test: deps images
	npm test

unit: deps
	npx ava test/unit

integration: deps images build
	npx ava test/integration

e2e: deps images build
	npx ava test/e2e

security: deps images build
	npx ava test/security

clean:
	rm -rf dist
