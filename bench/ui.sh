#!/usr/bin/env bash
# Preferences UI benchmark (a benchmark, not a test). Starts a real
# `ferry daemon --headless` with temp folders and N folder-remote
# synchronizations, a headless Chromium under chromedriver (Debian's
# chromium + chromium-driver), and measures, over R rounds:
#
#   1. "Preferences…" → browser started: what the tray's entry does before
#      the browser has the URL (`ferry prefs` with $BROWSER set to a
#      recorder: a login code from the daemon, then the browser command);
#   2. URL → first contentful paint of the page (the login redirect, the
#      shell, its modules), read from the page's own Performance timeline;
#   3. URL → the Synchronizations page showing every synchronization
#      (the page's data loaded and drawn);
#   4. the selective-sync tree of a server folder with F sub-folders
#      (default 1,000): opening the page → every folder drawn.
#
# A real desktop adds its browser's own start (or a new tab's) to 1.
#
#   bench/ui.sh                      # 30 rounds, 5 synchronizations
#   BENCH_ROUNDS=10 bench/ui.sh      # quick
#
# Environment: BENCH_DIR (default /tmp/ferry-bench-ui), BENCH_ROUNDS,
# BENCH_SYNCS, FERRY_BIN (default: build target/release/ferry).
# Prints a Markdown table on stdout; progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench-ui}
ROUNDS=${BENCH_ROUNDS:-30}
SYNCS=${BENCH_SYNCS:-5}
FOLDERS=${BENCH_FOLDERS:-1000}

say() { echo "bench: $*" >&2; }

if [[ -n ${FERRY_BIN:-} ]]; then
    FERRY=$FERRY_BIN
else
    say "building target/release/ferry"
    (cd "$ROOT" && cargo build --release --quiet)
    FERRY=$ROOT/target/release/ferry
fi
for tool in python3 chromedriver chromium; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install chromium chromium-driver python3)" >&2; exit 1; }
done

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{home,config,data,profile}
export HOME=$BENCH_DIR/home FERRY_CONFIG_DIR=$BENCH_DIR/config FERRY_DATA_DIR=$BENCH_DIR/data
export XDG_CONFIG_HOME=$BENCH_DIR/home/.config FERRY_LOG=${FERRY_LOG:-warn}
cleanup() {
    [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null
    [[ -n ${DRIVER:-} ]] && kill "$DRIVER" 2>/dev/null
    wait 2>/dev/null || true
}
trap cleanup EXIT

"$FERRY" daemon --headless >"$BENCH_DIR/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [[ -s $BENCH_DIR/data/api.port ]] && break; sleep 0.1; done
for i in $(seq "$SYNCS"); do
    mkdir -p "$BENCH_DIR/local$i" "$BENCH_DIR/remote$i"
    echo "file $i" >"$BENCH_DIR/local$i/readme.txt"
    "$FERRY" add "sync$i" "$BENCH_DIR/local$i" "$BENCH_DIR/remote$i" >/dev/null
done

# A synchronization whose other side has many folders, for the tree.
mkdir -p "$BENCH_DIR/tree-local" "$BENCH_DIR/tree-remote"
for i in $(seq -w 1 "$FOLDERS"); do mkdir "$BENCH_DIR/tree-remote/folder-$i"; done
"$FERRY" add tree "$BENCH_DIR/tree-local" "$BENCH_DIR/tree-remote" --no-live >/dev/null

# Measure the steady state: every first pass done.
for _ in $(seq 600); do
    "$FERRY" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["overall"]=="synced" else 1)' && break
    sleep 0.5
done

# The recorder standing in for the desktop's browser.
cat >"$BENCH_DIR/browser" <<REC
#!/bin/sh
printf '%s\n' "\$1" > "$BENCH_DIR/url"
REC
chmod +x "$BENCH_DIR/browser"

DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chromedriver --port="$DPORT" --allowed-ips=127.0.0.1 >/dev/null 2>&1 &
DRIVER=$!

say "$ROUNDS rounds"
python3 - "$FERRY" "$BENCH_DIR" "$DPORT" "$ROUNDS" "$SYNCS" "$FOLDERS" <<'EOF'
import json, os, subprocess, sys, time, urllib.request

ferry, bench, dport, rounds, syncs, folders = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
syncs += 1  # the tree's synchronization

def wd(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{dport}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]

for _ in range(100):
    try:
        wd("GET", "/status"); break
    except Exception:
        time.sleep(0.1)
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-quic", "--no-first-run", f"--user-data-dir={bench}/profile"]}}}}
sid = wd("POST", "/session", caps)["sessionId"]
def js(script):
    return wd("POST", f"/session/{sid}/execute/sync", {"script": script, "args": []})

def requests():
    return js("return performance.getEntriesByType('resource').map(e => e.name + ' ' + Math.round(e.duration))")

env = dict(os.environ, BROWSER=f"{bench}/browser")
opener, paint, ready = [], [], []
for i in range(rounds):
    t0 = time.monotonic()
    subprocess.run([ferry, "prefs"], env=env, check=True, stdout=subprocess.DEVNULL)
    opener.append((time.monotonic() - t0) * 1000)
    url = open(f"{bench}/url").read().strip()
    wd("POST", f"/session/{sid}/url", {"url": "about:blank"})
    t1 = time.monotonic()
    wd("POST", f"/session/{sid}/url", {"url": url})
    # Wait for the synchronizations to be drawn (one row or card per sync).
    while True:
        n = js("return document.querySelectorAll('article.sync').length")
        if n >= syncs:
            break
        if time.monotonic() - t1 > 30:
            sys.exit(f"the Synchronizations page showed {n} of {syncs} synchronizations; page errors: {js('return window.ferryErrors')}; requests: {requests()}; notices: " + str(js("return document.getElementById('notices').innerText"))[:600])
        time.sleep(0.005)
    ready.append((time.monotonic() - t1) * 1000)
    # The paint's time is from the navigation's start (the login redirect
    # included).
    fcp = js("const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null")
    if fcp is not None:
        paint.append(fcp)
tree = []
base = url.split("/login")[0]
for i in range(rounds):
    wd("POST", f"/session/{sid}/url", {"url": "about:blank"})
    t1 = time.monotonic()
    wd("POST", f"/session/{sid}/url", {"url": f"{base}/#/selective/tree"})
    while True:
        n = js("return document.querySelectorAll('[data-test^=\"folder-\"]').length")
        if n >= folders:
            break
        if time.monotonic() - t1 > 60:
            sys.exit(f"the tree showed {n} of {folders} folders")
        time.sleep(0.005)
    tree.append((time.monotonic() - t1) * 1000)
wd("DELETE", f"/session/{sid}")

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print("| measure (ms) | p50 | p99 | max | n |")
print("|---|---|---|---|---|")
for name, v in [("Preferences… → browser started with the URL", opener),
                ("URL → first contentful paint", paint),
                (f"URL → Synchronizations page showing {syncs} synchronizations", ready),
                (f"selective sync: page → {folders} server folders drawn", tree)]:
    if v:
        print(f"| {name} | {pct(v, 50):.0f} | {pct(v, 99):.0f} | {max(v):.0f} | {len(v)} |")
EOF
