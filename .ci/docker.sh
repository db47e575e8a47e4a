#!/usr/bin/env bash
# Makes a Docker engine and the Temporal dev-server image available for the
# testcontainers tests, and prints, on stdout and nothing else, the lines CI
# evaluates:
#
#   eval "$(bash .ci/docker.sh)"   # sets DOCKER_HOST, GROKMAP_TEMPORAL_IMAGE, TESTCONTAINERS_*
#
# Idempotent. An engine that already answers (DOCKER_HOST or the default
# socket) is used as it is. Otherwise Debian's docker.io is installed when
# dockerd is missing and started with its own data and exec roots, no
# iptables and no bridge: containers use host networking, nothing is
# published and nothing is pulled. The image grokmap/temporal-dev:local is
# imported (`docker import`) from a minimal root filesystem holding the same
# temporal binary CI builds with Go (.ci/temporal.sh) and the shared
# libraries `ldd` lists for it; on a machine with internet the tests can use
# the official temporalio/temporal image instead (GROKMAP_TEMPORAL_IMAGE).
#
# Overrides: GROKMAP_DOCKER_ROOT (default /var/lib/grokmap-docker),
# GROKMAP_DOCKER_SOCKET (default /var/run/docker.sock), GROKMAP_TEMPORAL_BIN.
set -euo pipefail
exec 3>&1 1>&2

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "echo '.ci/docker.sh failed (exit $rc); see its messages above' >&2; false" >&3
  fi
}
trap on_exit EXIT

cd "$(dirname "$0")/.."
IMAGE=grokmap/temporal-dev:local
ROOT="${GROKMAP_DOCKER_ROOT:-/var/lib/grokmap-docker}"
SOCKET="${GROKMAP_DOCKER_SOCKET:-/var/run/docker.sock}"
log() { echo "[docker.sh] $*" >&2; }

engine_answers() { timeout 10 docker ${1:+-H "$1"} info >/dev/null 2>&1; }

if [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; then
  HOST="$DOCKER_HOST"
  log "using the engine at $HOST"
elif engine_answers "unix://$SOCKET"; then
  HOST="unix://$SOCKET"
  log "using the engine at $HOST"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq docker.io >&2
  fi
  if ! command -v docker >/dev/null 2>&1; then
    log "no docker client after installing docker.io"
    exit 1
  fi
  mkdir -p "$ROOT/data" "$ROOT/exec"
  HOST="unix://$SOCKET"
  log "starting dockerd (no iptables, no bridge) on $HOST, data in $ROOT"
  # setsid: the engine outlives this script (CI stops it with the machine). It must not hold
  # fd 3 (the caller's $(...) pipe) open, or the caller's eval would wait for it forever.
  setsid dockerd \
    --iptables=false --ip6tables=false --bridge=none \
    --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
    --pidfile "$ROOT/dockerd.pid" --host "$HOST" \
    >"$ROOT/dockerd.log" 2>&1 </dev/null 3>&- &
  for _ in $(seq 1 60); do
    engine_answers "$HOST" && break
    sleep 1
  done
  if ! engine_answers "$HOST"; then
    log "dockerd did not answer in 60 s; its log:"
    tail -20 "$ROOT/dockerd.log" >&2 || true
    exit 1
  fi
fi

if docker -H "$HOST" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE present"
else
  TEMPORAL_BIN="${GROKMAP_TEMPORAL_BIN:-$(bash .ci/temporal.sh)}"
  ROOTFS="$(mktemp -d)"
  trap 'rm -rf "$ROOTFS"; on_exit' EXIT
  mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/etc" "$ROOTFS/data"
  chmod 1777 "$ROOTFS/tmp" "$ROOTFS/data"
  cp "$TEMPORAL_BIN" "$ROOTFS/bin/temporal"
  # The binary is pure Go except for libc when built with cgo: copy what ldd lists (nothing when static).
  if ldd "$TEMPORAL_BIN" >/dev/null 2>&1; then
    ldd "$TEMPORAL_BIN" | grep -oE '/[^ ]+' | while read -r lib; do
      mkdir -p "$ROOTFS$(dirname "$lib")"
      cp -L "$lib" "$ROOTFS$lib"
    done
  fi
  echo 'root:x:0:0:root:/:/bin/temporal' >"$ROOTFS/etc/passwd"
  echo 'hosts: files dns' >"$ROOTFS/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$ROOTFS/etc/hosts"
  log "importing $IMAGE from $TEMPORAL_BIN"
  tar -C "$ROOTFS" -c . | docker -H "$HOST" import \
    --change 'ENTRYPOINT ["/bin/temporal"]' \
    --change 'CMD ["server", "start-dev", "--ip", "0.0.0.0"]' \
    --change 'WORKDIR /data' \
    --message "temporal CLI dev server for grokmap tests" \
    - "$IMAGE" >&2
fi

cat >&3 <<EOF
export DOCKER_HOST='$HOST'
export GROKMAP_TEMPORAL_IMAGE='$IMAGE'
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=localhost
EOF
