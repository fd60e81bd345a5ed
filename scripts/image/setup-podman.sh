#!/bin/bash
# Installs and configures podman for this machine kind (Debian 12, root, hybrid cgroups,
# no CAP_SYS_RESOURCE; see the image notes). Idempotent: a no-op after the first run.
#   runc, not crun: crun refuses hybrid cgroup hierarchies.
#   explicit ulimits: podman's default nofile/nproc of 1048576 cannot be set here.
#   storage driver: overlay when this kernel can mount it, vfs otherwise; chosen once,
#   before the store is first used (switching later needs `podman system reset -f`).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
for tool in podman buildah skopeo runc debootstrap catatonit; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-podman: installing ${need[*]}"
  apt-get update -qq -o DPkg::Lock::Timeout=600
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends podman buildah skopeo runc debootstrap catatonit >/dev/null
fi

mkdir -p /etc/containers
conf=$(cat <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" > /etc/containers/containers.conf
fi

if [ ! -s /etc/containers/storage.conf ] || ! grep -q '^runroot = "/run/containers/storage"' /etc/containers/storage.conf; then
  driver=vfs
  t=$(mktemp -d); mkdir "$t/l" "$t/u" "$t/w" "$t/m"
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"; driver=overlay
  fi
  rm -rf "$t"
  if [ -d /var/lib/containers/storage ] && [ -n "$(ls -A /var/lib/containers/storage 2>/dev/null)" ]; then
    echo "setup-podman: WARNING: an existing store in /var/lib/containers/storage may use another driver;" \
      "run 'podman system reset -f' if podman complains" >&2
  fi
  printf '[storage]\ndriver = "%s"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
    "$driver" > /etc/containers/storage.conf
fi

podman --version
