# Shared helpers for the image and benchmark scripts; sourced, never run.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is not installed (Debian: apt-get install docker.io debootstrap wrk postgresql)."
  done
}

# A TCP port nobody listens on right now, on loopback.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: poll until URL answers 2xx, fail after SECONDS.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

# Bytes to a human figure in MB (10^6, as docker prints).
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# image_sizes REF: log the image's size, its base's (from the OCI base.name label) and the layers
# added on top of the base; print "IMAGE_BYTES BASE_BYTES ADDED_BYTES" on stdout. Base layers are
# shared, so image size - base size = what the Dockerfile adds.
image_sizes() {
  local ref=$1 base image_bytes base_bytes base_layers image_layers own_steps
  base=$(docker image inspect --format '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$ref")
  image_bytes=$(docker image inspect --format '{{.Size}}' "$ref")
  base_bytes=$(docker image inspect --format '{{.Size}}' "$base")
  base_layers=$(docker image inspect --format '{{len .RootFS.Layers}}' "$base")
  image_layers=$(docker image inspect --format '{{len .RootFS.Layers}}' "$ref")
  own_steps=$(($(docker history -q "$ref" | wc -l) - $(docker history -q "$base" | wc -l)))
  log "image $ref: $(mb "$image_bytes"); base $base: $(mb "$base_bytes")"
  log "layers added on top of the base: $(mb $((image_bytes - base_bytes))) in $((image_layers - base_layers)) layer(s):"
  docker history --format '{{.Size}}\t{{.CreatedBy}}' "$ref" | head -n "$own_steps" \
    | awk -F'\t' '$1 != "0B"' | cut -c1-120 | sed 's/^/    /' >&2
  echo "$image_bytes $base_bytes $((image_bytes - base_bytes))"
}
