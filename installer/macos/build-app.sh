#!/bin/sh
# Builds Ferry.app (and a .dmg) on macOS, from the repository root:
#   cargo build --release --target aarch64-apple-darwin   # and/or x86_64-apple-darwin
#   installer/macos/build-app.sh [BINARY] [OUT_DIR]
# BINARY defaults to target/release/ferry; give a `lipo -create` universal
# binary for both architectures. Needs Xcode's command-line tools (iconutil,
# codesign, hdiutil): it cannot run on Linux. Signing: set CODESIGN_IDENTITY
# ("Developer ID Application: ..."); without it the bundle is signed ad hoc.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/release/ferry}"
out="${2:-$root/target/macos}"
[ -x "$bin" ] || { echo "build-app.sh: no ferry binary at $bin (cargo build --release)" >&2; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"
app="$out/Ferry.app"
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
install -m 0755 "$bin" "$app/Contents/MacOS/ferry"
sed "s/@VERSION@/$version/g" "$here/Info.plist" >"$app/Contents/Info.plist"
cp "$root/LICENSE" "$app/Contents/Resources/LICENSE"

# The icon: an .iconset from the committed PNGs (Apple's names: size and @2x).
set_dir="$(mktemp -d)/ferry.iconset"
mkdir -p "$set_dir"
for size in 16 32 128 256; do
    cp "$root/assets/png/ferry-$size.png" "$set_dir/icon_${size}x${size}.png"
done
cp "$root/assets/png/ferry-32.png" "$set_dir/icon_16x16@2x.png"
cp "$root/assets/png/ferry-64.png" "$set_dir/icon_32x32@2x.png"
cp "$root/assets/png/ferry-256.png" "$set_dir/icon_128x128@2x.png"
iconutil -c icns -o "$app/Contents/Resources/ferry.icns" "$set_dir"
rm -rf "$(dirname "$set_dir")"

plutil -lint "$app/Contents/Info.plist" "$here/Ferry.plist"
codesign --force --options runtime --sign "${CODESIGN_IDENTITY:--}" "$app"
hdiutil create -volname Ferry -srcfolder "$app" -ov -format UDZO "$out/Ferry-$version.dmg" >/dev/null
echo "$app"
echo "$out/Ferry-$version.dmg"
