#!/usr/bin/env bash
# agent-rss: measure the resident memory of caravan-agent after N scrapes.
#
# Starts the agent on a free loopback port (it binds 127.0.0.1:0 and logs
# the port it got), scrapes /metrics SCRAPES times, reads /proc/PID/status,
# stops it, and does all that RUNS times. It prints, as key=value lines:
#   - VmRSS, RssAnon, RssFile and VmHWM of each run, and their medians;
#   - from the last run: the Go heap as the agent reports it (go_memstats_*),
#     the CPU time per scrape, whether libnvidia-ml and libcuda are mapped,
#     and the resident kB of the largest mappings by file (/proc/PID/smaps:
#     the binary itself, libc, the NVIDIA libraries).
#
#   bash docs/scripts/agent-rss.sh bin/caravan-agent           # 500 scrapes, 3 runs
#   bash docs/scripts/agent-rss.sh bin/caravan-agent 200 5 -- -no-nomad -node n -pool p
#
# Arguments after -- replace the agent's default flags, which point it at an
# unreachable Nomad (-nomad-addr http://127.0.0.1:1) so that it runs the same
# way with or without a GPU and without a cluster. The agent loads NVML from
# the library path: LD_LIBRARY_PATH=DIR picks a libnvidia-ml.so.1 (such as
# the one .ci/fetch-libnvml fetches). Needs Linux /proc, and curl or
# python3; no Go.
set -euo pipefail

usage() { echo "usage: $0 BINARY [SCRAPES [RUNS]] [-- AGENT_FLAGS...]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
BIN="$1"; shift
SCRAPES=500
RUNS=3
if [[ $# -gt 0 && "$1" != "--" ]]; then SCRAPES="$1"; shift; fi
if [[ $# -gt 0 && "$1" != "--" ]]; then RUNS="$1"; shift; fi
[[ "$SCRAPES" =~ ^[0-9]+$ && "$RUNS" =~ ^[1-9][0-9]*$ ]] || usage
FLAGS=(-nomad-addr http://127.0.0.1:1 -node agent-rss -pool agent-rss)
if [[ $# -gt 0 ]]; then
  [[ "$1" == "--" ]] || usage
  shift
  FLAGS=("$@")
fi
[[ -x "$BIN" ]] || { echo "agent-rss: $BIN is not an executable" >&2; exit 1; }

WORK="$(mktemp -d)"
PID=""
stop_agent() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill -INT "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  PID=""
}
trap 'stop_agent; rm -rf "$WORK"' EXIT

# scrape URL N OUT: fetch URL N times, keep the last body in OUT.
scrape() {
  if command -v curl >/dev/null 2>&1; then
    local i
    for ((i = 0; i < $2; i++)); do curl -fsS --max-time 10 -o "$3" "$1"; done
  else
    python3 - "$1" "$2" "$3" <<'PY'
import sys, urllib.request
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = b""
for _ in range(n):
    body = urllib.request.urlopen(url, timeout=10).read()
open(out, "wb").write(body)
PY
  fi
}

cpu_ticks() { # utime+stime of PID, in clock ticks (fields 14 and 15 after the comm)
  local stat
  stat=$(<"/proc/$PID/stat")
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}

# measure RUN: one start, SCRAPES scrapes, one reading; the agent is left
# running for the caller to read more from.
measure() {
  "$BIN" -listen 127.0.0.1:0 "${FLAGS[@]}" >"$WORK/agent.log" 2>&1 &
  PID=$!
  # The agent logs `serving metrics url=http://127.0.0.1:PORT/metrics`.
  local url="" _
  for _ in $(seq 1 100); do
    url=$(grep -o 'url=http://[^ ]*/metrics' "$WORK/agent.log" 2>/dev/null | sed -n '1s/^url=//p' || true)
    [[ -n "$url" ]] && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/agent.log" >&2; echo "agent-rss: the agent exited (log above)" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { cat "$WORK/agent.log" >&2; echo "agent-rss: the agent did not start serving within 10 s" >&2; exit 1; }
  scrape "$url" 1 "$WORK/first.txt"
  T0=$(cpu_ticks)
  scrape "$url" "$SCRAPES" "$WORK/last.txt"
  T1=$(cpu_ticks)
  sleep 1 # let the last response's buffers settle before reading the counters
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/agent.log" >&2; echo "agent-rss: the agent died while scraped" >&2; exit 1; }
  awk -v run="$1" '/^(VmRSS|RssAnon|RssFile|VmHWM):/ { printf "%s_kB %s %s\n", substr($1, 1, length($1) - 1), run, $2 }' \
    "/proc/$PID/status" >>"$WORK/status.txt"
}

echo "binary=$BIN size_bytes=$(stat -c %s "$BIN") scrapes=$SCRAPES runs=$RUNS flags=${FLAGS[*]}"
for ((run = 1; run <= RUNS; run++)); do
  measure "$run"
  [[ $run -eq $RUNS ]] || stop_agent
done

# Each run's figure (in increasing order) and the median (the lower middle
# for an even count of runs).
sort -k1,1 -k3,3n "$WORK/status.txt" | awk '
  { v[$1] = v[$1] (v[$1] == "" ? "" : ",") $3; n[$1]++; all[$1, n[$1]] = $3 }
  END { for (k in n) printf "%s=%s median_%s=%s\n", k, v[k], k, all[k, int((n[k] + 1) / 2)] }' | sort

# The last run's details.
awk '/^go_memstats_(heap_alloc|heap_inuse|heap_sys|stack_inuse|sys)_bytes / { printf "%s=%.0f\n", $1, $2 }' "$WORK/last.txt"
awk -v t0="$T0" -v t1="$T1" -v hz="$(getconf CLK_TCK)" -v n="$SCRAPES" 'BEGIN {
  printf "cpu_total_s=%.2f cpu_per_scrape_ms=%.2f\n", t1 / hz, (n > 0 ? (t1 - t0) / hz / n * 1000 : 0) }'
has() { grep -q "$1" "/proc/$PID/maps" && echo yes || echo no; }
echo "mapped_libnvidia_ml=$(has libnvidia-ml) mapped_libcuda=$(has libcuda)"
# Resident kB per mapped file (and [heap], [stack], anonymous), largest first.
awk '
  /^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : "[anon]"); next }
  /^Rss:/ { rss[name] += $2 }
  END { for (n in rss) if (rss[n] > 0) printf "%d %s\n", rss[n], n }
' "/proc/$PID/smaps" | sort -rn | awk 'NR <= 8 { printf "rss_kB[%s]=%s\n", $2, $1 }'
