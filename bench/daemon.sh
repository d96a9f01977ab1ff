#!/usr/bin/env bash
# Ferry daemon benchmark (a benchmark, not a test). Starts a real
# `ferry daemon --headless` with temp config and data folders and a live
# folder-remote synchronization, then measures:
#
#   1. latency: a local edit -> the file complete on the other side, over
#      100 edits one at a time (p50, p99, max). This is an upper bound of
#      "edit -> upload started": it includes the debounce, the pass and the
#      copy of a small file;
#   2. idle: with N tracked files (default 100,000 in 1,000 folders), after
#      the initial sync: the daemon's CPU time over 60 s of no changes, and
#      its RSS (VmRSS and VmHWM) at the end;
#   3. journal bytes per tracked file (the SQLite file and its WAL).
#
#   bench/daemon.sh                 # full run (~5 min on 2 cores)
#   BENCH_FILES=10000 BENCH_IDLE_SECS=10 bench/daemon.sh   # quick
#
# Environment: BENCH_DIR (default /tmp/ferry-bench-daemon), BENCH_FILES,
# BENCH_IDLE_SECS (default 60), BENCH_EDITS (default 100), FERRY_BIN (a
# ferry binary; default: build target/release/ferry).
# Prints a Markdown table on stdout; progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench-daemon}
FILES=${BENCH_FILES:-100000}
IDLE=${BENCH_IDLE_SECS:-60}
EDITS=${BENCH_EDITS:-100}

# say, ferry_binary, make_flat_tree: bench/lib.sh.
source "$ROOT/bench/lib.sh"
ferry_binary
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{home,config,data,local,remote}
export HOME=$BENCH_DIR/home FERRY_CONFIG_DIR=$BENCH_DIR/config FERRY_DATA_DIR=$BENCH_DIR/data
export FERRY_LOG=${FERRY_LOG:-warn}
cleanup() { [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

say "creating $FILES files"
make_flat_tree "$BENCH_DIR/local" "$FILES"

"$FERRY" daemon --headless >"$BENCH_DIR/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [[ -s $BENCH_DIR/data/api.port ]] && break; sleep 0.1; done
"$FERRY" add bench "$BENCH_DIR/local" "$BENCH_DIR/remote" --poll 30 >/dev/null

say "initial sync"
t0=$(date +%s.%N)
python3 - "$BENCH_DIR/remote" "$FILES" <<'EOF'
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
while True:
    count = sum(len(f) for _, _, f in os.walk(root) if ".ferry-trash" not in _)
    if count >= n:
        break
    time.sleep(0.5)
EOF
t1=$(date +%s.%N)
# Wait for the state to settle.
for _ in $(seq 600); do
    "$FERRY" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["overall"]=="synced" else 1)' && break
    sleep 0.5
done
INITIAL=$(python3 -c "print(f'{$t1 - $t0:.1f}')")

say "idle for $IDLE s"
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks)
sleep "$IDLE"
c1=$(ticks)
CPU_S=$(python3 -c "print(f'{($c1 - $c0) / $HZ:.2f}')")
CPU_PCT=$(python3 -c "print(f'{100 * ($c1 - $c0) / $HZ / $IDLE:.2f}')")
RSS=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status")
HWM=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status")
DB=$(du -cb "$BENCH_DIR"/data/syncs/* | awk 'END {print $1}')
PER_FILE=$(python3 -c "print(f'{$DB / $FILES:.0f}')")

say "latency over $EDITS edits"
LAT=$(python3 - "$BENCH_DIR/local" "$BENCH_DIR/remote" "$EDITS" <<'EOF'
import os, sys, time
local, remote, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lat = []
for i in range(n):
    name = f"edit-{i:03d}.txt"
    body = f"edit {i}".encode()
    t0 = time.monotonic()
    with open(os.path.join(local, name), "wb") as f:
        f.write(body)
    target = os.path.join(remote, name)
    while True:
        try:
            with open(target, "rb") as f:
                if f.read() == body:
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    lat.append(time.monotonic() - t0)
    time.sleep(0.2)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{p(0.5):.3f} {p(0.99):.3f} {lat[-1]:.3f}")
EOF
)
read -r P50 P99 MAX <<<"$LAT"

cat <<EOF
| measure | value | target |
|---|---|---|
| initial sync of $FILES files (folder remote) | ${INITIAL} s | — |
| edit → on the other side, p50 ($EDITS edits) | ${P50} s | ≤ 1 s (upload started) |
| edit → on the other side, p99 | ${P99} s | ≤ 2 s |
| edit → on the other side, max | ${MAX} s | — |
| idle CPU over ${IDLE} s, $FILES files tracked | ${CPU_S} s (${CPU_PCT} %) | ≈ 0 |
| RSS idle (VmRSS) | ${RSS} MiB | ≤ 40 MiB |
| RSS peak (VmHWM, includes the initial sync) | ${HWM} MiB | — |
| journal bytes per file | ${PER_FILE} | ≤ 300 |
EOF
