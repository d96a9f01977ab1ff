# Shared helpers for Ferry's set-up scripts (sourced, not run).

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the Debian/Ubuntu packages given, if any is missing.
need_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing system packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # Servers installed for the tests (apache2, nginx) must not start as
        # system services on port 80: the tests start their own on loopback.
        local policy=/usr/sbin/policy-rc.d made_policy=
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
            as_root chmod +x "$policy"
            made_policy=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        if [ -n "$made_policy" ]; then as_root rm -f "$policy"; fi
    fi
}

# Make sure a Rust toolchain (cargo, rustfmt, clippy) is on PATH.
ensure_rust() {
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    if ! command -v cargo >/dev/null 2>&1; then
        if apt-cache show rustup >/dev/null 2>&1; then
            need_packages rustup
            rustup default stable
        else
            echo "Ferry needs Rust 1.85 or newer: install it from https://rustup.rs and run this again." >&2
            exit 1
        fi
    fi
}

# Make sure rustup has the standard library for target $1 (cross-checks).
need_rust_target() {
    if ! command -v rustup >/dev/null 2>&1; then
        echo "Checking for $1 needs rustup (https://rustup.rs): rustup target add $1" >&2
        exit 1
    fi
    rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}
