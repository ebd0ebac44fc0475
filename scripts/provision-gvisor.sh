#!/usr/bin/env bash
# gVisor for the `gvisor` sandbox profile: installs `runsc` from Debian and registers it with the
# Docker engine in its daemon.json as
#
#   "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--platform=ptrace"]}}
#
# `--network=none`: sandboxes have no network, and runsc's own netstack refuses to start a container
# whose network namespace is the root one ("cannot run with network enabled in root network
# namespace"), which is what Docker's `--network none` gives it.
# `--platform=ptrace`: with the default platform of runsc 20240729 (systrap), a Node memory bomb at the
# memory limit hung the sandbox until its timeout (30 s here); with ptrace every bomb measured (Python,
# Node, a buffering `tail`) ends within 2 s with the engine recording the OOM kill, and ptrace was as
# fast or faster on this (virtualised) machine: see README "Runtimes".
#
# Which runsc: at least RUNSC_MIN_VERSION. Debian 12's own runsc (0.0~20221219) is too old: its statx
# refuses AT_NO_AUTOMOUNT, so coreutils 9 `ls` and `stat` fail with "Invalid argument" on every path,
# and it mounts no cgroupfs (the launcher then reads no CPU, memory or process figures). Debian 13's
# package (0.0~20240729, a static Go binary without dependencies) fixes both; on Debian 12 this script
# downloads that package through the machine's own Debian mirror, with a private apt state folder (the
# system's sources and lists are never changed), and installs it with dpkg.
#
# Other settings in daemon.json are kept (the file is merged, never rewritten from scratch). The engine
# is told only when the file changed or the engine does not list runsc yet, and then with SIGHUP:
# dockerd reloads `runtimes` from daemon.json without stopping anything (Docker 20.10 here: runsc is
# listed about 0.1 s later, running containers untouched). Idempotent: a second run changes nothing
# and signals nothing.
#
#   DAEMON_JSON        the engine's config file (default /etc/docker/daemon.json)
#   DOCKERD_PIDFILE    the pid file of the dockerd serving the default socket (default /var/run/docker.pid)
#   DEBIAN_MIRROR      the Debian mirror for the newer runsc (default: the first one apt's sources name)
#
# Called by provision-docker-engine.sh (`make engine`, CI) before the engine is started or checked.
# `--config-only` only installs and merges (for an engine that is not started yet); no signal is sent.
set -euo pipefail

DAEMON_JSON="${DAEMON_JSON:-/etc/docker/daemon.json}"
PIDFILE="${DOCKERD_PIDFILE:-/var/run/docker.pid}"
RUNSC=/usr/bin/runsc
RUNSC_MIN_VERSION="0.0~20240729"
RUNSC_SUITE=trixie
log() { printf '[provision-gvisor] %s\n' "$*" >&2; }

if [[ "$(id -u)" != "0" || ! -f /etc/debian_version ]]; then
  log "skipped (needs root on Debian): the gvisor profile stays disabled until the engine lists runsc"
  exit 0
fi
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != unix://* ]]; then
  log "skipped: DOCKER_HOST=${DOCKER_HOST} is not this machine's engine; register runsc in that engine's daemon.json"
  exit 0
fi

installed_version() { dpkg-query -W -f '${Version}' runsc 2>/dev/null || true; }
new_enough() { [[ -n "$1" ]] && dpkg --compare-versions "$1" ge "$RUNSC_MIN_VERSION"; }

# The machine's Debian mirror, as apt's sources name it (deb822 or one-line format).
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
  { grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk '{print $2}' | { grep -v -- '-security' || true; } | head -1
}

install_runsc() {
  export DEBIAN_FRONTEND=noninteractive
  if new_enough "$(installed_version)"; then return; fi
  apt-get update -qq
  if new_enough "$(apt-cache policy runsc | awk '/Candidate:/ {print $2}')"; then
    log "installing runsc from Debian"
    apt-get install -y -qq runsc >/dev/null
    return
  fi
  local mirror state
  mirror="$(debian_mirror)"
  [[ -n "$mirror" ]] || { log "no Debian mirror found in apt's sources: set DEBIAN_MIRROR"; exit 1; }
  state="$(mktemp -d)"
  trap 'rm -rf "$state"' RETURN
  mkdir -p "$state/lists/partial" "$state/cache/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $RUNSC_SUITE main" >"$state/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::Archives=$state/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  local candidate
  candidate="$(apt-cache "${opts[@]}" policy runsc | awk '/Candidate:/ {print $2}')"
  new_enough "$candidate" || { log "Debian $RUNSC_SUITE offers runsc ${candidate:-none}; at least $RUNSC_MIN_VERSION is needed"; exit 1; }
  log "installing runsc $candidate (Debian $RUNSC_SUITE's package, a static binary: this release's is older)"
  (cd "$state" && apt-get "${opts[@]}" download "runsc=$candidate" >/dev/null)
  dpkg -i "$state"/runsc_*.deb >/dev/null
}
install_runsc
new_enough "$(installed_version)" || { log "runsc $(installed_version) is older than $RUNSC_MIN_VERSION"; exit 1; }

# Merge the runtime into daemon.json; prints "changed" or "unchanged". A file that is not a JSON object
# stops the script instead of being replaced.
mkdir -p "$(dirname "$DAEMON_JSON")"
merged="$(node - "$DAEMON_JSON" "$RUNSC" <<'EOF'
const fs = require('node:fs');
const [file, runsc] = process.argv.slice(2);
let config = {};
if (fs.existsSync(file)) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    config = text.trim() ? JSON.parse(text) : {};
  } catch (err) {
    console.error(`${file} is not valid JSON (${err.message}); fix it by hand, nothing was changed`);
    process.exit(2);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    console.error(`${file} is not a JSON object; fix it by hand, nothing was changed`);
    process.exit(2);
  }
}
const want = { path: runsc, runtimeArgs: ['--network=none', '--platform=ptrace'] };
if (JSON.stringify(config.runtimes?.runsc) === JSON.stringify(want)) {
  console.log('unchanged');
} else {
  config.runtimes = { ...(config.runtimes ?? {}), runsc: want };
  const tmp = `${file}.capsule-tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(tmp, file);
  console.log('changed');
}
EOF
)"
log "runsc in ${DAEMON_JSON}: ${merged}"
[[ "${1:-}" == "--config-only" ]] && exit 0

listed() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if [[ "$merged" == unchanged ]] && listed; then
  log "the engine lists runsc ($("$RUNSC" --version 2>/dev/null | head -1))"
  exit 0
fi
pid="$(cat "$PIDFILE" 2>/dev/null || true)"
if [[ -z "$pid" ]] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '^[^ ]*dockerd'; then
  log "no dockerd found through $PIDFILE: reload the engine yourself (kill -HUP <dockerd pid>, or systemctl reload docker)"
  exit 1
fi
log "reloading dockerd (pid $pid) with SIGHUP: running containers are not touched"
kill -HUP "$pid"
for _ in $(seq 1 50); do
  if listed; then
    log "the engine lists runsc ($("$RUNSC" --version 2>/dev/null | head -1))"
    exit 0
  fi
  sleep 0.2
done
log "dockerd did not pick up runsc after SIGHUP; its log says why (e.g. a setting given both as a flag and in ${DAEMON_JSON})"
exit 1
