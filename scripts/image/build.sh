#!/bin/bash
# Builds the container images from Dockerfile.distroless with podman, offline:
#   localhost/git-sync:latest   default target (distroless, no shell)
#   localhost/git-sync:debug    --target debug (adds busybox as /bin/sh)
# Runs setup-podman.sh and standins.sh first (both no-ops once done), rebuilds dist/git-sync
# when a source file is newer, then prints each image's size, uncompressed and gzip-compressed.
# Idempotent; a re-run with nothing changed takes a few seconds (podman's layer cache).
# Never passes --pull: the base images must resolve to the local stand-ins here.
#   IMAGE=localhost/git-sync   image name (tags :latest and :debug)
#   SKIP_SETUP=1               don't run setup-podman.sh / standins.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/git-sync}
if [ -x node_modules/.bin/bun ]; then BUN=node_modules/.bin/bun; else BUN="npx bun"; fi

if [ -z "${SKIP_SETUP:-}" ]; then
  scripts/image/setup-podman.sh >/dev/null
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
