#!/usr/bin/env bash
# The tray's screenshot for the README: docs/screenshots/tray-menu.png, the
# icon in a tray with its menu open. Starts its own virtual X server
# (Xvfb), session bus and tray host (trayer), and `ferry` on a temp HOME
# with one local-folder synchronization; touches nothing of yours.
#
#   scripts/screenshots-tray.sh              # builds target/debug/ferry if needed
#   FERRY_BIN=target/release/ferry scripts/screenshots-tray.sh
#
# Needs Debian `xvfb trayer dbus xdotool imagemagick x11-xserver-utils`
# (and what the tray needs at run time: libayatana-appindicator3-1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/docs/screenshots/tray-menu.png}
say() { echo "screenshot: $*" >&2; }

for tool in Xvfb trayer dbus-daemon xdotool xwininfo; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (see the comment at the top)" >&2; exit 1; }
done
# /usr/bin explicitly: another `convert` may come first on PATH.
IMPORT=/usr/bin/import CONVERT=/usr/bin/convert
[[ -x $IMPORT && -x $CONVERT ]] || { echo "ImageMagick is needed (Debian imagemagick)" >&2; exit 1; }

if [[ -n ${FERRY_BIN:-} ]]; then
    FERRY=$FERRY_BIN
else
    FERRY=${CARGO_TARGET_DIR:-$ROOT/target}/debug/ferry
    if [[ ! -x $FERRY ]]; then
        say "building $FERRY"
        (cd "$ROOT" && cargo build --quiet)
    fi
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK"/{home,config,data,run,Documents,Backup}
chmod 700 "$WORK/run"
export HOME=$WORK/home FERRY_CONFIG_DIR=$WORK/config FERRY_DATA_DIR=$WORK/data
export XDG_RUNTIME_DIR=$WORK/run NO_AT_BRIDGE=1 FERRY_LOG=${FERRY_LOG:-warn}
unset WAYLAND_DISPLAY

# The display and the bus print their names on a file descriptor.
Xvfb -displayfd 3 -screen 0 800x600x24 -nolisten tcp 3>"$WORK/display" 2>/dev/null &
PIDS+=($!)
dbus-daemon --session --nofork --print-address=3 3>"$WORK/bus" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $WORK/display && -s $WORK/bus ]] && break; sleep 0.1; done
export DISPLAY=:$(head -n1 "$WORK/display")
export DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$WORK/bus")
say "display $DISPLAY"
command -v xsetroot >/dev/null && xsetroot -solid '#47606e'

trayer --edge top --align right --height 28 --widthtype request --transparent false \
    --tint 0x2b2b2b --SetDockType true >/dev/null 2>&1 &
PIDS+=($!)

printf 'Quarterly report\n' >"$WORK/Documents/report.txt"
printf 'Shopping list\n' >"$WORK/Documents/list.txt"
"$FERRY" >"$WORK/ferry.log" 2>&1 &
FERRY_PID=$!
PIDS+=("$FERRY_PID")
for _ in $(seq 200); do [[ -s $WORK/data/api.port ]] && break; sleep 0.1; done
"$FERRY" add Documents "$WORK/Documents" "$WORK/Backup" >/dev/null
for _ in $(seq 200); do
    "$FERRY" status --json | grep -q '"overall": *"synced"' && break
    sleep 0.1
done

# The icon: trayer (top edge, right-aligned, 28 px high, on our own
# 800x600 screen) docks it in the top right corner (the app indicator shows
# an XEmbed icon when no StatusNotifierWatcher runs).
sleep 2 # the icon is docked and the menu built from the daemon's status
xdotool mousemove 786 14 click 1
sleep 1

mkdir -p "$(dirname "$OUT")"
"$IMPORT" -window root "$WORK/full.png"
# The top right corner: the tray and the menu under it.
"$CONVERT" "$WORK/full.png" -crop 230x222+570+0 +repage "$OUT"
say "wrote $OUT"
