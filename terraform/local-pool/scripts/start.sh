#!/usr/bin/env bash
# Starts one Nomad client agent for the local-pool module. Terraform runs it
# when a node name is added; it is safe to run again for a running client
# (an apply interrupted after the start but before the state was saved).
# A start that fails stops what it started: Terraform marks the resource
# tainted and never runs the stop script of a tainted resource.
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_DIR:?}" "${STATE_DIR:?}" "${NOMAD_BIN:?}" "${SERVERS:?}" "${NODE_POOL:?}"
PLUGIN_DIR="${PLUGIN_DIR:-}"
EXTRA_CONFIG="${EXTRA_CONFIG:-}"
START_TIMEOUT="${START_TIMEOUT:-30}"

mkdir -p "$NODE_DIR/data"

ours() { # is pid alive and the agent of this node (pids are reused)?
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "-config=$NODE_DIR/client.hcl"
}
running() { ours "$(cat "$NODE_DIR/pid" 2>/dev/null)"; }

if running; then
  echo "local-pool: $NODE_NAME already running (pid $(cat "$NODE_DIR/pid"))"
  exit 0
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Terraform creates clients in parallel: a directory lock keeps two starts
# from choosing the same port, and ports already given to a stopped-but-not-
# yet-listening sibling are skipped as well.
lock="$STATE_DIR/.ports.lock"
for _ in $(seq 1 300); do mkdir "$lock" 2>/dev/null && break; sleep 0.1; done
trap 'rmdir "$lock" 2>/dev/null || true' EXIT

taken="$(cat "$STATE_DIR"/*/ports 2>/dev/null || true)"
pick() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    if ! grep -qx "$p" <<<"$taken" && ! listening "$p"; then
      taken="$taken"$'\n'"$p"
      echo "$p"
      return
    fi
  done
}
http="$(pick)"; rpc="$(pick)"; serf="$(pick)"
printf '%s\n%s\n%s\n' "$http" "$rpc" "$serf" >"$NODE_DIR/ports"
rmdir "$lock" 2>/dev/null || true

servers=""
IFS=',' read -ra list <<<"$SERVERS"
for s in "${list[@]}"; do servers="$servers\"$s\", "; done

{
  echo "# Written by terraform/local-pool for node $NODE_NAME."
  echo "name      = \"$NODE_NAME\""
  echo "data_dir  = \"$NODE_DIR/data\""
  echo "bind_addr = \"127.0.0.1\""
  # One attribute per line: HCL 2 rejects several on one line, and Nomad's
  # agent configuration parser may be either.
  echo "ports {"
  echo "  http = $http"
  echo "  rpc  = $rpc"
  echo "  serf = $serf"
  echo "}"
  echo "advertise {"
  echo "  http = \"127.0.0.1:$http\""
  echo "  rpc  = \"127.0.0.1:$rpc\""
  echo "  serf = \"127.0.0.1:$serf\""
  echo "}"
  echo "server { enabled = false }"
  echo "client {"
  echo "  enabled   = true"
  echo "  servers   = [${servers%, }]"
  echo "  node_pool = \"$NODE_POOL\""
  echo "}"
  if [ -n "$PLUGIN_DIR" ]; then echo "plugin_dir = \"$PLUGIN_DIR\""; fi
  printf '%s\n' "$EXTRA_CONFIG"
} >"$NODE_DIR/client.hcl"

# The agent must outlive terraform and must not hold its output pipes, or
# local-exec would wait for it forever.
# raw_exec tasks inherit the agent's environment: keep the caller's Nomad
# token (caravan autoscale's, often a management token) out of it.
cmd=(env -u NOMAD_TOKEN "$NOMAD_BIN" agent "-config=$NODE_DIR/client.hcl")
if command -v setsid >/dev/null 2>&1; then cmd=(setsid "${cmd[@]}"); fi
nohup "${cmd[@]}" >>"$NODE_DIR/nomad.log" 2>&1 </dev/null &
echo $! >"$NODE_DIR/pid"

# fail says why the start failed, with the end of the client's log, and
# stops the client (its session, its directory) before exiting.
fail() {
  echo "local-pool: $1; last log lines:" >&2
  tail -n 20 "$NODE_DIR/nomad.log" >&2 || true
  NODE_NAME="$NODE_NAME" NODE_DIR="$NODE_DIR" "$(dirname "$0")/stop.sh" >&2 || true
  exit 1
}
trap 'fail "start of nomad client $NODE_NAME interrupted"' INT TERM

deadline=$((SECONDS + START_TIMEOUT))
while :; do
  if ! kill -0 "$(cat "$NODE_DIR/pid")" 2>/dev/null &&
    ! { command -v pgrep >/dev/null 2>&1 && pgrep -f -- "-config=$NODE_DIR/client.hcl" >/dev/null; }; then
    fail "nomad client $NODE_NAME exited at start"
  fi
  if [ "$START_TIMEOUT" -le 0 ] || listening "$http"; then break; fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "nomad client $NODE_NAME did not answer on 127.0.0.1:$http within ${START_TIMEOUT}s"
  fi
  sleep 0.2
done
trap - INT TERM
# $! is the agent when setsid did not need to fork; otherwise find the agent
# by its own configuration file, so that stop.sh signals the right process.
if ! running && command -v pgrep >/dev/null 2>&1; then
  pid="$(pgrep -f -- "-config=$NODE_DIR/client.hcl" | head -n 1 || true)"
  if [ -n "$pid" ]; then echo "$pid" >"$NODE_DIR/pid"; fi
fi
echo "local-pool: started $NODE_NAME (pid $(cat "$NODE_DIR/pid"), http 127.0.0.1:$http)"
