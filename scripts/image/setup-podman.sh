#!/bin/bash
# Checks that podman and the tools the image build needs are installed, then writes the
# project's private podman configuration into $GIT_SYNC_PODMAN_DIR (podman-env.sh). Nothing
# under /etc is written: the host's own podman setup, if it has one, stays as it is.
#   Packages (Debian apt): podman skopeo runc debootstrap catatonit. A missing one is installed
#   only with --install, which runs apt-get (that changes the host); without it the script
#   names what is missing and exits 1.
# Choices for this machine kind (Debian 12, root, hybrid cgroups, no CAP_SYS_RESOURCE):
#   runc, not crun: crun refuses hybrid cgroup hierarchies.
#   explicit ulimits: podman's default nofile/nproc of 1048576 cannot be set here.
#   file locks: the default shm locks live in one segment for every root podman on the host
#   (/dev/shm/libpod_lock), which a new store frees on its first run, taking the locks of the
#   host's own containers with it.
#   storage driver: overlay when the store's filesystem can mount it, vfs otherwise; chosen once,
#   before the store is first used (switching later needs a fresh store: rm -rf the directory).
# Idempotent: after the first run it only rewrites a file whose content would change.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/../.."
. scripts/image/podman-env.sh

PACKAGES=(podman skopeo runc debootstrap catatonit)
need=()
for tool in "${PACKAGES[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/libexec/podman/$tool" ] || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "${1:-}" != "--install" ]; then
    echo "setup-podman: missing ${need[*]}; install them with" >&2
    echo "  apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
    echo "or run scripts/image/build.sh --install to have it done" >&2
    exit 1
  fi
  echo "setup-podman: installing ${PACKAGES[*]} with apt-get (--install)"
  apt-get update -qq -o DPkg::Lock::Timeout=600
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi

D=$GIT_SYNC_PODMAN_DIR
mkdir -p "$D/storage" "$D/networks" "$GIT_SYNC_PODMAN_RUN"

# Writes $1 from stdin unless it already holds exactly that.
put() {
  local want; want=$(cat)
  if [ "$(cat "$1" 2>/dev/null)" != "$want" ]; then printf '%s\n' "$want" > "$1"; fi
}

put "$CONTAINERS_CONF" <<CONF
# Written by scripts/image/setup-podman.sh; read by podman through CONTAINERS_CONF only.
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = "$GIT_SYNC_PODMAN_RUN/libpod"
[network]
network_config_dir = "$D/networks"
CONF

driver=$(sed -n 's/^driver = "\(.*\)"$/\1/p' "$CONTAINERS_STORAGE_CONF" 2>/dev/null || true)
if [ -z "$driver" ]; then
  driver=vfs
  t=$(mktemp -d "$D/probe.XXXXXX"); mkdir "$t/l" "$t/u" "$t/w" "$t/m"
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"; driver=overlay
  fi
  rm -rf "$t"
fi
put "$CONTAINERS_STORAGE_CONF" <<CONF
# Written by scripts/image/setup-podman.sh; read through CONTAINERS_STORAGE_CONF only.
[storage]
driver = "$driver"
runroot = "$GIT_SYNC_PODMAN_RUN/storage"
graphroot = "$D/storage"
CONF

podman --version
