#!/usr/bin/env bash
# Ferry scoped-pass benchmark (a benchmark, not a test; issue 12, item 7):
# a real `ferry daemon --headless` keeps a WebDAV synchronization of N small
# files (default 100,000 in 1,000 folders) in sync with Apache 2.4 mod_dav
# and nginx dav + dav_ext on 127.0.0.1; once the first sync is done, E
# single-file edits one after another (default 20), each timed from the
# write to the new content complete on the server's disk (the debounce, a
# scoped pass, the upload). Prints, per server, p50 / p90 / max and the
# requests each edit cost (from the server's access log), in a Markdown
# table on stdout; progress on stderr.
#
#   bench/scoped.sh                              # both servers, 100,000 files
#   BENCH_FILES=10000 BENCH_SERVERS=nginx bench/scoped.sh     # quick
#
# Environment: BENCH_SERVERS (default "nginx apache"), BENCH_FILES,
# BENCH_EDITS, BENCH_DIR (parent of the temp work dir, default
# /tmp/ferry-bench), BENCH_KEEP=1 (keep it), FERRY_BIN (a ferry binary;
# default: a release build of this tree). The account's password goes to
# the kernel keyring of a session of its own (`keyctl session -`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${FERRY_BENCH_SESSION:-} ]]; then
    command -v keyctl >/dev/null || {
        echo "keyctl (Debian keyutils) is needed" >&2
        exit 1
    }
    exec keyctl session - env FERRY_BENCH_SESSION=1 bash "${BASH_SOURCE[0]}" "$@"
fi
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
SERVERS=${BENCH_SERVERS:-nginx apache}
FILES=${BENCH_FILES:-100000}
EDITS=${BENCH_EDITS:-20}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

missing=()
need_servers
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
ferry_binary
make_work scoped
export FERRY_KEYRING=keyutils FERRY_LOG=${FERRY_LOG:-warn}
unset DBUS_SESSION_BUS_ADDRESS
DAEMON=
stop_daemon() {
    [[ -n $DAEMON ]] || return 0
    kill -TERM "$DAEMON" 2>/dev/null || true
    wait "$DAEMON" 2>/dev/null || true
    DAEMON=
}
trap 'stop_daemon; cleanup' EXIT


# Waits until the daemon says every synchronization is synced.
wait_synced() {
    local i
    for ((i = 0; i < 7200; i++)); do
        "$FERRY" status --json 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["overall"]=="synced" else 1)' && return 0
        sleep 0.25
    done
    die "the daemon did not get in sync: $(tail -n 5 "$WORK/daemon-$1.log")"
}

declare -A ROW=()
for s in $SERVERS; do
    start_server "$s"
    port=${SRV_PORT[$s]}
    remote=$(server_folder "$s" sync)
    export HOME=$WORK/home-$s FERRY_CONFIG_DIR=$WORK/config-$s FERRY_DATA_DIR=$WORK/data-$s
    mkdir -p "$HOME"
    say "$s: $FILES files"
    make_flat_tree "$WORK/local-$s" "$FILES"
    "$FERRY" daemon --headless >"$WORK/daemon-$s.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 200); do [[ -s $FERRY_DATA_DIR/api.port ]] && break; sleep 0.05; done
    echo bench-password | "$FERRY" account add "http://127.0.0.1:$port/dav/" --user bench \
        --password-stdin --no-test >/dev/null
    t0=$EPOCHREALTIME
    "$FERRY" add bench "$WORK/local-$s" "http://127.0.0.1:$port/dav/sync/" --poll 3600 >/dev/null
    say "$s: first sync"
    wait_synced "$s"
    t1=$EPOCHREALTIME
    [[ $(find "$remote" -name 'f*.txt' | wc -l) -ge $FILES ]] || die "$s: the first sync did not upload every file"
    sleep 1
    settle_log "$s"
    say "$s: $EDITS edits, one after another"
    results=$WORK/edits-$s.txt
    : >"$results"
    dirs=$((FILES / 100 > 0 ? FILES / 100 : 1))
    for ((e = 0; e < EDITS; e++)); do
        i=$(((e * 7919) % FILES))
        rel=$(printf 'd%04d/f%06d.txt' $((i % dirs)) "$i")
        lines=$(wc -l <"${SRV_LOG[$s]}")
        # Write, then wait until the server holds the new content.
        secs=$(python3 - "$WORK/local-$s/$rel" "$remote/$rel" "edit $e of $rel, $RANDOM" <<'PY'
import sys, time
local, remote, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
t0 = time.monotonic()
with open(local, "wb") as f:
    f.write(body)
while True:
    try:
        with open(remote, "rb") as f:
            if f.read() == body:
                break
    except FileNotFoundError:
        pass
    if time.monotonic() - t0 > 120:
        sys.exit("the edit never reached the server")
    time.sleep(0.002)
print(f"{time.monotonic() - t0:.3f}")
PY
        ) || die "$s: edit $e of $rel never reached the server"
        wait_synced "$s"
        sleep 0.5
        settle_log "$s"
        total=$(($(wc -l <"${SRV_LOG[$s]}") - lines))
        propfinds=$(tail -n +"$((lines + 1))" "${SRV_LOG[$s]}" | grep -c '^PROPFIND ' || true)
        echo "$secs $total $propfinds" >>"$results"
    done
    stop_daemon
    stop_server "$s"
    ROW[$s]=$(python3 - "$results" "$t0" "$t1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
lat = sorted(float(r[0]) for r in rows)
req = sorted(int(r[1]) for r in rows)
pf = sorted(int(r[2]) for r in rows)
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))]
first = float(sys.argv[3]) - float(sys.argv[2])
print(f"{first:.1f} | {q(lat, .5):.3f} | {q(lat, .9):.3f} | {lat[-1]:.3f} | "
      f"{q(req, .5)} ({req[0]}–{req[-1]}) | {q(pf, .5)} ({pf[0]}–{pf[-1]})")
PY
    )
done

echo
echo "## Edit → upload complete, $FILES files tracked by a running daemon ($EDITS edits, one at a time)"
echo
echo "| server | first sync (s) | p50 (s) | p90 (s) | max (s) | requests per edit, median (min–max) | PROPFINDs per edit | target |"
echo "|---|---|---|---|---|---|---|---|"
for s in $SERVERS; do
    echo "| $(server_title "$s") | ${ROW[$s]} | p50 ≤ 0.5 s |"
done
echo
echo "Timed from the write to the new content on the server's disk: the"
echo "watcher's settling (300 ms), the scoped pass and the upload. Requests"
echo "are the server's access-log lines from the write until the daemon is"
echo "in sync again (the pass's last PROPFIND records the new tags)."
