#!/bin/sh
# Builds Ferry's .deb with dpkg-deb from a staged tree (Debian 12 has no
# cargo-deb package, and installing it in every CI run costs minutes):
#   installer/build-deb.sh [BINARY] [OUT_DIR]
# BINARY defaults to target/release/ferry (built by `cargo build --release`);
# the package goes to OUT_DIR (default target/deb). It holds the binary, a
# .desktop launcher, the icons in the hicolor theme and the licence; it
# depends on libayatana-appindicator3-1 by hand (the tray loads it at run
# time, so no dependency scan sees it). No system-wide autostart entry:
# users turn auto-start on and off themselves (`ferry autostart on|off`).
# FERRY_DEB_COMPRESSION (dpkg-deb -Z: xz, the default, gzip, zstd, none)
# lets a test skip the minute xz takes.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/target/release/ferry}"
out="${2:-$root/target/deb}"
[ -x "$bin" ] || { echo "build-deb.sh: no ferry binary at $bin (cargo build --release)" >&2; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$bin" "$stage/usr/bin/ferry"
install -D -m 0644 "$here/ferry.desktop" "$stage/usr/share/applications/ferry.desktop"
for size in 16 22 24 32 48 64 128 256; do
    install -D -m 0644 "$root/assets/png/ferry-$size.png" \
        "$stage/usr/share/icons/hicolor/${size}x${size}/apps/ferry.png"
done
install -D -m 0644 "$root/assets/icons/ferry.svg" "$stage/usr/share/icons/hicolor/scalable/apps/ferry.svg"
install -D -m 0644 "$root/LICENSE" "$stage/usr/share/doc/ferry/copyright"

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$stage/usr/share/applications/ferry.desktop"
fi

mkdir -p "$stage/DEBIAN"
size_kb="$(du -sk "$stage/usr" | cut -f1)"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: ferry
Version: $version
Architecture: $arch
Maintainer: Ferry developers <ferry@localhost>
Installed-Size: $size_kb
Depends: libc6, libgcc-s1, libdbus-1-3, libgtk-3-0, libayatana-appindicator3-1
Section: net
Priority: optional
Homepage: https://example.invalid/ferry
Description: keeps a folder in sync with a WebDAV server or another disk
 Ferry is a desktop file-sync client: a tray icon, a background service and
 a command line (ferry) that keep local folders in sync with folders on
 WebDAV servers (Apache, nginx, Nextcloud, rclone...) or on another disk.
 Nothing is lost: files are never written in place, deletions go to a
 trash, and when both sides changed a file both versions are kept.
CONTROL

mkdir -p "$out"
deb="$out/ferry_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${FERRY_DEB_COMPRESSION:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
