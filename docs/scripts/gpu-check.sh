#!/usr/bin/env bash
# gpu-check: prove caravan's real NVML path on a machine with an NVIDIA GPU.
#
# Builds caravan with cgo (or uses $CARAVAN_BIN), runs `caravan agent`
# against the real driver for a few seconds, puts a small load on the GPU
# when PyTorch or CuPy is installed, scrapes /metrics while it runs, and
# prints the caravan_gpu_* series. Exits non-zero when no GPU series appear
# (no driver, NVML failing, or the agent not reading it).
#
# Then, for the agent's memory budget (30 MB resident):
#   - GPU_FOOTPRINT_TEST (default bin/gpu-footprint.test, when present): the
#     real-NVML footprint test binary; each test runs in its own process and
#     logs, call by call, when libcuda gets mapped and what it costs;
#   - docs/scripts/agent-rss.sh against the slim agent (CARAVAN_AGENT_BIN,
#     default bin/caravan-agent) and the full binary (bin/caravan), when
#     present, after GPU_RSS_SCRAPES scrapes (default 200), then the slim
#     agent again with -keep-nvml-pages, to show what releasing NVML's
#     zero pages saves.
# `make gpu-bundle` builds bin/caravan-agent and bin/gpu-footprint.test to
# carry to a GPU machine without Go.
#
#   make gpu-check            # or: bash docs/scripts/gpu-check.sh
#   GPU_CHECK_SECONDS=10 CARAVAN_BIN=bin/caravan bash docs/scripts/gpu-check.sh
#   CARAVAN_BIN=bin/caravan-agent GPU_FOOTPRINT_TEST=bin/gpu-footprint.test bash docs/scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/../.." # the repository root: this script lives in docs/scripts

SECONDS_TO_RUN="${GPU_CHECK_SECONDS:-8}"
PORT="${GPU_CHECK_PORT:-19464}"
WORK="$(mktemp -d)"
AGENT_PID=""
LOAD_PID=""
cleanup() {
  [[ -n "$LOAD_PID" ]] && kill "$LOAD_PID" 2>/dev/null || true
  [[ -n "$AGENT_PID" ]] && kill -INT "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*"; }
fail() { printf 'gpu-check: FAIL: %s\n' "$*" >&2; exit 1; }

fetch() { # fetch URL: print the body, fail quietly when unreachable
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 "$1"
  else
    python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
  fi
}

# 1. The driver, as far as the shell can see it.
if command -v nvidia-smi >/dev/null 2>&1; then
  say "nvidia-smi:"
  nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total --format=csv,noheader || true
else
  say "nvidia-smi not found; relying on NVML alone"
fi

# 2. A cgo build of caravan: the slim agent build that nodes run.
BIN="${CARAVAN_BIN:-}"
if [[ -z "$BIN" ]]; then
  command -v go >/dev/null 2>&1 || fail "go not found: install Go, or pass CARAVAN_BIN=path/to/a/cgo/build/of/caravan (make gpu-bundle builds one)"
  say "building the caravan agent with cgo (-tags agentonly)"
  BIN="$WORK/caravan-agent"
  CGO_ENABLED=1 go build -tags agentonly -o "$BIN" ./cmd/caravan
fi
[[ -x "$BIN" ]] || fail "$BIN is not an executable"

# 3. The agent against the real NVML, without Nomad.
say "starting caravan agent on 127.0.0.1:$PORT"
"$BIN" agent -listen "127.0.0.1:$PORT" -no-nomad -node gpu-check -pool gpu-check -interval 1s \
  >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 50); do
  fetch "http://127.0.0.1:$PORT/metrics" >/dev/null 2>&1 && break
  kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.log" >&2; fail "the agent exited (log above)"; }
  sleep 0.2
done
fetch "http://127.0.0.1:$PORT/metrics" >"$WORK/idle.txt" || { cat "$WORK/agent.log" >&2; fail "the agent does not serve /metrics"; }

