#!/usr/bin/env bash
# `docker compose up` for a local trial that works on any machine with an engine: with or without an
# image registry, and behind a TLS-intercepting proxy (CAPSULE_EXTRA_CA=/path/ca.pem). The four images
# are built by images/build.sh (the debootstrap base when debian:bookworm-slim cannot be pulled; the
# extra CA only in discarded build stages), then compose starts them without building again.
# Extra arguments go to `compose up` (e.g. -d, or `--profile tracing` cannot be passed here: use
# COMPOSE_PROFILES=tracing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for target in sandbox server docker-proxy egress-proxy; do bash images/build.sh "$target"; done
# Kernel-enforced disk quotas need the btrfs volume root on the engine host (root, once); without it
# Capsule runs and reports disk_quota.enforced false.
if [[ "$(id -u)" == "0" ]]; then bash scripts/provision-volume-root.sh; else
  echo "[compose-up] not root: skipping scripts/provision-volume-root.sh (disk quotas not enforced unless it ran before)" >&2
fi

if [[ -z "${CAPSULE_TOKENS:-}" ]]; then
  token="$(node -e "process.stdout.write(require('node:crypto').randomBytes(16).toString('hex'))")"
  export CAPSULE_TOKENS="me:${token}"
  printf '[compose-up] CAPSULE_TOKENS was unset; clients authenticate with: Authorization: Bearer %s\n' "$token" >&2
fi

if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
exec "${compose[@]}" -f compose.yaml up --no-build "$@"
