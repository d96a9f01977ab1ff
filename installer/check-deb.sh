#!/usr/bin/env bash
# Builds Ferry's .deb, installs it with dpkg, checks what it installed and
# removes it again (run by scripts/test.sh after `cargo test`):
#   installer/check-deb.sh [BINARY]
# BINARY (default target/debug/ferry) is packaged stripped, so the check
# needs no release build. Checks: `ferry --version`; the launcher passes
# desktop-file-validate; its icon, and every icon the package puts in the
# hicolor theme, exists at the size its folder names; Depends names
# libayatana-appindicator3-1; no system-wide autostart entry; `dpkg -r`
# leaves nothing of the package behind. Needs root (or sudo) for dpkg.
# A `ferry` package already installed, or any file the package would
# overwrite, is left alone: the check is skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
. "$root/scripts/lib.sh"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/ferry}"
[ -x "$bin" ] || { echo "check-deb.sh: no ferry binary at $bin (cargo build)" >&2; exit 1; }

if dpkg-query -W -f='${Status}' ferry 2>/dev/null | grep -q "install ok installed"; then
    echo "check-deb.sh: skipped: a ferry package is installed already (dpkg -r ferry to run this check)" >&2
    exit 0
fi

work="$(mktemp -d)"
installed=
cleanup() {
    if [ -n "$installed" ]; then as_root dpkg -r ferry >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "check-deb.sh: $*" >&2
    exit 1
}

strip -o "$work/ferry" "$bin"
# Uncompressed: xz would take a minute and checks nothing more.
deb="$(FERRY_DEB_COMPRESSION=none "$here/build-deb.sh" "$work/ferry" "$work/deb")"
# Never overwrite a file the package does not own yet (a hand-installed ferry).
while IFS= read -r f; do
    case "$f" in */) continue ;; esac
    if [ -e "$f" ]; then
        echo "check-deb.sh: skipped: $f exists already and is not from the package" >&2
        exit 0
    fi
done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|')
as_root dpkg -i "$deb" >/dev/null
installed=1
files="$(dpkg -L ferry)"

# The binary runs and is the version packaged.
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"
got="$(/usr/bin/ferry --version)"
[ "$got" = "ferry $version" ] || fail "ferry --version says '$got', expected 'ferry $version'"

# The launcher is valid and its icon is in the hicolor theme.
launcher=/usr/share/applications/ferry.desktop
[ -f "$launcher" ] || fail "no launcher at $launcher"
desktop-file-validate "$launcher" || fail "$launcher is not a valid desktop entry"
icon="$(sed -n 's/^Icon=//p' "$launcher" | head -1)"
case "$icon" in
    /*) [ -f "$icon" ] || fail "the launcher's icon $icon does not exist" ;;
    *) ls /usr/share/icons/hicolor/*/apps/"$icon".png /usr/share/icons/hicolor/scalable/apps/"$icon".svg \
        >/dev/null 2>&1 || fail "the launcher's icon '$icon' is not in the hicolor theme" ;;
esac
[ -f /usr/share/icons/hicolor/scalable/apps/"$icon".svg ] || fail "no scalable $icon.svg in the hicolor theme"
# Every icon the package names exists; a PNG is as large as its folder says.
icons=0
while IFS= read -r f; do
    case "$f" in
        /usr/share/icons/hicolor/*/apps/*) ;;
        *) continue ;;
    esac
    [ -f "$f" ] || fail "icon $f is listed by the package but missing"
    icons=$((icons + 1))
    size="$(basename "$(dirname "$(dirname "$f")")")"
    case "$f" in
        *.png)
            # The PNG header: width and height, big-endian, at bytes 16-23.
            read -r w h < <(od -An -tu1 -j16 -N8 "$f" |
                awk '{ print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }')
            [ "${w}x${h}" = "$size" ] || fail "icon $f is ${w}x${h}, not $size"
            ;;
        *.svg) grep -q '<svg' "$f" || fail "icon $f is not an SVG" ;;
    esac
done <<<"$files"
[ "$icons" -ge 2 ] || fail "the package holds $icons icons in the hicolor theme"

# The indicator library the tray loads at run time is a dependency.
depends="$(dpkg-query -W -f='${Depends}' ferry)"
case ", $depends," in
    *", libayatana-appindicator3-1"[,\ ]*) ;;
    *) fail "Depends does not name libayatana-appindicator3-1: $depends" ;;
esac

# No system-wide autostart entry (users could not turn it off).
if grep -q '^/etc/xdg/autostart' <<<"$files" || ls /etc/xdg/autostart/ferry*.desktop >/dev/null 2>&1; then
    fail "the package installs a system-wide autostart entry"
fi

# Removed cleanly: no status left, none of its files left.
as_root dpkg -r ferry >/dev/null
installed=
status="$(dpkg-query -W -f='${Status}' ferry 2>/dev/null || true)"
case "$status" in
    "" | *not-installed) ;;
    *) fail "after dpkg -r the package is still '$status'" ;;
esac
while IFS= read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then fail "$f is left after dpkg -r"; fi
done <<<"$files"
for d in /usr/share/doc/ferry /usr/share/icons/hicolor/scalable/apps/ferry.svg; do
    [ ! -e "$d" ] || fail "$d is left after dpkg -r"
done
echo "check-deb.sh: $(basename "$deb") installs, runs, validates and removes cleanly ($icons icons)"
