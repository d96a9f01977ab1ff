#!/usr/bin/env bash
# Ferry transfer benchmark (a benchmark, not a test): one big file uploaded
# and downloaded by `ferry sync` (release build) against `curl` on the same
# WebDAV server, started on 127.0.0.1 by bench/lib.sh (Apache 2.4
# mod_dav and nginx dav + dav_ext). Several runs, ferry and curl taking
# turns; prints a Markdown table of MB/s (10^6 bytes/s; min / median / max),
# the ratio of the medians ferry / curl and ferry's peak RSS; then a table
# of ferry with a bandwidth limit set (`--up-limit` / `--down-limit`): the
# rate achieved against the limit. The first table is ferry with no limit
# set (the limiter's unset path). Progress goes to stderr.
#
#   bench/transfer.sh                        # 1 GiB, 5 runs, both servers (~6 min)
#   BENCH_MIB=100 BENCH_RUNS=2 bench/transfer.sh   # a quick look
#
# Environment:
#   BENCH_DIR      parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_MIB      file size in MiB (default 1024)
#   BENCH_RUNS     runs per server and direction (default 5)
#   BENCH_SERVERS  servers to run (default "apache nginx")
#   BENCH_LIMIT_MIB  the limit of the limited runs in MiB/s (default 50; 0:
#                  no limited runs)
#   BENCH_KEEP     1: keep the work dir at the end
#   FERRY_BIN      use this ferry binary instead of building target/release/ferry
#
# What is timed, from the start of the process to its exit:
#   upload    `ferry sync` of a folder holding only the file into an empty
#             server folder, with a fresh journal (the one-time server probe
#             included) vs `curl -T`.
#   download  `ferry sync` of an empty folder with a server folder holding
#             only the file, fresh journal (Ferry fsyncs the file before it
#             is put in place) vs `curl -o` (no fsync); "curl+fsync" is
#             `curl -o` followed by `sync FILE`, for what durability costs.
# Every transferred file is compared with the original (cmp). Dirty pages
# are flushed (`sync`) before each timed run, so one run's write-back does
# not land in the next; the source file and the server's copy stay in the
# page cache (hot), as for curl.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
SERVERS=${BENCH_SERVERS:-apache nginx}
MIB=${BENCH_MIB:-1024}
RUNS=${BENCH_RUNS:-5}
LIMIT_MIB=${BENCH_LIMIT_MIB:-50}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------- setup ----
source "$ROOT/bench/lib.sh"
missing=()
need_servers
command -v cmp >/dev/null || missing+=(diffutils)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

ferry_binary

make_work transfer
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/home/.local/share"
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/.local/share
unset FERRY_LOG
# Loopback only: no proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
LOAD_BEFORE=$(uptime)

# Runs a command with its output in LOG; prints "SECONDS PEAK_RSS_KIB" (wall
# clock of the command alone; the largest RSS of the processes it waited for).
cat >"$WORK/run.py" <<'EOF'
import resource, subprocess, sys, time
with open(sys.argv[1], "ab") as log:
    t = time.monotonic()
    rc = subprocess.run(sys.argv[2:], stdout=log, stderr=log).returncode
    t = time.monotonic() - t
