#!/bin/bash
# Prepares running the linux-arm64 release binary under qemu-user on an x86-64 Debian host:
# installs qemu-user, and extracts Debian's arm64 glibc (the Bun executable is dynamically
# linked against it) into a sysroot for `qemu-aarch64 -L <sysroot>`. binfmt_misc is not needed.
# Idempotent. Prints the sysroot path on stdout.
#   scripts/image/arm64-sysroot.sh [sysroot]   (default /tmp/git-sync-arm64-sysroot)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
S=${1:-/tmp/git-sync-arm64-sysroot}
apt_opts=(-qq -o DPkg::Lock::Timeout=600)

if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  apt-get install -y "${apt_opts[@]}" --no-install-recommends qemu-user >/dev/null 2>&1 \
    || { apt-get update "${apt_opts[@]}" >/dev/null; apt-get install -y "${apt_opts[@]}" --no-install-recommends qemu-user >/dev/null; }
fi

if [ ! -e "$S/lib/ld-linux-aarch64.so.1" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  d=$(mktemp -d)
  (cd "$d" && { apt-get download libc6:arm64 >/dev/null 2>&1 \
      || { apt-get update "${apt_opts[@]}" >/dev/null && apt-get download libc6:arm64 >/dev/null 2>&1; }; })
  mkdir -p "$S"
  dpkg-deb -x "$d"/libc6_*_arm64.deb "$S"
  rm -rf "$d"
  # bookworm's libc6 ships /usr/lib/aarch64-linux-gnu; the binary asks for /lib/ld-linux-aarch64.so.1
  [ -e "$S/lib" ] || ln -s usr/lib "$S/lib"
fi
echo "$S"
