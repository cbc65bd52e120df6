#!/usr/bin/env bash
# Stops one Nomad client agent of the local-pool module and removes its
# directory (data dir included). Terraform runs it when a name leaves nodes.
set -uo pipefail
: "${NODE_NAME:?}" "${NODE_DIR:?}"

pid="$(cat "$NODE_DIR/pid" 2>/dev/null || true)"
# Only signal the process if it is still our agent: pids are reused.
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$NODE_DIR/client.hcl"; then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "local-pool: $NODE_NAME ignored SIGTERM for 30s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi

# Allocation directories may hold mounts (secrets, tmpfs) of the exec driver.
if [ -d "$NODE_DIR/data" ] && command -v umount >/dev/null 2>&1; then
  grep -o " $NODE_DIR/data[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null || true; done
fi
rm -rf "$NODE_DIR" || echo "local-pool: could not remove $NODE_DIR completely" >&2
echo "local-pool: stopped $NODE_NAME"
