# Capsule: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test deps build compose-up images sandbox-image server-image proxy-image egress-image engine volume-root unit integration e2e security bench clean

help:
	@echo "make run     install deps, build the sandbox image if missing, start the server (http://127.0.0.1:8080/mcp)"
	@echo "make test    all tests (unit, integration, e2e, security) against the real Docker engine"
	@echo "make images  build every image the tests and compose use: sandbox, server, docker-proxy, egress-proxy (each skipped when up to date)"
	@echo "make sandbox-image  build only the sandbox image (what make run needs)"
	@echo "make compose-up  docker compose up that works without an image registry and behind a TLS proxy (CAPSULE_EXTRA_CA)"
	@echo "make engine  install/start a Docker engine on a Debian machine as root (used by CI)"
	@echo "make volume-root  the btrfs filesystem (simple quotas) that bounds run and workspace disk use (root)"

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npm run build

# Every image a test uses (the compose test runs the server and docker-proxy images, the egress test
# the egress proxy); each build is skipped when the image's inputs are unchanged (hash label), so a
# second `make test` builds nothing.
images: sandbox-image server-image proxy-image egress-image

sandbox-image:
	bash images/build.sh sandbox

server-image:
	bash images/build.sh server

proxy-image:
	bash images/build.sh docker-proxy

egress-image:
	bash images/build.sh egress-proxy

engine:
	bash scripts/provision-docker-engine.sh

compose-up:
	bash scripts/compose-up.sh

# Disk quotas need root once (a loop mount); afterwards the check is a quick no-op. Tests require them
# (CAPSULE_REQUIRE_DISK_QUOTA=1), so `make test` stops here with the fix named when they are missing.
volume-root:
	bash scripts/provision-volume-root.sh

run: deps sandbox-image build
	@bash scripts/provision-volume-root.sh || echo "[make run] starting without kernel-enforced disk quotas: system_info reports disk_quota.enforced false"
	node dist/server/cli.js serve

test: deps images volume-root
	CAPSULE_REQUIRE_DISK_QUOTA=1 npm test

unit: deps
	npx ava test/unit

integration: deps sandbox-image build volume-root
	CAPSULE_REQUIRE_DISK_QUOTA=1 npx ava test/integration

e2e: deps images build volume-root
	CAPSULE_REQUIRE_DISK_QUOTA=1 npx ava test/e2e

security: deps sandbox-image build volume-root
	CAPSULE_REQUIRE_DISK_QUOTA=1 npx ava test/security

clean:
	rm -rf dist
