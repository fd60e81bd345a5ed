#!/bin/bash
# Offline stand-ins for the two base images Dockerfile.distroless names, imported into podman
# under their real names so the Dockerfile builds unchanged (podman uses a local image without
# contacting the registry, as long as nobody passes --pull). Skips images that already exist.
#   docker.io/library/debian:bookworm-slim   debootstrap --variant=minbase (dpkg files kept intact)
#   gcr.io/distroless/base-debian12:latest   the .debs distroless uses for base-debian12
#                                            (base-files netbase tzdata media-types libc6 libssl3
#                                            + the CA bundle), not usr-merged, like the real one
# They go into the project's private podman store (podman-env.sh), like the image itself.
# Usage: scripts/image/standins.sh [workdir]   (default $GIT_SYNC_PODMAN_DIR/standins)
set -euo pipefail
. "$(dirname "$0")/podman-env.sh"
W=${1:-$GIT_SYNC_PODMAN_DIR/standins}
mkdir -p "$W"
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DEBIAN=docker.io/library/debian:bookworm-slim
DISTROLESS=gcr.io/distroless/base-debian12

if podman image exists "$DEBIAN"; then
  echo "standins: $DEBIAN present"
else
  echo "standins: building $DEBIAN with debootstrap"
  R=$W/rootfs-debian
  [ -e "$R/etc/debian_version" ] || debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$W.debootstrap.log" 2>&1 \
    || { tail -20 "$W.debootstrap.log" >&2; exit 1; }
  rm -f "$R/etc/apt/sources.list"
  cat > "$R/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/var/log/* "$R"/tmp/*
  : > "$R/etc/resolv.conf"; : > "$R/etc/hostname"
  tar --numeric-owner --xattrs -C "$R" -c . | podman import -q \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$DEBIAN" >/dev/null
  podman tag "$DEBIAN" docker.io/library/debian:bookworm docker.io/library/debian:12-slim docker.io/library/debian:12
  rm -rf "$R"
fi

if podman image exists "$DISTROLESS:latest" && podman image exists "$DISTROLESS:nonroot"; then
  echo "standins: $DISTROLESS present"
else
  echo "standins: building $DISTROLESS from .debs"
  D=$W/distroless; R=$D/rootfs
  rm -rf "$D"; mkdir -p "$D/debs" "$R"
  PKGS="base-files netbase tzdata media-types libc6 libssl3"
  # shellcheck disable=SC2086
  (cd "$D/debs" && apt-get download $PKGS ca-certificates >/dev/null 2>&1)
  for p in $PKGS; do
    dpkg-deb -x "$D"/debs/"${p}"_*.deb "$R"
    mkdir -p "$R/var/lib/dpkg/status.d"; dpkg-deb -f "$D"/debs/"${p}"_*.deb > "$R/var/lib/dpkg/status.d/$p"
  done
  T=$(mktemp -d); dpkg-deb -x "$D"/debs/ca-certificates_*.deb "$T"   # distroless ships only the bundle
  mkdir -p "$R/etc/ssl/certs"; cat "$T"/usr/share/ca-certificates/mozilla/*.crt > "$R/etc/ssl/certs/ca-certificates.crt"; rm -rf "$T"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$R/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' > "$R/etc/group"
  printf 'passwd: compat\ngroup: compat\nshadow: compat\ngshadow: files\nhosts: files dns\nnetworks: files\nprotocols: db files\nservices: db files\nethers: db files\nrpc: db files\n' > "$R/etc/nsswitch.conf"
  rm -f "$R/etc/os-release"
  printf 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nVERSION="Debian GNU/Linux 12 (bookworm)"\n' > "$R/etc/os-release"
  mkdir -p "$R/tmp" "$R/root" "$R/home/nonroot"; chmod 1777 "$R/tmp"; chmod 700 "$R/root" "$R/home/nonroot"; chown 65532:65532 "$R/home/nonroot"
  rm -rf "$R/usr/share/man" "$R/usr/share/info" "$R/usr/share/lintian" "$R/usr/share/locale"
  find "$R/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true
  for v in latest:0:/ nonroot:65532:/home/nonroot; do
    IFS=: read -r tag uid wd <<<"$v"
    tar --numeric-owner -C "$R" -c . | podman import -q \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
      --change "USER $uid" --change "WORKDIR $wd" - "$DISTROLESS:$tag" >/dev/null
  done
  rm -rf "$D"
fi