print("%.3f %d" % (t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
EOF
timed() { # name log command...: appends "SECONDS KIB" to $RES/name
    local name=$1 log=$2 out
    shift 2
    sync
    out=$(python3 "$WORK/run.py" "$log" "$@") || { tail -n 30 "$log" >&2; die "$name: $* failed"; }
    echo "$out" >>"$RES/$name"
}

say "generating a $MIB MiB file"
mkdir -p "$WORK/src"
head -c $((MIB * 1048576)) /dev/urandom >"$WORK/src/big.bin"
FILE=$WORK/src/big.bin
BYTES=$(stat -c %s "$FILE")
RES=$WORK/results
mkdir -p "$RES"

check() { cmp -s "$FILE" "$1" || die "$2: the transferred file differs from the original"; }

bench_server() {
    local s=$1 port=${SRV_PORT[$1]} run p d url
    local base=http://127.0.0.1:$port/dav
    for ((run = 1; run <= RUNS; run++)); do
        say "$s: run $run of $RUNS"
        # Upload.
        p=$(server_folder "$s" up-ferry)
        rm -rf "$WORK/state"
        timed "$s-up-ferry" "$LOGS/$s-up-ferry.log" "$FERRY" sync "$WORK/src" "$base/up-ferry/" --state "$WORK/state"
        check "$p/big.bin" "$s ferry upload"
        rm -rf "$p"
        if ((LIMIT_MIB > 0)); then
            p=$(server_folder "$s" up-ferry)
            rm -rf "$WORK/state"
            timed "$s-up-limited" "$LOGS/$s-up-limited.log" "$FERRY" sync "$WORK/src" "$base/up-ferry/" \
                --state "$WORK/state" --up-limit $((LIMIT_MIB * 1024))
            check "$p/big.bin" "$s ferry limited upload"
            rm -rf "$p"
        fi
        p=$(server_folder "$s" up-curl)
        timed "$s-up-curl" "$LOGS/$s-up-curl.log" curl -sS -f -T "$FILE" "$base/up-curl/"
        check "$p/big.bin" "$s curl upload"
        rm -rf "$p"

        # Download: the server's folder holds the file (hot in the cache).
        p=$(server_folder "$s" down)
        cp "$FILE" "$p/big.bin"
        give "$s" "$p/big.bin"
        cat "$p/big.bin" >/dev/null
        d=$WORK/down
        rm -rf "$d" "$WORK/state"
        mkdir -p "$d"
        timed "$s-down-ferry" "$LOGS/$s-down-ferry.log" "$FERRY" sync "$d" "$base/down/" --state "$WORK/state"
        check "$d/big.bin" "$s ferry download"
        rm -f "$d/big.bin"
        if ((LIMIT_MIB > 0)); then
            rm -rf "$WORK/state"
            timed "$s-down-limited" "$LOGS/$s-down-limited.log" "$FERRY" sync "$d" "$base/down/" \
                --state "$WORK/state" --down-limit $((LIMIT_MIB * 1024))
            check "$d/big.bin" "$s ferry limited download"
            rm -f "$d/big.bin"
        fi
        timed "$s-down-curl" "$LOGS/$s-down-curl.log" curl -sS -f -o "$d/big.bin" "$base/down/big.bin"
        check "$d/big.bin" "$s curl download"
        rm -f "$d/big.bin"
        timed "$s-down-curlsync" "$LOGS/$s-down-curl.log" sh -c 'curl -sS -f -o "$1" "$2" && sync "$1"' sh \
            "$d/big.bin" "$base/down/big.bin"
        check "$d/big.bin" "$s curl+fsync download"
        rm -rf "$d" "$p"
    done
}

for s in $SERVERS; do
    start_server "$s"
    bench_server "$s"
    stop_server "$s"
done
LOAD_AFTER=$(uptime)

# -------------------------------------------------------------- report ----
# "min / median / max" MB/s of a result file's seconds.
rates() {
    awk -v b="$BYTES" '{ print b / $1 / 1e6 }' "$RES/$1" | sort -g | awk '
        { v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.0f / %.0f / %.0f\n", v[1], m, v[NR] }'
}
median() { rates "$1" | awk -F' / ' '{ print $2 }'; }
# The same in MiB/s (2^20 bytes/s), the unit of the limit.
rates_mib() {
    awk -v b="$BYTES" '{ print b / $1 / 1048576 }' "$RES/$1" | sort -g | awk '
        { v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.1f / %.1f / %.1f\n", v[1], m, v[NR] }'
}
peak_mib() { awk '$2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$RES/$1"; }
{
    echo
    echo "## Ferry transfer benchmark: one $MIB MiB file, $RUNS runs"
    echo
    echo "$(nproc) cores; $("$FERRY" --version); $(curl --version | head -n 1 | cut -d' ' -f1-2). MB/s = 10^6 bytes/s, min / median / max;"
    echo "ratio = median ferry / median curl; peak RSS = the largest of ferry's runs."
    echo
    echo "| server | direction | ferry MB/s | curl MB/s | ratio | curl+fsync MB/s | ferry peak RSS MiB |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    for s in $SERVERS; do
        for dir in up down; do
            q=$(awk -v f="$(median "$s-$dir-ferry")" -v c="$(median "$s-$dir-curl")" 'BEGIN { printf "%.2f", f / c }')
            cs="-"
            [[ $dir == down ]] && cs=$(rates "$s-down-curlsync")
            echo "| $(server_title "$s") | $dir | $(rates "$s-$dir-ferry") | $(rates "$s-$dir-curl") | $q | $cs |" \
                "$(peak_mib "$s-$dir-ferry") |"
        done
    done
    if ((LIMIT_MIB > 0)); then
        echo
        echo "Ferry with a bandwidth limit of $LIMIT_MIB MiB/s (\`--up-limit\` / \`--down-limit\` $((LIMIT_MIB * 1024)) KiB/s)," \
            "whole process timed (probe and listing included); MiB/s = 2^20 bytes/s, min / median / max."
        echo
        echo "| server | direction | limit MiB/s | ferry MiB/s | median ÷ limit |"
        echo "| --- | --- | ---: | ---: | ---: |"
        for s in $SERVERS; do
            for dir in up down; do
                r=$(rates_mib "$s-$dir-limited")
                q=$(awk -v m="$(echo "$r" | awk -F' / ' '{ print $2 }')" -v l="$LIMIT_MIB" 'BEGIN { printf "%.3f", m / l }')
                echo "| $(server_title "$s") | $dir | $LIMIT_MIB | $r | $q |"
            done
        done
    fi
    echo
    echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: } (other jobs on the machine add noise)."
}
