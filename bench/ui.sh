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
#      (the page's data loaded and drawn).
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
python3 - "$FERRY" "$BENCH_DIR" "$DPORT" "$ROUNDS" "$SYNCS" <<'EOF'
import json, os, subprocess, sys, time, urllib.request

ferry, bench, dport, rounds, syncs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

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
        n = js("return document.querySelectorAll('[data-test=sync]').length")
        if n >= syncs:
            break
        if time.monotonic() - t1 > 30:
            sys.exit("the Synchronizations page never showed every synchronization")
        time.sleep(0.005)
    ready.append((time.monotonic() - t1) * 1000)
    # The paint's time is from the navigation's start (the login redirect
    # included).
    fcp = js("const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null")
    if fcp is not None:
        paint.append(fcp)
wd("DELETE", f"/session/{sid}")

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print("| measure (ms) | p50 | p99 | max | n |")
print("|---|---|---|---|---|")
for name, v in [("Preferences… → browser started with the URL", opener),
                ("URL → first contentful paint", paint),
                (f"URL → Synchronizations page showing {syncs} synchronizations", ready)]:
    if v:
        print(f"| {name} | {pct(v, 50):.0f} | {pct(v, 99):.0f} | {max(v):.0f} | {len(v)} |")
EOF
