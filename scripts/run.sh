#!/usr/bin/env bash
# Install what Ferry needs on Debian/Ubuntu, build it, and run it.
#
# Runs Ferry in the foreground (Ctrl-C stops it): the daemon, with its tray
# icon when there is a graphical session (DISPLAY or WAYLAND_DISPLAY). When no
# synchronization is configured yet, it adds one that keeps ~/Ferry in sync
# with the local folder ~/Ferry-remote (set FERRY_LOCAL / FERRY_REMOTE to
# choose others). In another terminal: `target/release/ferry status`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages build-essential pkg-config libdbus-1-dev
# The tray: GTK to build, the indicator library it loads at run time.
need_packages libgtk-3-dev libayatana-appindicator3-1
ensure_rust
cargo build --release --locked

FERRY=target/release/ferry
"$FERRY" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID' INT TERM
# Wait until it answers.
for _ in $(seq 100); do
    "$FERRY" status >/dev/null 2>&1 && break
    kill -0 $PID 2>/dev/null || { wait $PID; exit 1; }
    sleep 0.1
done
if "$FERRY" list | grep -q "^No synchronizations"; then
    LOCAL="${FERRY_LOCAL:-$HOME/Ferry}"
    REMOTE="${FERRY_REMOTE:-$HOME/Ferry-remote}"
    mkdir -p "$LOCAL" "$REMOTE"
    "$FERRY" add default "$LOCAL" "$REMOTE"
fi
"$FERRY" status
echo "Ferry is running (Ctrl-C stops it). Try \`$FERRY status\`, \`$FERRY log\`, \`$FERRY --help\`."
wait $PID
