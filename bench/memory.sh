#!/usr/bin/env bash
# Ferry memory benchmark (a benchmark, not a test): the peak resident memory
# (VmHWM, from /usr/bin/time) of `ferry sync` over many small files between
# two local folders: the first pass (everything copied) and a pass with no
# change, against the targets of issue 12. Prints a Markdown table on
# stdout; progress goes to stderr.
#
#   bench/memory.sh                  # 100,000 files in 5,000 folders (~3 min)
#   BENCH_QUICK=1 bench/memory.sh    # 10,000 files, to smoke-test it
#
# Environment:
#   BENCH_DIR    parent of the temp work dir (default /tmp/ferry-bench)
#   BENCH_KEEP   1: keep the work dir at the end
#   BENCH_RUNS   no-change passes to run (default 3; min/median/max shown)
#   FERRY_BIN    use this ferry binary instead of building target/release/ferry
set -euo pipefail

QUICK=${BENCH_QUICK:-0}
RUNS=${BENCH_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

if [[ $QUICK == 1 ]]; then TOP=10 SUB=50 FILES=20; else TOP=50 SUB=100 FILES=20; fi
N=$((TOP * SUB * FILES))

[[ -x /usr/bin/time ]] || apt_install time
ferry_binary
make_work memory
mkdir -p "$WORK/home/.local/share" "$WORK/R"
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/.local/share
unset FERRY_LOG

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

# Peak RSS in MiB and seconds of one pass.
pass() {
    local out=$WORK/time.out
    /usr/bin/time -f '%M %e' -o "$out" "$FERRY" sync "$WORK/L" "$WORK/R" --state "$WORK/state" \
        --max-delete-count 1000000 >"$WORK/pass.log" 2>&1 || {
        tail -n 20 "$WORK/pass.log" >&2
        die "ferry sync failed"
    }
    awk '{ printf "%.1f %.2f\n", $1 / 1024, $2 }' "$out"
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

say "first pass"
read -r FIRST_MIB FIRST_S < <(pass)
[[ $(find "$WORK/R" -type f | wc -l) -ge $N ]] || die "the first pass did not copy every file"
NC_MIB=() NC_S=()
for ((i = 1; i <= RUNS; i++)); do
    say "no-change pass $i/$RUNS"
    read -r m s < <(pass)
    NC_MIB+=("$m") NC_S+=("$s")
done

echo
echo "## Peak memory of \`ferry sync\`, $N files in $((TOP * SUB)) folders, folder to folder"
echo
echo "| pass | peak RSS (MiB, min / median / max) | time (s) | target (issue 12, 100,000 files) |"
echo "|---|---|---|---|"
echo "| first | $FIRST_MIB | $FIRST_S | ≤ 64 MiB |"
echo "| no change ($RUNS runs) | $(printf '%s\n' "${NC_MIB[@]}" | stats) | $(printf '%s\n' "${NC_S[@]}" | stats) | ≤ 40 MiB |"
echo
echo "Both sides are scanned (a folder remote is a local folder): a WebDAV remote"
echo "holds its listing instead of the second scan."
