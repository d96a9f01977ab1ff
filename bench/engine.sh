#!/usr/bin/env bash
# Ferry engine benchmark (a benchmark, not a test): times sync passes of
# `ferry sync` against `rclone bisync` on the same workload between two local
# folders, then times a no-change pass over a large tree against a bare `find`.
# Prints Markdown tables on stdout; progress goes to stderr.
#
#   bench/engine.sh                  # full run (~10 min on 2 cores)
#   BENCH_QUICK=1 bench/engine.sh    # scaled down, to smoke-test the script
#
# Environment:
#   BENCH_DIR    parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_QUICK  1: 1,000 files + 1 x 5 MiB; 10,000 files in part 2
#   BENCH_KEEP   1: keep the work dir (logs, trees) at the end
#   FERRY_BIN    use this ferry binary instead of building target/release/ferry
#
# Both tools compare size + modification time (their defaults; no --checksum
# for rclone). rclone still verifies each copy with a post-transfer hash, and
# Ferry hashes what it copies (SHA-256) and fsyncs each file and folder: that
# is each tool's normal behaviour and is part of what is measured.
set -euo pipefail

QUICK=${BENCH_QUICK:-0}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $QUICK == 1 ]]; then
    # Part 1: 10 top x 10 sub x 10 files = 1,000 small files; 1 x 5 MiB.
    N_TOP=10 N_SUB=10 N_FILES=10 N_BIG=1 BIG_MIB=5
    # Part 2: 25 x 20 folders x 20 files = 10,000 tiny files.
    P2_TOP=25 P2_SUB=20 P2_FILES=20
else
    # Part 1: 20 top x 10 sub x 50 files = 10,000 small files; 5 x 50 MiB.
    N_TOP=20 N_SUB=10 N_FILES=50 N_BIG=5 BIG_MIB=50
    # Part 2: 50 x 100 folders x 20 files = 100,000 tiny files.
    P2_TOP=50 P2_SUB=100 P2_FILES=20
fi
N_SMALL=$((N_TOP * N_SUB * N_FILES))
P2_N=$((P2_TOP * P2_SUB * P2_FILES))

say() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    printf '\n*** BENCH FAILED: %s ***\n\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- setup ----
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    say "installing: $*"
    $SUDO apt-get install -y -q "$@" >&2 ||
        { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q "$@" >&2; }
}
missing=()
command -v rclone >/dev/null || missing+=(rclone)
find --version 2>/dev/null | grep -q 'GNU findutils' || missing+=(findutils)
command -v python3 >/dev/null || missing+=(python3)
command -v cmp >/dev/null || missing+=(diffutils)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

# ferry_binary: bench/lib.sh.
source "$ROOT/bench/lib.sh"
ferry_binary

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
cleanup() {
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/home/.local/share"
# Local deletions go to the OS trash: keep it inside the work dir.
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/.local/share
export RCLONE_CONFIG=$WORK/rclone.conf
: >"$RCLONE_CONFIG"
unset FERRY_LOG

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
elif cmd == "part2":
    root, ntop, nsub, nfiles = sys.argv[2], *map(int, sys.argv[3:])
    os.makedirs(root)
    small(root, ntop, nsub, nfiles, 10, 200, 2)
elif cmd == "modify":
    modify([l.rstrip("\n") for l in sys.stdin if l.strip()])
EOF

# A listing that must be equal on both sides: type, path, size, mtime (ns),
# without Ferry's remote trash.
listing() {
    (cd "$1" && find . -mindepth 1 -path ./.ferry-trash -prune -o \
        \( -type f -printf 'f %P %s %T@\n' \) -o \( -type d -printf 'd %P\n' \) -o -printf '? %P\n') |
        LC_ALL=C sort
}

# Small files of a tree, sorted, relative to it.
small_files() { (cd "$1" && find . -name 'f*.bin' -printf '%P\n' | LC_ALL=C sort); }

# ------------------------------------------------------------- part 1 ----
say "generating part 1: $N_SMALL small files in $((N_TOP * N_SUB)) folders + $N_BIG x $BIG_MIB MiB"
t0=$(now)
python3 "$WORK/gen.py" part1 "$WORK/seed" "$N_TOP" "$N_SUB" "$N_FILES" "$N_BIG" "$BIG_MIB"
say "generated in $(elapsed "$t0" "$(now)") s"

PHASES=(initial no-change modify-1pct rename-folder delete-1pct)
declare -A T=() FORCED=()

# Run one pass of $tool; logs to $LOGS/$tool-$phase.log.
sync_once() {
    local tool=$1 phase=$2 d=$3 log=$LOGS/$1-$2.log rc=0
    case $tool in
    ferry)
        "$FERRY" sync "$d/L" "$d/R" --state "$d/state" >"$log" 2>&1 || rc=$?
        if ((rc == 3)) && [[ $phase == delete-1pct ]]; then
            FORCED[$tool-$phase]=1
            say "ferry: guard stopped the delete pass; running it again with --force"
            rc=0
            "$FERRY" sync "$d/L" "$d/R" --state "$d/state" --force >>"$log" 2>&1 || rc=$?
        fi
        ;;
    rclone)
        local extra=()
        [[ $phase == initial ]] && extra+=(--resync)
        rclone bisync "$d/L" "$d/R" --workdir "$d/work" --remove-empty-dirs \
            "${extra[@]}" -v >"$log" 2>&1 || rc=$?
        ;;
    esac
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
        die "$tool $phase: exit status $rc (log above)"
    fi
}

