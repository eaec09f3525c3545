#!/usr/bin/env bash
# Build a Debian bookworm base image with python3 locally, for machines that reach Debian's
# mirror but no container registry. debootstrap makes a minimal root filesystem, the machine's
# proxy CA certificates are trusted in it (as behind a corporate TLS proxy), and `docker import`
# turns it into an image. An existing image with the same tag is reused.
#   local-base-image.sh [--force]
# Env: LOCAL_BASE_IMAGE (tag, default infra-comments/base:bookworm), DEBIAN_MIRROR (default: the
# mirror this machine's apt uses), EXTRA_CA_DIR (default /usr/local/share/ca-certificates).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

IMAGE=${LOCAL_BASE_IMAGE:-infra-comments/base:bookworm}
SUITE=bookworm
EXTRA_CA_DIR=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
FORCE=false
[[ ${1:-} == --force ]] && FORCE=true

# The same Debian mirror as the host's apt (deb822 .sources or one-line .list), else deb.debian.org.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    uri=$(grep -hoE '(^URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+/debian/?([[:space:]]|$)' "$f" \
      | grep -oE '[a-z]+://[^[:space:]]+' | head -n 1) || true
    [[ -n $uri ]] && { echo "${uri%/}"; return; }
  done
  echo http://deb.debian.org/debian
}

"$(dirname "$0")/docker-engine.sh" start
if ! $FORCE && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "reusing $IMAGE (pass --force to rebuild)."
  echo "$IMAGE"
  exit 0
fi
need debootstrap
[[ $EUID -eq 0 ]] || die "debootstrap needs root."

MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}
ROOTFS=$(mktemp -d /var/tmp/infra-comments-rootfs.XXXXXX)
trap 'rm -rf --one-file-system "$ROOTFS"' EXIT

log "debootstrap $SUITE from $MIRROR into $ROOTFS (a few minutes)"
# minbase: essential packages + apt only. python3-venv brings ensurepip's wheels for the builder stage.
if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1; then
  tail -n 20 "$ROOTFS.log" >&2
  [[ -f $ROOTFS/debootstrap/debootstrap.log ]] && tail -n 20 "$ROOTFS/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (log: $ROOTFS.log)."
fi
rm -f "$ROOTFS.log"

shopt -s nullglob
cas=("$EXTRA_CA_DIR"/*.crt)
if ((${#cas[@]})); then
  log "trusting ${#cas[@]} extra CA certificate(s) from $EXTRA_CA_DIR"
  cp "${cas[@]}" "$ROOTFS/usr/local/share/ca-certificates/"
fi
# (Its "rehash: skipping ca-certificates.crt" warning is about the bundle itself and harmless.)
chroot "$ROOTFS" update-ca-certificates 2>&1 >/dev/null | { grep -v "skipping ca-certificates.crt" >&2 || true; }

# Slim: nothing here is needed to run Python; apt lists come back with `apt-get update`.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/usr/share/lintian "$ROOTFS"/var/log/*.log \
  "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/debootstrap
find "$ROOTFS/usr/lib/python3"* -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
# Keep them out when a derived image runs apt-get, as the official Debian images do.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/excludes" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG

log "importing as $IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase $SUITE + python3, python3-venv, ca-certificates" \
  - "$IMAGE" >/dev/null
log "$IMAGE: $(mb "$(docker image inspect --format '{{.Size}}' "$IMAGE")"), python $(docker run --rm --network host "$IMAGE" python3 -c 'import sys; print(sys.version.split()[0])')"
echo "$IMAGE"
