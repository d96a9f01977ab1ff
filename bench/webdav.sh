#!/usr/bin/env bash
# Ferry WebDAV benchmark (a benchmark, not a test): times sync passes of
# `ferry sync LOCAL http://127.0.0.1:PORT/dav/ferry/` against `rclone bisync
# LOCAL :webdav:/dav/rclone` on real WebDAV servers that it starts on
# 127.0.0.1 with their own config files (as tests/common/dav.rs does):
# Apache 2.4 mod_dav (`DavDepthInfinity Off`, Debian's default) and nginx
# dav + dav_ext. Same workload and phases as bench/engine.sh part 1 (initial,
# no-change, modify 1%, rename a top-level folder, delete 1%); each pass is
# timed (wall clock), checked (the server's folder on disk must equal the
# local folder, Ferry's `.ferry-*` names aside; the script aborts if not)
# and its requests counted from the server's access log. Then a throughput
# part: one big file uploaded by a fresh `ferry sync` vs `curl -T`.
# Prints Markdown tables on stdout; progress goes to stderr.
#
#   bench/webdav.sh                  # full run (~9 min on 2 cores)
#   BENCH_QUICK=1 bench/webdav.sh    # scaled down (~1.5 min), to smoke-test it
#
# Environment:
#   BENCH_DIR      parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_QUICK    1: 1,000 files + 1 x 5 MiB; a 100 MiB file for throughput
#   BENCH_KEEP     1: keep the work dir (trees, logs, server configs) at the end
#   BENCH_SERVERS  servers to run (default "apache nginx")
#   BENCH_SERIAL   1: run the rclone passes of the servers one after the other
#                  (default: at the same time, see "runs" below; +5 min)
#   FERRY_BIN      use this ferry binary instead of building target/release/ferry
#
# Installs what is missing (apache2, nginx-extras, rclone, curl, python3)
# with apt-get, services kept from starting (policy-rc.d, as scripts/lib.sh).
# Request counts come from each server's access log (Apache: mod_logio's
# `%I`; nginx: `$request_length`: whole requests, headers included), by log
# offset before/after each pass, after waiting until the server has logged
# every request it answered; "body" is the sum of the PUTs' Content-Length.
# Neither server stores client modification times: the check compares
# content (diff -r), not times. rclone 1.60 needs `--force` (bisync refuses
# a remote without modification times) and `--ignore-times` (else a
# modified file of the same size is not copied) on such a server; its
# WebDAV backend sends at most ~100 requests/s (a 10 ms pacer), which is
# most of its time. A ferry pass that fails is reported (exit status 1 at
# the end) and the phase finished by a second pass with --jobs 1.
set -euo pipefail

QUICK=${BENCH_QUICK:-0}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
SERVERS=${BENCH_SERVERS:-apache nginx}
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
command -v rclone >/dev/null || missing+=(rclone)
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

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1048576 }'; }
load1() { uptime | sed 's/.*load average: //; s/,.*//'; }


# Requests logged between two offsets, without the bench's own (/ferry-…):
# prints "REQUESTS|REQUEST_BYTES|PUT_BODY_BYTES|MOVES|COUNT".
log_stats() {
    local s=$1 from=$2 to=$3
    tail -c +$((from + 1)) "${SRV_LOG[$s]}" | head -c $((to - from)) | awk '
        $7 ~ /^\/ferry-/ { next }
        {
            n[$1]++; total++; inb += $3
            if ($1 == "PUT" && $5 ~ /^[0-9]+$/) body += $5
            if ($2 !~ /^2/) bad[$2]++
        }
        END {
            split("PROPFIND PUT GET MOVE MKCOL DELETE", order, " ")
            out = ""
            for (i = 1; i <= 6; i++) {
                m = order[i]
                if (m in n) { out = out (out == "" ? "" : ", ") m " " n[m]; delete n[m] }
            }
            for (m in n) out = out (out == "" ? "" : ", ") m " " n[m]
            if (out == "") out = "none"
            st = ""
            for (c in bad) st = st (st == "" ? "" : " ") c "x" bad[c]
            if (st != "") out = out " (status " st ")"
            printf "%s|%d|%d\n", out, inb, body
        }'
}

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
    # Same size, new content: detected by the modification time.
    for p in paths:
        size = os.path.getsize(p)
        with open(p, "r+b") as fh:
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

