#!/usr/bin/env bash
# Build the image (reusing the local base) and test it for real in a local Docker engine:
# size budget, no compilers or pip in it, OCI labels, HEALTHCHECK turning healthy, /healthz,
# a POST and a list against the running container, non-root user, graceful stop on SIGTERM.
# All traffic stays on loopback (--network host, the app bound to 127.0.0.1).
# Env: IMAGE_BUDGET_MB (layers added on top of the base, default 40), plus build-image.sh's.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need docker curl python3

BUDGET_MB=${IMAGE_BUDGET_MB:-40}
NAME=comments-api-test-$$
failures=0
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
ok() { log "ok: $*"; }

cleanup() {
  if docker container inspect "$NAME" >/dev/null 2>&1; then
    ((failures == 0)) || { log "container logs:"; docker logs --tail 40 "$NAME" >&2 2>&1 || true; }
    docker rm -f "$NAME" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

REF=$("$(dirname "$0")/build-image.sh") || die "the image did not build (output above)."

# 1. What is in the image.
read -r _ _ added < <(image_sizes "$REF" 2>/dev/null)
if ((added <= BUDGET_MB * 1000000)); then ok "layers added on top of the base: $(mb "$added") <= $BUDGET_MB MB"
else fail "layers added on top of the base: $(mb "$added") > budget $BUDGET_MB MB"; fi

found=$(docker run --rm --network host --entrypoint /bin/sh "$REF" -c \
  'for c in gcc cc c++ g++ clang make pip pip3; do command -v "$c"; done; ls /opt/venv/bin/pip* 2>/dev/null' || true)
if [[ -z $found ]]; then ok "no compiler, make or pip in the final image"
else fail "the final image contains build tools: $(echo "$found" | tr '\n' ' ')"; fi

missing_labels=0
for label in title description version created revision base.name; do
  value=$(docker image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$label\"}}" "$REF")
  [[ -n $value && $value != '<no value>' ]] || { fail "OCI label org.opencontainers.image.$label is missing or empty"; missing_labels=1; }
done
((missing_labels)) || ok "OCI labels present ($(docker image inspect --format '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$REF") base)"
[[ $(docker image inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$REF") == yes ]] \
  || fail "the image has no HEALTHCHECK"

# 2. The running container.
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
log "running $REF as $NAME on $URL"
# The image's own HEALTHCHECK command, checked more often so the test does not wait 10 s per probe.
docker run -d --name "$NAME" --network host --health-interval 2s \
  -e PORT="$PORT" -e HOST=127.0.0.1 "$REF" >/dev/null

deadline=$((SECONDS + 90))
while :; do
  status=$(docker inspect --format '{{.State.Status}} {{.State.Health.Status}}' "$NAME")
  [[ $status == 'running healthy' ]] && break
  [[ $status == running* ]] || die "the container stopped ($status); logs: $(docker logs --tail 30 "$NAME" 2>&1)"
  ((SECONDS < deadline)) || die "the container is not healthy after 90 s ($status)"
  sleep 1
done
ok "HEALTHCHECK reports healthy"

health=$(curl -fsS --max-time 5 "$URL/healthz") || fail "GET /healthz failed"
if [[ $health == *'"OK"'* ]]; then ok "GET /healthz: $health"; else fail "GET /healthz answered $health"; fi

content_id=$((RANDOM + 1000))
email=image-test@example.com
comment="posted from test-image.sh at $(date -u +%FT%TZ)"
post=$(curl -sS --max-time 5 -w '\n%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"email\": \"$email\", \"comment\": \"$comment\", \"content_id\": $content_id}" \
  "$URL/api/comment/new") || fail "POST /api/comment/new: no answer"
code=${post##*$'\n'}; body=${post%$'\n'*}; body=${body%$'\n'}
if [[ $code == 200 && $body == *'"SUCCESS"'* ]]; then ok "POST /api/comment/new: $code $body"
else fail "POST /api/comment/new answered $code: $body"; fi

list=$(curl -sS --max-time 5 -w '\n%{http_code}' "$URL/api/comment/list/$content_id") || fail "GET list: no answer"
code=${list##*$'\n'}; body=${list%$'\n'*}; body=${body%$'\n'}
if [[ $code == 200 ]] && python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
assert isinstance(rows, list) and len(rows) == 1, rows
assert rows[0]["email"] == sys.argv[2] and rows[0]["comment"] == sys.argv[3], rows[0]
' "$body" "$email" "$comment"; then ok "GET /api/comment/list/$content_id returns the comment"
else fail "GET /api/comment/list/$content_id answered $code: $body"; fi

missing=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$URL/api/comment/list/999999999")
if [[ $missing == 404 ]]; then ok "unknown content_id: 404"; else fail "unknown content_id answered $missing, expected 404"; fi

uid=$(docker exec "$NAME" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
if [[ -n $uid && $uid != 0 ]]; then ok "PID 1 runs as uid $uid (non-root)"; else fail "PID 1 runs as uid '${uid}'"; fi
if docker exec "$NAME" sh -c "touch /opt/venv/x" 2>/dev/null; then fail "the app user can write into /opt/venv"
else ok "the app user cannot write into /opt/venv"; fi

# 3. Graceful stop: docker stop sends the image's STOPSIGNAL (SIGTERM); exit 137 would mean SIGKILL.
start=$SECONDS
docker stop --time 20 "$NAME" >/dev/null
exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$NAME")
if [[ $exit_code == 0 ]]; then ok "stopped on SIGTERM in $((SECONDS - start)) s, exit code 0"
else fail "exit code $exit_code after docker stop (expected 0: graceful shutdown)"; fi

if ((failures)); then die "$failures check(s) failed."; fi
log "all checks passed for $REF"