verify() {
    local tool=$1 phase=$2 d=$3 expect=$4
    listing "$d/L" >"$d/got-L"
    listing "$d/R" >"$d/got-R"
    if ! cmp -s "$expect" "$d/got-L"; then
        diff "$expect" "$d/got-L" | head -n 20 >&2
        die "$tool $phase: the local side is not as it was before the pass (diff above)"
    fi
    if ! cmp -s "$d/got-L" "$d/got-R"; then
        diff "$d/got-L" "$d/got-R" | head -n 20 >&2
        die "$tool $phase: local and remote differ (diff above, < local > remote)"
    fi
}

# One phase: mutate the local side (untimed), time the pass, verify.
phase() {
    local tool=$1 phase=$2 d=$3 t0 t1
    listing "$d/L" >"$d/expect"
    sync -f "$d/L" # flush dirty pages (the copy, the mutation) before timing
    t0=$(now)
    sync_once "$tool" "$phase" "$d"
    t1=$(now)
    T[$tool-$phase]=$(elapsed "$t0" "$t1")
    verify "$tool" "$phase" "$d" "$d/expect"
    say "$tool $phase: ${T[$tool-$phase]} s"
}

bench_tool() {
    local tool=$1 d=$WORK/$1
    mkdir -p "$d/state" "$d/work" "$d/R"
    cp -a "$WORK/seed" "$d/L"

    phase "$tool" initial "$d"
    diff -rq --exclude=.ferry-trash "$d/L" "$d/R" >&2 || die "$tool initial: contents differ"

    phase "$tool" no-change "$d"

    small_files "$d/L" | awk 'NR % 100 == 7' >"$d/modified"
    [[ -s $d/modified ]] || die "no files picked to modify"
    (cd "$d/L" && python3 "$WORK/gen.py" modify <"$d/modified")
    phase "$tool" modify-1pct "$d"
    while read -r f; do
        cmp -s "$d/L/$f" "$d/R/$f" || die "$tool modify-1pct: $f differs"
    done <"$d/modified"

    local last
    last=$(printf 'd%02d' $((N_TOP - 1)))
    mv "$d/L/$last" "$d/L/$last-renamed"
    phase "$tool" rename-folder "$d"

    small_files "$d/L" | awk 'NR % 100 == 53' >"$d/deleted"
    (cd "$d/L" && xargs -d '\n' rm -- <"$d/deleted")
    phase "$tool" delete-1pct "$d"

    diff -rq --exclude=.ferry-trash "$d/L" "$d/R" >&2 || die "$tool final: contents differ"
    rm -rf "$d"
}

say "part 1: ferry"
bench_tool ferry
say "part 1: rclone bisync"
bench_tool rclone

# ------------------------------------------------------------- part 2 ----
say "generating part 2: $P2_N tiny files in $((P2_TOP * P2_SUB)) folders"
P2=$WORK/p2
mkdir -p "$P2/state"
t0=$(now)
python3 "$WORK/gen.py" part2 "$P2/L" "$P2_TOP" "$P2_SUB" "$P2_FILES"
say "generated in $(elapsed "$t0" "$(now)") s"
listing "$P2/L" >"$P2/expect"
sync -f "$P2/L"
t0=$(now)
"$FERRY" sync "$P2/L" "$P2/R" --state "$P2/state" >"$LOGS/p2-initial.log" 2>&1 ||
    { tail -n 40 "$LOGS/p2-initial.log" >&2; die "part 2: initial ferry pass failed"; }
P2_INITIAL=$(elapsed "$t0" "$(now)")
say "part 2 initial ferry pass: $P2_INITIAL s"
listing "$P2/R" >"$P2/got-R"
cmp -s "$P2/expect" "$P2/got-R" || die "part 2: remote differs from local after the initial pass"