# Type, path, size and mtime (ns) of the local tree: a pass that only sends
# must leave it as it was.
listing() {
    (cd "$1" && find . -mindepth 1 -name '.ferry-*' -prune -o \
        \( -type f -printf 'f %P %s %T@\n' \) -o \( -type d -printf 'd %P\n' \) -o -printf '? %P\n') |
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
# its CPU time (user + system) to $d/cpu.
sync_once() {
    local s=$1 tool=$2 phase=$3 d=$4 log=$LOGS/$1-$2-$3.log rc=0 k=$1-$2-$3
    local port=${SRV_PORT[$s]} url
    local TIMEFORMAT='%3U %3S'
    : >"$d/cpu"
    case $tool in
    ferry)
        url="http://127.0.0.1:$port/dav/ferry/"
        { time "$FERRY" sync "$d/L" "$url" --state "$d/state" >"$log" 2>&1; } 2>>"$d/cpu" || rc=$?
        if ((rc == 3)) && [[ $phase == delete-1pct ]]; then
            echo "forced=1" >>"$RES/$k"
            say "ferry: guard stopped the delete pass; running it again with --force"
            rc=0
            { time "$FERRY" sync "$d/L" "$url" --state "$d/state" --force >>"$log" 2>&1; } 2>>"$d/cpu" || rc=$?
        fi
        if ((rc != 0)); then
            # A failed pass is a Ferry bug to be seen, not hidden: it is
            # recorded (the report lists it; the script exits 1 at the end)
            # and a second pass finishes the phase so that the remaining
            # phases still run. The phase's time covers both passes. The
            # second pass runs with --jobs 1: the failure seen so far is a
            # race between concurrent operations (parallel MKCOLs of the
            # same trash folder, which Apache can answer with 403), that
            # would likely strike again.
            local why
            why=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 -E 'stopped early|error' | sed 's/^ *//' || true)
            echo "failed=exit $rc: ${why:-see the log}" >>"$RES/$k"
            say "ferry $s $phase: FAILED (exit $rc: $why); running a second pass with --jobs 1"
            cp "$log" "$log.first"
            rc=0
            { time "$FERRY" sync "$d/L" "$url" --state "$d/state" --force --jobs 1 >"$log" 2>&1; } 2>>"$d/cpu" || rc=$?
        fi
        ;;
    rclone)
        # --force: bisync refuses a remote without modification times
        # otherwise. --ignore-times: such a remote compares by size alone,
        # so a modified file of the same size would not be copied.
        local extra=()
        [[ $phase == initial ]] && extra+=(--resync)
        { time rclone bisync "$d/L" :webdav:/dav/rclone --webdav-url "http://127.0.0.1:$port" \
            --webdav-vendor other --force --ignore-times --workdir "$d/work" --remove-empty-dirs \
            "${extra[@]}" -v >"$log" 2>&1; } 2>>"$d/cpu" || rc=$?
        ;;
    esac
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
        die "$s $tool $phase: exit status $rc (log above)"
    fi
}

verify() {
    local s=$1 tool=$2 phase=$3 d=$4 r=${SRV_DATA[$1]}/dav/$2
    listing "$d/L" >"$d/got-L"
    if ! cmp -s "$d/expect" "$d/got-L"; then
        diff "$d/expect" "$d/got-L" | head -n 20 >&2
        die "$s $tool $phase: the local side is not as it was before the pass (diff above)"
    fi
    if ! diff -rq --no-dereference --exclude='.ferry-*' "$d/L" "$r" >"$d/diff" 2>&1; then
        head -n 20 "$d/diff" >&2
        die "$s $tool $phase: the server's folder differs from the local folder (diff above)"
    fi
}

