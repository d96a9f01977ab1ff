#!/usr/bin/env bash
# Take the pictures of Ferry's preferences pages that README.md and docs/
# show: every page, in headless Chromium against a real daemon with a
# realistic configuration (tests/ui_pages.rs), saved to docs/screenshots/.
# Needs what ./scripts/test.sh installs (chromium, chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_packages chromium chromium-driver
ensure_rust
mkdir -p docs/screenshots
FERRY_SCREENSHOTS="$PWD/docs/screenshots" cargo test --test ui_pages -- --test-threads=1
ls -l docs/screenshots
