#!/usr/bin/env bash
# Build the comments API image and print its size and the size of the layers it adds to its base.
#   build-image.sh                               # local debootstrap base (no registry needed)
#   BASE_IMAGE=python:3.11-slim-bookworm build-image.sh   # online: the official slim Python image
# Env: IMAGE (repository, default infra-comments/comments-api), BASE_IMAGE, PIP_CA_BUNDLE (a CA
# bundle path inside the base for pip behind a TLS proxy; set automatically for the local base).
# Prints the built image reference on stdout; everything else goes to stderr.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

APP_DIR=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-infra-comments/comments-api}
VERSION=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$APP_DIR/pyproject.toml")
REF=$IMAGE:$VERSION

"$(dirname "$0")/docker-engine.sh" start
if [[ -z ${BASE_IMAGE:-} ]]; then
  BASE_IMAGE=$("$(dirname "$0")/local-base-image.sh")
  # The local base trusts this machine's proxy CA in its system bundle; pip must use that bundle.
  PIP_CA_BUNDLE=${PIP_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
fi

log "building $REF on $BASE_IMAGE"
# The classic builder: it honours --network host with the engine's own networking switched off,
# and needs no BuildKit frontend image from a registry. Host networking keeps pip's traffic on the
# host's own path to PyPI.
DOCKER_BUILDKIT=0 docker build --network host --pull=false \
  --build-arg BASE_IMAGE="$BASE_IMAGE" \
  --build-arg PIP_CA_BUNDLE="${PIP_CA_BUNDLE:-}" \
  --build-arg VERSION="$VERSION" \
  --build-arg REVISION="$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null || true)" \
  --build-arg SOURCE="$(git -C "$APP_DIR" remote get-url origin 2>/dev/null || true)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$REF" -t "$IMAGE:latest" "$APP_DIR" >&2

# Earlier builds of this image lose their tag to this one: drop them (not the builder stage's
# cache, which carries no such label), so repeated builds do not pile up.
docker image prune --force --filter "label=org.opencontainers.image.title=comments-api" >/dev/null
image_sizes "$REF" >/dev/null
echo "$REF"