# 4. A small GPU load, if something can make one.
LOAD=""
if python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  LOAD=torch
  python3 - "$SECONDS_TO_RUN" <<'PY' >"$WORK/load.log" 2>&1 &
import sys, time, torch
end = time.time() + float(sys.argv[1])
a = torch.randn(8192, 8192, device="cuda")
while time.time() < end:
    b = a @ a
    torch.cuda.synchronize()
PY
  LOAD_PID=$!
elif python3 -c 'import cupy' 2>/dev/null; then
  LOAD=cupy
  python3 - "$SECONDS_TO_RUN" <<'PY' >"$WORK/load.log" 2>&1 &
import sys, time, cupy
end = time.time() + float(sys.argv[1])
a = cupy.random.rand(8192, 8192, dtype=cupy.float32)
while time.time() < end:
    b = a @ a
    cupy.cuda.Device().synchronize()
PY
  LOAD_PID=$!
else
  say "no PyTorch or CuPy with CUDA here: skipping the GPU load (idle readings only)"
fi
[[ -n "$LOAD" ]] && say "running a $SECONDS_TO_RUN s $LOAD matmul load (pid $LOAD_PID)"

# 5. Scrape while it runs; keep the busiest scrape.
best=-1
for _ in $(seq 1 "$SECONDS_TO_RUN"); do
  sleep 1
  fetch "http://127.0.0.1:$PORT/metrics" >"$WORK/now.txt" || continue
  util=$(awk '/^caravan_gpu_utilization_ratio\{/ { if ($NF > m) m = $NF } END { print m + 0 }' "$WORK/now.txt")
  if awk -v u="$util" -v b="$best" 'BEGIN { exit !(u > b) }'; then
    best=$util
    cp "$WORK/now.txt" "$WORK/busy.txt"
  fi
done
[[ -f "$WORK/busy.txt" ]] || cp "$WORK/idle.txt" "$WORK/busy.txt"
[[ -n "$LOAD_PID" ]] && { wait "$LOAD_PID" || { cat "$WORK/load.log" >&2; say "the load failed (log above)"; }; LOAD_PID=""; }

say "caravan_gpu_* series (busiest scrape):"
grep -E '^caravan_(gpu|agent)_' "$WORK/busy.txt" || true

# 6. Verdict.
grep -q '^caravan_agent_source_success{.*source="nvml"} 1$' "$WORK/busy.txt" ||
  { cat "$WORK/agent.log" >&2; fail "NVML did not read (agent log above)"; }
n=$(grep -c '^caravan_gpu_utilization_ratio{' "$WORK/busy.txt" || true)
[[ "$n" -gt 0 ]] || fail "no caravan_gpu_utilization_ratio series"
grep -q '^caravan_gpu_info{.*source="nvml"' "$WORK/busy.txt" || fail "no GPU reported by NVML"
say "NVML path OK: $n GPU(s), peak utilisation seen $best"
if [[ -n "$LOAD" ]]; then
  if grep -q '^caravan_gpu_unattributed_process_memory_used_bytes{' "$WORK/busy.txt"; then
    say "the load's process was listed with its GPU memory"
  else
    say "WARNING: the load's process was not listed (NVML process listing may need root or a newer driver)"
  fi
  awk -v b="$best" 'BEGIN { exit !(b > 0) }' || say "WARNING: utilisation stayed 0 under load"
fi

# 7. Memory: which NVML call maps libcuda, and the agent's resident memory.
if kill -INT "$AGENT_PID" 2>/dev/null; then wait "$AGENT_PID" 2>/dev/null || true; fi
AGENT_PID=""
SLIM="${CARAVAN_AGENT_BIN:-bin/caravan-agent}"
for b in "$SLIM" bin/caravan; do
  if [[ -x "$b" ]]; then
    say "resident memory of $b agent after ${GPU_RSS_SCRAPES:-200} scrapes:"
    bash docs/scripts/agent-rss.sh "$b" "${GPU_RSS_SCRAPES:-200}" || say "WARNING: agent-rss.sh failed for $b"
  else
    say "no $b: skipping its resident-memory figure (make agent / make build)"
  fi
done
