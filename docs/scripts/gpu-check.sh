#!/usr/bin/env bash
# gpu-check: prove caravan's real NVML path on a machine with an NVIDIA GPU,
# and measure the agent's resident memory there against its target.
#
# Uses the agent binary CARAVAN_AGENT_BIN; without it, builds
# ./cmd/caravan-agent with cgo when Go and the source are here, else takes
# bin/caravan-agent (as unpacked from `make gpu-bundle`). It runs the agent
# against the real driver for a few seconds, puts a small load on the GPU
# when PyTorch or CuPy is installed, scrapes /metrics while it runs, and
# prints the caravan_gpu_* series. Then docs/scripts/agent-rss.sh measures
# the agent's VmRSS with NVML loaded (GPU_RSS_SCRAPES scrapes, default 200,
# GPU_RSS_RUNS runs, default 3) and compares the median with the target in
# docs/performance.md ("Agent memory").
#
# Exits non-zero when no GPU series appear (no driver, NVML failing, or the
# agent not reading it), when NVML was not loaded while measuring, or when
# the median VmRSS misses the target.
#
#   make gpu-check            # builds bin/caravan-agent, then runs this
#   GPU_CHECK_SECONDS=10 bash docs/scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/../.." # the repository root (or the unpacked bundle's): this script lives in docs/scripts

# The agent's resident-memory target on a GPU node with NVML loaded, in kB
# (48 MiB; docs/performance.md, "Agent memory").
TARGET_KB=49152
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

# 2. The agent binary.
BIN="${CARAVAN_AGENT_BIN:-}"
if [[ -z "$BIN" && -d cmd/caravan-agent ]] && command -v go >/dev/null 2>&1; then
  say "building ./cmd/caravan-agent with cgo"
  BIN="$WORK/caravan-agent"
  CGO_ENABLED=1 CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -Wno-deprecated-declarations" go build -o "$BIN" ./cmd/caravan-agent
fi
BIN="${BIN:-bin/caravan-agent}"
[[ -x "$BIN" ]] || fail "$BIN is not an executable: install Go, or pass CARAVAN_AGENT_BIN=path/to/caravan-agent (make gpu-bundle packs one)"

# 3. The agent against the real NVML, without Nomad.
say "starting $BIN on 127.0.0.1:$PORT"
"$BIN" -listen "127.0.0.1:$PORT" -no-nomad -node gpu-check -pool gpu-check -interval 1s \
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

# 7. Memory: the agent's resident memory with NVML loaded, against the target.
if kill -INT "$AGENT_PID" 2>/dev/null; then wait "$AGENT_PID" 2>/dev/null || true; fi
AGENT_PID=""
say "resident memory of $BIN after ${GPU_RSS_SCRAPES:-200} scrapes, ${GPU_RSS_RUNS:-3} runs:"
bash docs/scripts/agent-rss.sh "$BIN" "${GPU_RSS_SCRAPES:-200}" "${GPU_RSS_RUNS:-3}" | tee "$WORK/rss.txt"
grep -q '^mapped_libnvidia_ml=yes' "$WORK/rss.txt" || fail "libnvidia-ml was not mapped while measuring: the figure is not the agent with NVML loaded"
rss=$(sed -n 's/^VmRSS_kB=.* median_VmRSS_kB=//p' "$WORK/rss.txt")
[[ -n "$rss" ]] || fail "agent-rss.sh printed no VmRSS"
if ((rss < TARGET_KB)); then
  say "agent memory OK: median VmRSS $rss kB, target under $TARGET_KB kB"
else
  fail "agent memory: median VmRSS $rss kB, target under $TARGET_KB kB"
fi
