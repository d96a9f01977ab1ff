#!/usr/bin/env bash
# Install what Ferry's tests need on Debian/Ubuntu and run them all:
# formatting, lints (Linux and Windows), unit, planner table and property
# tests, the end-to-end tests of the real binary, and the .deb.
#
# FERRY_PROPTEST_CASES=N raises the property tests' case count.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages build-essential pkg-config libdbus-1-dev dbus gnome-keyring keyutils
# Real WebDAV servers for the integration tests (tests/common/dav.rs).
# nginx first: its install fails if it cannot start because something (a
# freshly started apache2) holds port 80; apache2's does not.
need_packages nginx-extras
# The tray (default-on `tray` feature): GTK to build, the indicator library it
# loads at run time, and a virtual X server, tray host and session bus for
# tests/tray.rs; rsvg-convert and desktop-file-validate for assets/ and installer/.
need_packages libgtk-3-dev libayatana-appindicator3-dev xvfb trayer dbus-x11 librsvg2-bin desktop-file-utils
need_packages apache2 rclone python3-venv
# The preferences UI's browser tests: Debian's Chromium and its WebDriver
# (one source package: their versions never drift).
need_packages chromium chromium-driver
# The Windows cross-check: the C parts (SQLite, ring) build with MinGW.
need_packages gcc-mingw-w64-x86-64
# wsgidav in its own venv (Debian's python3 is externally managed).
ferry_venv="$HOME/.cache/ferry-test-venv"
"$ferry_venv/bin/python" -c 'import wsgidav, cheroot' >/dev/null 2>&1 || {
    python3 -m venv --clear "$ferry_venv" &&
        "$ferry_venv/bin/pip" install -q --disable-pip-version-check 'wsgidav~=4.4' cheroot
}
ensure_rust
need_rust_target x86_64-pc-windows-gnu

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# Cross-platform, checked: the crate with Windows' features (the tray
# included) compiles and lints clean for Windows (clippy runs the compiler's
# checks too, so no separate `cargo check`). Tests that need Unix are
# `#![cfg(unix)]`.
cargo clippy --target x86_64-pc-windows-gnu --all-targets --locked -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
# The .deb: built from the (stripped) debug binary the tests built,
# installed with dpkg, checked and removed again.
installer/check-deb.sh "${CARGO_TARGET_DIR:-target}/debug/ferry"
