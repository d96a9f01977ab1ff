#!/usr/bin/env bash
# Install what Ferry's tests need on Debian/Ubuntu and run them all:
# formatting, lints, unit, planner table and property tests, and the
# end-to-end tests of the real binary.
#
# FERRY_PROPTEST_CASES=N raises the property tests' case count.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages build-essential pkg-config
ensure_rust

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
