#!/bin/bash
# The private podman setup shared by the image build (build.sh) and the tests that use its
# images (test/image, test/pod): podman, skopeo and buildah read these files instead of
# /etc/containers, and keep their images, containers and volumes in a directory of this
# project, so building the image never reconfigures the host or touches its image store.
#   . scripts/image/podman-env.sh      in a shell: `podman images` then shows the project's images
#                                      (from another shell than bash, source it from the repository root)
#   bash scripts/image/podman-env.sh   prints the variables as NAME=value lines (the tests read them)
# GIT_SYNC_PODMAN_DIR chooses the directory (default: .cache/podman in this repository). The
# files in it are written by setup-podman.sh; per-boot state (podman's runroot and tmp_dir) goes
# where podman keeps its own, under /run, in a directory named after this one.
if [ -n "${BASH_VERSION:-}" ]; then _gs_self=${BASH_SOURCE[0]}; else _gs_self=scripts/image/podman-env.sh; fi
_gs_repo=$(cd "$(dirname "$_gs_self")/../.." && pwd)
export GIT_SYNC_PODMAN_DIR=${GIT_SYNC_PODMAN_DIR:-$_gs_repo/.cache/podman}
export GIT_SYNC_PODMAN_RUN=/run/git-sync-podman-$(printf '%s' "$GIT_SYNC_PODMAN_DIR" | cksum | cut -d' ' -f1)
# Each one replaces every other file of its kind (containers.conf(5), containers-storage.conf(5)).
export CONTAINERS_CONF=$GIT_SYNC_PODMAN_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$GIT_SYNC_PODMAN_DIR/storage.conf
unset _gs_repo

if [ -n "${BASH_VERSION:-}" ] && [ "$_gs_self" = "$0" ]; then
  for name in GIT_SYNC_PODMAN_DIR GIT_SYNC_PODMAN_RUN CONTAINERS_CONF CONTAINERS_STORAGE_CONF; do
    printf '%s=%s\n' "$name" "${!name}"
  done
fi
unset _gs_self
