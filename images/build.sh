#!/usr/bin/env bash
# Build Capsule's sandbox image, with or without an image registry.
#
#   images/build.sh [sandbox]  build the sandbox image when missing or stale (`make images`)
#   images/build.sh server     build the server image (compose.yaml uses it)
#   images/build.sh docker-proxy  build the Docker API allowlist proxy (compose.yaml uses it)
#   images/build.sh egress-proxy  build the egress proxy (squid + mitmproxy) for egress profiles
#   FORCE=1 images/build.sh    rebuild even when the tagged image is up to date
#
# Tags come from package.json ("capsule.sandboxImage", "capsule.egressImage"; the server is
# capsule/server:<version>).
# An image whose label capsule.context-hash matches the hash of its inputs is up to date and skipped.
# When BASE_IMAGE (default debian:bookworm-slim) is neither present nor pullable, a Debian
# base is bootstrapped with debootstrap and imported as capsule/base:bookworm.
# HTTPS fetched during the build trusts CAPSULE_EXTRA_CA (default: NODE_EXTRA_CA_CERTS).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[images] %s\n' "$*" >&2; }
TMP_DIRS=()
cleanup() { if ((${#TMP_DIRS[@]})); then rm -rf "${TMP_DIRS[@]}"; fi; }
trap cleanup EXIT

TARGET="${1:-sandbox}"
SANDBOX_IMAGE="${CAPSULE_SANDBOX_IMAGE:-$(node -p "require('$ROOT/package.json').capsule.sandboxImage")}"
SERVER_IMAGE="capsule/server:$(node -p "require('$ROOT/package.json').version")"
PROXY_IMAGE="capsule/docker-proxy:$(node -p "require('$ROOT/package.json').version")"
EGRESS_IMAGE="${CAPSULE_EGRESS_IMAGE:-$(node -p "require('$ROOT/package.json').capsule.egressImage")}"
BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
OFFLINE_BASE="capsule/base:bookworm"
EXTRA_CA="${CAPSULE_EXTRA_CA:-${NODE_EXTRA_CA_CERTS:-}}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Hash of the files an image is built from (paths relative to the repository root).
context_hash() {
  (cd "$ROOT" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

bootstrap_base() {
  if image_exists "$OFFLINE_BASE"; then
    log "using existing $OFFLINE_BASE"
    return
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
      log "installing debootstrap"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    else
      log "cannot pull $BASE_IMAGE and debootstrap is missing: install debootstrap or make $BASE_IMAGE available"
      exit 1
    fi
  }
  local rootfs
  rootfs="$(mktemp -d /tmp/capsule-rootfs.XXXXXX)"
  TMP_DIRS+=("$rootfs")
  log "bootstrapping $OFFLINE_BASE with debootstrap (minbase bookworm from $DEBIAN_MIRROR, ~1.5 min)"
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" \
    | grep -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring) (Release|Packages|base)|^I: Base system' >&2 || true
  [[ -x "$rootfs/bin/sh" ]] || { log "debootstrap failed"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$OFFLINE_BASE" >/dev/null
  rm -rf "$rootfs"
  log "imported $OFFLINE_BASE"
}

resolve_base() {
  if image_exists "$BASE_IMAGE"; then echo "$BASE_IMAGE"; return; fi
  log "trying to pull $BASE_IMAGE"
  if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE"; return; fi
  log "$BASE_IMAGE cannot be pulled (no registry reachable); falling back to an offline base"
  bootstrap_base
  echo "$OFFLINE_BASE"
}

build_image() {
  local tag="$1" hash="$2" context="$3" dockerfile="$4" ca_dest="$5" current base
  current="$(docker image inspect "$tag" --format '{{index .Config.Labels "capsule.context-hash"}}' 2>/dev/null || true)"
  if [[ "$current" == "$hash" && -z "${FORCE:-}" ]]; then
    log "$tag is up to date (context $hash)"
    return
  fi
  base="$(resolve_base)"
  if [[ -n "$EXTRA_CA" && -s "$EXTRA_CA" ]]; then cp "$EXTRA_CA" "$ca_dest"; else : >"$ca_dest"; fi
  log "building $tag on $base (context $hash)"
  # Builds use the host network: the engine runs with --bridge=none, and apt/npm must reach their
  # registries. Sandboxes never get this; their network is `none`.
  DOCKER_BUILDKIT=0 docker build --network host \
    --build-arg "BASE_IMAGE=$base" \
    --label "capsule.context-hash=$hash" \
    -f "$dockerfile" -t "$tag" "$context"
  # The legacy builder keeps intermediate stages as untagged images; they are its layer cache, so they
  # stay. Reclaim them with: docker image prune -f --filter label=capsule.build-stage
  log "built $tag"
}

main() {
  docker info >/dev/null 2>&1 || { log "Docker engine not reachable (run scripts/provision-docker-engine.sh or set DOCKER_HOST)"; exit 1; }
  case "$TARGET" in
    sandbox)
      local ctx
      ctx="$(mktemp -d /tmp/capsule-build.XXXXXX)"
      TMP_DIRS+=("$ctx")
      cp -R "$ROOT/images/sandbox/." "$ctx/"
      build_image "$SANDBOX_IMAGE" "$(context_hash images/sandbox)" "$ctx" "$ctx/Dockerfile" "$ctx/extra-ca.pem"
      ;;
    server)
      TMP_DIRS+=("$ROOT/images/server/extra-ca.pem")
      build_image "$SERVER_IMAGE" "$(context_hash images/server/Dockerfile package.json package-lock.json tsconfig.json server ui sandbox-profiles)" \
        "$ROOT" "$ROOT/images/server/Dockerfile" "$ROOT/images/server/extra-ca.pem"
      ;;
    docker-proxy)
      build_image "$PROXY_IMAGE" "$(context_hash images/docker-proxy)" "$ROOT/images/docker-proxy" "$ROOT/images/docker-proxy/Dockerfile" /dev/null
      ;;
    egress-proxy)
      build_image "$EGRESS_IMAGE" "$(context_hash images/egress-proxy)" "$ROOT/images/egress-proxy" "$ROOT/images/egress-proxy/Dockerfile" /dev/null
      ;;
    *) log "unknown target $TARGET (use sandbox, server, docker-proxy or egress-proxy)"; exit 2 ;;
  esac
}

main "$@"