best() { awk 'NR == 1 || $1 < m { m = $1 } END { printf "%.3f", m }'; }
# Warm the cache, then best of 3 each.
find "$P2/L" -printf '%s %T@\n' >/dev/null
"$FERRY" sync "$P2/L" "$P2/R" --state "$P2/state" >/dev/null 2>&1
FERRY_RUNS=() FIND_RUNS=()
for _ in 1 2 3; do
    t0=$(now)
    "$FERRY" sync "$P2/L" "$P2/R" --state "$P2/state" >"$LOGS/p2-nochange.log" 2>&1 ||
        { tail -n 40 "$LOGS/p2-nochange.log" >&2; die "part 2: no-change pass failed"; }
    FERRY_RUNS+=("$(elapsed "$t0" "$(now)")")
    grep -q 'nothing to do' "$LOGS/p2-nochange.log" ||
        { cat "$LOGS/p2-nochange.log" >&2; die "part 2: the no-change pass did something"; }
    t0=$(now)
    find "$P2/L" -printf '%s %T@\n' >/dev/null
    FIND_RUNS+=("$(elapsed "$t0" "$(now)")")
done
P2_FERRY=$(printf '%s\n' "${FERRY_RUNS[@]}" | best)
P2_FIND=$(printf '%s\n' "${FIND_RUNS[@]}" | best)
P2_RATIO=$(ratio "$P2_FERRY" "$P2_FIND")
JOURNAL_BYTES=$(find "$P2/state" -maxdepth 1 \( -name '*.db' -o -name '*.db-wal' \) -printf '%s\n' |
    awk '{ s += $1 } END { print s + 0 }')
JOURNAL_DB=$(find "$P2/state" -maxdepth 1 -name '*.db' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
JOURNAL_WAL=$((JOURNAL_BYTES - JOURNAL_DB))
P2_ITEMS=$((P2_N + P2_TOP + P2_TOP * P2_SUB))
PER_FILE=$(awk -v a="$JOURNAL_BYTES" -v b="$P2_N" 'BEGIN { printf "%.0f", a / b }')

LOAD_AFTER=$(uptime)

# -------------------------------------------------------------- report ----
{
    echo
    if [[ $QUICK == 1 ]]; then echo "## Ferry engine benchmark (BENCH_QUICK=1: scaled down)"; else echo "## Ferry engine benchmark"; fi
    echo
    echo "Part 1: $N_SMALL files of ~4 KiB in $((N_TOP * N_SUB)) folders ($N_TOP x $N_SUB) + $N_BIG x $BIG_MIB MiB;"
    echo "folder to folder on $(df -PT "$WORK" | awk 'NR == 2 { print $2 }'), $(nproc) cores; $("$FERRY" --version); $(rclone version 2>/dev/null | head -n 1)."
    echo
    echo "| phase | ferry s | rclone bisync s | ratio ferry/rclone |"
    echo "| --- | ---: | ---: | ---: |"
    over=()
    for p in "${PHASES[@]}"; do
        f=${T[ferry-$p]} r=${T[rclone-$p]}
        q=$(ratio "$f" "$r")
        note=
        [[ -n ${FORCED[ferry-$p]:-} ]] && note=" (guard tripped: timed with --force)"
        le "$q" 0.5 || over+=("$p ($q)")
        echo "| $p | $f$note | $r | $q |"
    done
    echo
    if ((${#over[@]} == 0)); then
        echo "Target: every ratio <= 0.5 — met."
    else
        echo "Target: every ratio <= 0.5 — missed for: $(IFS=,; echo "${over[*]}" | sed 's/,/, /g')."
    fi
    echo
    echo "Part 2: $P2_N tiny files in $((P2_TOP * P2_SUB)) folders; initial ferry pass $P2_INITIAL s."
    echo
    echo "| measure | value |"
    echo "| --- | ---: |"
    echo "| ferry no-change pass, best of 3 (s) | $P2_FERRY |"
    echo "| find L -printf '%s %T@\\n', best of 3 (s) | $P2_FIND |"
    echo "| ratio ferry/find | $P2_RATIO |"
    echo "| journal .db + -wal (bytes) | $JOURNAL_BYTES ($JOURNAL_DB + $JOURNAL_WAL) |"
    echo "| journal bytes per file | $PER_FILE |"
    echo
    if le "$P2_RATIO" 1.5; then
        echo "Target: ratio ferry/find <= 1.5 — met."
    else
        echo "Target: ratio ferry/find <= 1.5 — missed ($P2_RATIO)."
    fi
    echo
    echo "Runs: ferry ${FERRY_RUNS[*]} s; find ${FIND_RUNS[*]} s. ($P2_ITEMS items incl. folders.)"
    echo
    echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: } (other jobs on the machine add noise)."
}
