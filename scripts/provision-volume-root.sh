#!/usr/bin/env bash
# Provide the btrfs filesystem whose quotas bound every volume a sandbox writes to (workspaces, the
# per-run /workspace and /capsule-out): a sparse image file, formatted btrfs, loop-mounted at
# CAPSULE_VOLUME_ROOT, with simple quotas (squota, Linux 6.7+) enabled. Capsule checks it at start-up
# and reports `disk_quota` in system_info; without it, volumes are unbounded and Capsule says so.
#
#   CAPSULE_VOLUME_ROOT   mount point (default /var/lib/capsule/volumes; the server's setting of the same name)
#   CAPSULE_VOLUME_IMAGE  the image file (default <root>.img)
#   CAPSULE_VOLUME_SIZE   its size when created (default 32G; sparse: it takes host disk only as it fills,
#                         and it is the most all Capsule volumes together can ever take)
#
# Idempotent: a no-op when the root is already a btrfs with simple quotas; after a reboot it mounts the
# existing image again. Needs root (loop mount); installs btrfs-progs from Debian when missing.
set -euo pipefail

ROOT="${CAPSULE_VOLUME_ROOT:-/var/lib/capsule/volumes}"
IMAGE="${CAPSULE_VOLUME_IMAGE:-${ROOT%/}.img}"
SIZE="${CAPSULE_VOLUME_SIZE:-32G}"
log() { printf '[provision-volumes] %s\n' "$*" >&2; }
fail() { log "$*"; log "without it Capsule runs with disk quotas NOT enforced (system_info reports disk_quota.enforced: false)"; exit 1; }

quota_mode() {
  local uuid
  uuid="$(findmnt -n -o UUID --target "$ROOT" 2>/dev/null || true)"
  cat "/sys/fs/btrfs/$uuid/qgroups/mode" 2>/dev/null || echo disabled
}
is_ready() { [[ -d "$ROOT" && "$(stat -f -c %T "$ROOT" 2>/dev/null)" == btrfs && "$(quota_mode)" == squota ]]; }

if is_ready; then
  log "$ROOT is a btrfs with simple quotas ($(findmnt -n -o SIZE --target "$ROOT" 2>/dev/null || echo '?') filesystem)"
  exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
  fail "$ROOT is not a btrfs with simple quotas, and this is not root: run \`sudo bash scripts/provision-volume-root.sh\`"
fi
if ! command -v mkfs.btrfs >/dev/null 2>&1; then
  [[ -f /etc/debian_version ]] || fail "mkfs.btrfs is missing: install btrfs-progs"
  log "installing btrfs-progs from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq btrfs-progs >/dev/null
fi

mkdir -p "$ROOT"
if ! mountpoint -q "$ROOT"; then
  if [[ ! -f "$IMAGE" ]]; then
    log "creating $IMAGE ($SIZE, sparse) and formatting it btrfs"
    mkdir -p "$(dirname "$IMAGE")"
    truncate -s "$SIZE" "$IMAGE"
    # Single copies of data and metadata: DUP metadata would put twice what a qgroup counts on the host disk.
    mkfs.btrfs -q -L capsule-volumes -m single -d single "$IMAGE" || { rm -f "$IMAGE"; fail "mkfs.btrfs failed"; }
  fi
  log "mounting $IMAGE at $ROOT"
  mount -o loop "$IMAGE" "$ROOT" || fail "cannot loop-mount $IMAGE (are loop devices available?)"
fi
[[ "$(stat -f -c %T "$ROOT")" == btrfs ]] || fail "$ROOT is a mount point of another filesystem ($(stat -f -c %T "$ROOT")); pick another CAPSULE_VOLUME_ROOT"

mode="$(quota_mode)"
if [[ "$mode" == qgroup ]]; then
  # Full qgroups do not bound subvolumes a sandbox nests in its volume; simple quotas do.
  log "switching $ROOT from full qgroups to simple quotas"
  btrfs quota disable "$ROOT"
  mode=disabled
fi
if [[ "$mode" != squota ]]; then
  log "enabling simple quotas on $ROOT"
  # btrfs-progs before 6.7 (Debian 12 has 6.2) has no `quota enable --simple`: the same ioctl, from
  # perl (always present on Debian): BTRFS_IOC_QUOTA_CTL with BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA (4).
  perl -e 'sysopen(my $fh, $ARGV[0], 0) or die "open $ARGV[0]: $!\n"; my $args = pack("QQ", 4, 0); ioctl($fh, 0xC0109428, $args) or die "$!\n";' "$ROOT" \
    || fail "the kernel refused simple quotas on $ROOT (they need Linux 6.7 or newer; this is $(uname -r))"
fi
is_ready || fail "$ROOT has quota mode \"$(quota_mode)\", not squota"
log "$ROOT is a btrfs with simple quotas ($(findmnt -n -o SIZE --target "$ROOT") filesystem, image $IMAGE)"