phase() {
    local s=$1 tool=$2 phase=$3 d=$4 t0 t1 l0 l1 c0 c1 k=$1-$2-$3 req inb body secs cpu scpu
    listing "$d/L" >"$d/expect"
    sync -f "$d/L" # flush dirty pages (the copy, the mutation) before timing
    settle_log "$s"
    l0=$(log_size "$s")
    c0=$(srv_cpu "$s")
    echo "load=$(load1)" >>"$RES/$k"
    t0=$(now)
    sync_once "$s" "$tool" "$phase" "$d"
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
    settle_log "$s"
    c1=$(srv_cpu "$s")
    l1=$(log_size "$s")
    IFS='|' read -r req inb body < <(log_stats "$s" "$l0" "$l1")
    cpu=$(awk '{ t += $1 + $2 } END { printf "%.2f", t }' "$d/cpu")
    scpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    printf '%s\n' "secs=$secs" "req=$req" "inb=$inb" "body=$body" "cpu=$cpu" "scpu=$scpu" >>"$RES/$k"
    verify "$s" "$tool" "$phase" "$d"
    say "$s $tool $phase: $secs s (CPU $cpu s, server $scpu s); $req; $(mib "$inb") MiB in"
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
for s in $SERVERS; do start_server "$s"; done
# Ferry's passes run alone on the machine, one server after the other.
for s in $SERVERS; do
    say "$s: ferry"
    bench_tool "$s" ferry
done
# rclone's passes: by default those of all servers at the same time, to keep
# the run short: rclone's WebDAV backend paces itself (at most one request
# every 10 ms, ~100 requests/s), so its passes wait far more than they
# compute (see the CPU column). BENCH_SERIAL=1 runs them one at a time.
if [[ ${BENCH_SERIAL:-0} == 1 ]]; then
    for s in $SERVERS; do
        say "$s: rclone bisync"
        bench_tool "$s" rclone
    done
else
    say "rclone bisync on: $SERVERS (at the same time)"
    pids=()
    for s in $SERVERS; do
        bench_tool "$s" rclone &
        pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || die "an rclone run failed (see above)"
fi
for s in $SERVERS; do
    say "$s: throughput"
    throughput "$s"
done
for s in $SERVERS; do stop_server "$s"; done

LOAD_AFTER=$(uptime)

# -------------------------------------------------------------- report ----
failures=()
{
    echo
    if [[ $QUICK == 1 ]]; then echo "## Ferry WebDAV benchmark (BENCH_QUICK=1: scaled down)"; else echo "## Ferry WebDAV benchmark"; fi
    echo
    echo "$N_SMALL files of ~4 KiB in $((N_TOP * N_SUB)) folders ($N_TOP x $N_SUB) + $N_BIG x $BIG_MIB MiB, local folder -> WebDAV on 127.0.0.1;"
    echo "$(nproc) cores; $("$FERRY" --version); $(rclone version 2>/dev/null | head -n 1) (--webdav-vendor other --force --ignore-times)."
    echo "Requests from the server's access log (non-2xx statuses in brackets); MiB sent = whole requests, headers included (PUT bodies alone in brackets)."
    echo "CPU = user + system s of ferry / rclone, and of the server's processes during the pass."
    echo "load = 1-minute load average when the pass started (it lags: it includes the passes just before)."
    if [[ ${BENCH_SERIAL:-0} != 1 ]]; then
        echo "rclone ran on all servers at the same time (BENCH_SERIAL=1: one after the other); ferry ran alone."
    fi
    for s in $SERVERS; do
        echo
        echo "### $(server_title "$s")"
        echo
        echo "| phase | ferry s | rclone s | ratio | ferry requests | ferry MiB sent (body) | rclone requests | rclone MiB sent | CPU s ferry (server) | CPU s rclone (server) | load ferry / rclone |"
        echo "| --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |"
        over=()
        for p in "${PHASES[@]}"; do
            kf=$s-ferry-$p kr=$s-rclone-$p
            f=$(res "$kf" secs) r=$(res "$kr" secs)
            q=$(ratio "$f" "$r")
            note=
            [[ -n $(res "$kf" forced) ]] && note=" (guard tripped: timed with --force)"
            if [[ -n $(res "$kf" failed) ]]; then
                note="$note (1st pass FAILED; time of both passes, the 2nd with --jobs 1)"
                failures+=("$kf: $(res "$kf" failed)")
            fi
            le "$q" 0.5 || over+=("$p ($q)")
            echo "| $p | $f$note | $r | $q | $(res "$kf" req) | $(mib "$(res "$kf" inb 0)") ($(mib "$(res "$kf" body 0)")) |" \
                "$(res "$kr" req) | $(mib "$(res "$kr" inb 0)") | $(res "$kf" cpu) ($(res "$kf" scpu)) |" \
                "$(res "$kr" cpu) ($(res "$kr" scpu)) | $(res "$kf" load) / $(res "$kr" load) |"
        done
        echo
        if ((${#over[@]} == 0)); then
            echo "- Target: every ratio <= 0.5 — met."
        else
            echo "- Target: every ratio <= 0.5 — missed for: $(IFS=,; echo "${over[*]}" | sed 's/,/, /g')."
        fi
        k=$s-ferry-rename-folder
        req=$(res "$k" req)
        moves=$(grep -oE '(^|, )MOVE [0-9]+' <<<"$req" | awk '{ print $NF }' || true)
        if [[ ${moves:-0} == 1 && $(res "$k" body 0) == 0 ]]; then
            echo "- Target: rename = 1 MOVE, 0 content bytes re-sent — met."
        else
            echo "- Target: rename = 1 MOVE, 0 content bytes re-sent — missed: $req; $(mib "$(res "$k" body 0)") MiB of content."
        fi
    done
    if ((${#failures[@]} > 0)); then
        echo
        echo "### Ferry passes that FAILED (a second pass, with --jobs 1, finished the phase)"
        echo
        for f in "${failures[@]}"; do echo "- $f"; done
    fi
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
    for s in $SERVERS; do
        q=$(ratio "$(res "$s-tp" curl)" "$(res "$s-tp" ferry)")
        le 0.8 "$q" || tp_missed+=("$s ($q)")
        echo "| $s | $(rate "$(res "$s-tp" ferry)") | $(rate "$(res "$s-tp" curl)") | $q |" \
            "$(rate "$(res "$s-tp" ferry_put)") | $(rate "$(res "$s-tp" curl_put)") | $(res "$s-tp" runs) |"
    done
    echo
    if ((${#tp_missed[@]} == 0)); then
        echo "- Target: ferry >= 80% of curl — met."
    else
        echo "- Target: ferry >= 80% of curl — missed for: ${tp_missed[*]}."
    fi
    echo
    echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: } (other jobs on the machine add noise)."
}
if ((${#failures[@]} > 0)); then
    printf '\n*** BENCH: %d ferry pass(es) FAILED (see the report) ***\n\n' "${#failures[@]}" >&2
    exit 1
fi
