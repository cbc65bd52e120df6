#!/usr/bin/env bash
# Stops one Nomad client agent of the local-pool module and removes its
# directory (data dir included). Terraform runs it when a name leaves nodes;
# it returns only once the agent and the processes it started are gone.
set -uo pipefail
: "${NODE_NAME:?}" "${NODE_DIR:?}"

cfg="$NODE_DIR/client.hcl"
ours() { # is pid alive and the agent of this node (pids are reused)?
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "-config=$cfg"
}
gone() { # waits up to $2 tenths of a second for pid $1 to exit
  local i
  for i in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  ! kill -0 "$1" 2>/dev/null
}

pid="$(cat "$NODE_DIR/pid" 2>/dev/null || true)"
if ! ours "$pid" && command -v pgrep >/dev/null 2>&1; then
  # The pid file may name a launcher rather than the agent; the agent is
  # the process started with this node's own configuration file.
  pid="$(pgrep -f -- "-config=$cfg" | head -n 1 || true)"
fi
if ours "$pid"; then
  # start.sh runs the agent in a session of its own when setsid exists:
  # then its plugins (executor, logmon) and tasks share that session and
  # are stopped with it, since they outlive an agent that exits.
  sid="$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! gone "$pid" 300; then
    echo "local-pool: $NODE_NAME ignored SIGTERM for 30s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    gone "$pid" 100 || echo "local-pool: $NODE_NAME (pid $pid) survived SIGKILL" >&2
  fi
  if [ "$sid" = "$pid" ] && command -v pkill >/dev/null 2>&1; then
    pkill -TERM -s "$sid" 2>/dev/null || true
    for _ in $(seq 1 100); do pgrep -s "$sid" >/dev/null 2>&1 || break; sleep 0.1; done
    pkill -KILL -s "$sid" 2>/dev/null || true
  fi
fi

# Allocation directories may hold mounts (secrets, tmpfs, alloc_mounts next
# to data_dir): unmount everything under the node's directory, deepest first.
if [ -d "$NODE_DIR" ] && command -v umount >/dev/null 2>&1; then
  awk -v d="$NODE_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts 2>/dev/null | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
fi
rm -rf "$NODE_DIR" || echo "local-pool: could not remove $NODE_DIR completely" >&2
echo "local-pool: stopped $NODE_NAME"
