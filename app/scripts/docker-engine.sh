#!/usr/bin/env bash
# Make sure a Docker engine answers, starting dockerd in the background when none does.
#   docker-engine.sh start   # default; idempotent, leaves the engine running for later runs
#   docker-engine.sh stop    # stops only an engine this script started (pid file)
#   docker-engine.sh status
# No registry is reachable and the sandbox has no bridge networking, so dockerd runs without a
# bridge or iptables rules; builds and containers use --network host (loopback only).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

STATE_DIR=${DOCKERD_STATE_DIR:-/var/lib/infra-comments-dockerd}
PID_FILE=$STATE_DIR/dockerd.pid
LOG_FILE=${DOCKERD_LOG:-$STATE_DIR/dockerd.log}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# overlay2 needs a kernel and a backing filesystem that allow overlay mounts; vfs always works
# (full copies per layer: slower, larger on disk, same images). DOCKER_STORAGE_DRIVER overrides.
pick_storage_driver() {
  if [[ -n ${DOCKER_STORAGE_DRIVER:-} ]]; then echo "$DOCKER_STORAGE_DRIVER"; return; fi
  local probe
  probe=$(mktemp -d "$STATE_DIR/overlay-probe.XXXXXX")
  mkdir -p "$probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"; rm -rf "$probe"; echo overlay2
  else
    rm -rf "$probe"; echo vfs
  fi
}

start() {
  if engine_answers; then log "a Docker engine already answers; using it."; return; fi
  need dockerd docker containerd
  [[ $EUID -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root."
  mkdir -p "$STATE_DIR"
  # A pid file left by an engine that was killed (a session ends with SIGKILL) makes dockerd refuse
  # to start; a live process behind it is an engine that does not answer, which we do not touch.
  if [[ -f $PID_FILE ]]; then
    local old_pid; old_pid=$(cat "$PID_FILE")
    if [[ -n $old_pid ]] && kill -0 "$old_pid" 2>/dev/null; then
      die "dockerd (pid $old_pid, from $PID_FILE) is running but does not answer; stop it or see $LOG_FILE."
    fi
    log "removing the stale pid file of a dockerd that is gone (pid ${old_pid:-none})."
    rm -f "$PID_FILE"
  fi
  local driver; driver=$(pick_storage_driver)
  log "starting dockerd (storage driver $driver, log $LOG_FILE)"
  # setsid: the engine outlives this script and the make that ran it, so later runs reuse it.
  setsid dockerd --bridge=none --iptables=false --ip6tables=false --storage-driver="$driver" \
    --pidfile="$PID_FILE" >>"$LOG_FILE" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until engine_answers; do
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "dockerd did not answer within 60 s (log above, full log in $LOG_FILE)."
    fi
    sleep 1
  done
  log "dockerd is up: $(docker info --format '{{.ServerVersion}} storage={{.Driver}}')"
}

stop() {
  [[ -f $PID_FILE ]] || { log "no dockerd started by this script."; return; }
  local pid; pid=$(cat "$PID_FILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || die "dockerd (pid $pid) did not stop within 30 s."
      sleep 0.5
    done
    log "dockerd (pid $pid) stopped."
  fi
  rm -f "$PID_FILE"
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  status) if engine_answers; then docker info --format 'engine {{.ServerVersion}}, storage {{.Driver}}'; else echo "no engine answers"; exit 1; fi ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
