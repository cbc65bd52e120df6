#!/usr/bin/env bash
# e2e-dev-cluster.sh: a one-machine Nomad for `make e2e` on a host with an
# NVIDIA GPU. It installs nomad, nomad-device-nvidia and terraform with
# cmd/hcinstall (skipped for binaries already there), starts
# `nomad agent -dev` (server and client in one process, ACLs off, raw_exec
# on) with the client in node pool "gpu" and the device plugin loaded, waits
# until the GPU is fingerprinted, and prints the environment for the suite:
#
#   eval "$(deploy/scripts/e2e-dev-cluster.sh)" && make e2e
#   kill "$(cat "${CARAVAN_E2E_DIR:-/tmp/caravan-e2e-nomad}/pid")"   # when done
#
# Environment: NOMAD_VERSION (2.0.5), NVIDIA_PLUGIN_VERSION (1.1.0),
# TERRAFORM_VERSION (1.11.4), CARAVAN_E2E_DIR (/tmp/caravan-e2e-nomad: the
# binaries, plugin, config and log; the dev agent keeps no state), NOMAD_BIN (use this nomad instead
# of installing one), WAIT_SECONDS (60: how long to wait for the GPU).
# Only the export lines go to stdout; progress and errors go to stderr.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CARAVAN_E2E_DIR:-/tmp/caravan-e2e-nomad}
nomad_version=${NOMAD_VERSION:-2.0.5}
plugin_version=${NVIDIA_PLUGIN_VERSION:-1.1.0}
terraform_version=${TERRAFORM_VERSION:-1.11.4}
wait_seconds=${WAIT_SECONDS:-60}

log() { echo "e2e-dev-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in
  "") ;;
  -h | -help | --help) sed -n '2,18p' "$0" >&2; exit 0 ;;
  *) log "unknown argument \"$1\"; see -h"; exit 2 ;;
esac

command -v jq >/dev/null || die "jq is not on PATH; install it (apt-get install jq)"
command -v nvidia-smi >/dev/null || log "warning: nvidia-smi is not on PATH; without the NVIDIA driver no GPU will be fingerprinted"
mkdir -p "$dir/bin" "$dir/plugins"
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
  die "a dev agent from an earlier run is still running (pid $(cat "$dir/pid")); stop it first: kill $(cat "$dir/pid")"
fi

hcinstall() {
  if [ ! -x "$dir/hcinstall" ]; then
    command -v go >/dev/null || die "go is not on PATH; it builds cmd/hcinstall (or set NOMAD_BIN and put the plugin in $dir/plugins)"
    (cd "$root" && CGO_ENABLED=0 go build -o "$dir/hcinstall" ./cmd/hcinstall)
  fi
  "$dir/hcinstall" "$@" >/dev/null
}

nomad=${NOMAD_BIN:-}
if [ -z "$nomad" ]; then
  hcinstall -product nomad -version "$nomad_version" -dir "$dir/bin"
  nomad=$dir/bin/nomad
fi
[ -x "$dir/plugins/nomad-device-nvidia" ] ||
  hcinstall -product nomad-device-nvidia -version "$plugin_version" -dir "$dir/plugins"
command -v terraform >/dev/null ||
  hcinstall -product terraform -version "$terraform_version" -dir "$dir/bin"

cat >"$dir/gpu-dev.hcl" <<HCL
plugin_dir = "$dir/plugins"

client {
  node_pool = "gpu"
}

plugin "nomad-device-nvidia" {
  config {
    enabled = true
  }
}
HCL

log "starting $nomad agent -dev (log: $dir/nomad.log)"
"$nomad" agent -dev -config "$dir/gpu-dev.hcl" >"$dir/nomad.log" 2>&1 &
echo $! >"$dir/pid"
export NOMAD_ADDR=http://127.0.0.1:4646

# Ready when a ready node in pool "gpu" lists an nvidia gpu device.
gpus=0
for _ in $(seq "$wait_seconds"); do
  kill -0 "$(cat "$dir/pid")" 2>/dev/null || die "nomad exited; last lines of $dir/nomad.log:
$(tail -n 20 "$dir/nomad.log")"
  if nodes=$("$nomad" operator api '/v1/nodes?resources=true' 2>/dev/null); then
    gpus=$(jq '[.[] | select(.NodePool == "gpu" and .Status == "ready")
                | .NodeResources.Devices[]? | select(.Vendor == "nvidia" and .Type == "gpu")
                | .Instances | length] | add // 0' <<<"$nodes")
    [ "$gpus" -gt 0 ] && break
  fi
  sleep 1
done
if [ "$gpus" -eq 0 ]; then
  die "no nvidia/gpu device in node pool gpu after ${wait_seconds}s (is the driver loaded? does nvidia-smi work?); the agent keeps running (pid $(cat "$dir/pid")); see $dir/nomad.log"
fi
log "ready: node pool gpu has $gpus NVIDIA GPU(s)"

echo "export NOMAD_ADDR=$NOMAD_ADDR"
echo "export NOMAD_BIN=$nomad"
echo "export PATH=\"$dir/bin:\$PATH\""
