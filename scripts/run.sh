#!/usr/bin/env bash
# Install what Ferry needs on Debian/Ubuntu, build it, and run it.
#
# Without configuration it keeps ~/Ferry in sync with the local folder
# ~/Ferry-remote (set FERRY_LOCAL / FERRY_REMOTE to choose others); any
# further arguments go to `ferry sync` (e.g. --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages build-essential pkg-config libdbus-1-dev
ensure_rust
cargo build --release --locked

LOCAL="${FERRY_LOCAL:-$HOME/Ferry}"
REMOTE="${FERRY_REMOTE:-$HOME/Ferry-remote}"
mkdir -p "$LOCAL" "$REMOTE"
echo "Ferry: syncing $LOCAL <-> $REMOTE"
exec target/release/ferry sync "$LOCAL" "$REMOTE" "$@"
