#!/usr/bin/env bash
# Make a Docker engine reachable, installing and starting one only when needed, with gVisor's runsc
# registered (provision-gvisor.sh: the `gvisor` profile). Idempotent: when `docker info` already
# answers and lists runsc, this changes nothing.
# Capsule's server never installs anything; this script is for CI and development machines.
set -euo pipefail

log() { printf '[provision-docker] %s\n' "$*" >&2; }

# The btrfs filesystem whose quotas bound what sandboxes write (independent of dockerd; idempotent).
bash "$(dirname "${BASH_SOURCE[0]}")/provision-volume-root.sh" || log "continuing: disk quotas will not be enforced (see above)"

# Egress sandboxes sit on internal networks whose bridge (capsule-egr<N>, named by Capsule) carries
# the network's gateway address on the host, so they could reach any host service on 0.0.0.0 or that
# address (measured). Drop what enters the host from those bridges: traffic to the proxy and between
# containers is bridged and never passes INPUT. Idempotent; not kept across reboots (re-run this).
egress_firewall() {
  local tool
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null 2>&1 || continue
    "$tool" -C INPUT -i capsule-egr+ -j DROP 2>/dev/null || "$tool" -I INPUT -i capsule-egr+ -j DROP
  done
}
if [[ "$(id -u)" == "0" ]]; then
  egress_firewall || log "could not add the egress host firewall rule (iptables -I INPUT -i capsule-egr+ -j DROP): egress sandboxes can reach host services"
else
  log "not root: add the egress host firewall rule yourself: iptables -I INPUT -i capsule-egr+ -j DROP"
fi

gvisor="$(dirname "${BASH_SOURCE[0]}")/provision-gvisor.sh"
if docker info >/dev/null 2>&1; then
  log "engine reachable ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown))"
  exec bash "$gvisor"
fi

if [[ "$(id -u)" != "0" ]]; then
  log "no Docker engine answers and this is not root: start Docker yourself (or set DOCKER_HOST) and retry"
  exit 1
fi
if [[ ! -f /etc/debian_version ]]; then
  log "no Docker engine answers and this is not Debian: install Docker Engine for your OS and retry"
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

# Before the start, so dockerd reads the runtime from daemon.json and needs no reload.
bash "$gvisor" --config-only

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (--bridge=none: sandboxes use no network)"
  mkdir -p /var/log
  # The runtime is runc: crun fails on hybrid cgroup hosts.
  nohup dockerd --bridge=none --default-runtime=runc >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "engine up ($(docker version --format '{{.Server.Version}}'))"
    exec bash "$gvisor"
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:"
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
