#!/bin/bash
# Builds the container images from Dockerfile.distroless with podman, offline:
#   localhost/git-sync:latest   default target (distroless, no shell)
#   localhost/git-sync:debug    --target debug (adds busybox as /bin/sh)
# Runs setup-podman.sh and standins.sh first (both no-ops once done), rebuilds dist/git-sync
# when a source file is newer, then prints each image's size, uncompressed and gzip-compressed.
# Idempotent; a re-run with nothing changed takes a few seconds (podman's layer cache).
# Never passes --pull: the base images must resolve to the local stand-ins here.
#
# What it changes on this machine: nothing outside $GIT_SYNC_PODMAN_DIR (default .cache/podman
# here: podman's configuration, image store and the stand-ins' work files) and podman's per-boot
# state in /run/git-sync-podman-<n> (podman-env.sh). The host's /etc/containers and its image
# store are left alone, so `podman` in a plain shell does not see these images; run
# `. scripts/image/podman-env.sh` first. Packages are installed only when asked:
#   --install                  apt-get install podman skopeo runc debootstrap catatonit when one is
#                              missing (without it, a missing tool is named and the build stops)
#   IMAGE=localhost/git-sync   image name (tags :latest and :debug)
#   SKIP_SETUP=1               don't run setup-podman.sh / standins.sh
#   GIT_SYNC_PODMAN_DIR=DIR    keep podman's configuration and store in DIR instead
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/git-sync}
if [ -x node_modules/.bin/bun ]; then BUN=node_modules/.bin/bun; else BUN="npx bun"; fi
install=""
for arg in "$@"; do
  case "$arg" in
    --install) install=--install ;;
    *) echo "usage: scripts/image/build.sh [--install]" >&2; exit 2 ;;
  esac
done
. scripts/image/podman-env.sh

if [ -z "${SKIP_SETUP:-}" ]; then
  scripts/image/setup-podman.sh $install >/dev/null
  scripts/image/standins.sh
fi

if [ ! -x dist/git-sync ] || [ -n "$(find src scripts/build.ts package.json -newer dist/git-sync -print -quit)" ]; then
  $BUN scripts/build.ts
fi

# --network=host: the build stage's apt-get needs the mirror; the final stages run nothing.
for target in distroless debug; do
  tag=latest; [ "$target" = debug ] && tag=debug
  old=$(podman image inspect -f '{{.Id}}' "$IMAGE:$tag" 2>/dev/null || true)
  start=$(date +%s%N)
  podman build -q --isolation chroot --network=host -f Dockerfile.distroless --target "$target" -t "$IMAGE:$tag" . >/dev/null
  echo "built $IMAGE:$tag (target $target) in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  # The replaced image would linger untagged (~150 MB each time the binary changes).
  new=$(podman image inspect -f '{{.Id}}' "$IMAGE:$tag")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
done

$BUN scripts/image/sizes.ts "$IMAGE:latest" "$IMAGE:debug"
echo "the images are in $GIT_SYNC_PODMAN_DIR; to run podman on them: . scripts/image/podman-env.sh"
