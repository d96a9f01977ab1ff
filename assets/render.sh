#!/bin/sh
# Renders Ferry's icons from the SVG sources in icons/ into png/ (committed, so
# the build needs no tool). Needs rsvg-convert (Debian: librsvg2-bin).
#   app icon:   png/ferry-<size>.png           16 22 24 32 48 64 128 256 (launcher, hicolor, installers)
#   tray icons: png/ferry-<state>-<size>.png   16 22 24 32 48 64
# The tray sizes up to 24 px come from the bold drawing (icons/*-small.svg).
set -eu
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null || { echo "render.sh: rsvg-convert is missing (apt-get install librsvg2-bin)" >&2; exit 1; }
mkdir -p png
for size in 16 22 24 32 48 64 128 256; do
    rsvg-convert -w "$size" -h "$size" icons/ferry.svg -o "png/ferry-$size.png"
done
for state in synced syncing paused offline error credentials confirm; do
    for size in 16 22 24 32 48 64; do
        src="icons/ferry-$state.svg"
        [ "$size" -le 24 ] && src="icons/ferry-$state-small.svg"
        rsvg-convert -w "$size" -h "$size" "$src" -o "png/ferry-$state-$size.png"
    done
done
echo "render.sh: wrote $(ls png | wc -l) PNGs in $(pwd)/png"
# The Windows installer's and executable's icon (icoutils): small sizes as
# bitmaps, 64 px and up as PNG.
if command -v icotool >/dev/null; then
    icotool -c -o ferry.ico png/ferry-16.png png/ferry-24.png png/ferry-32.png png/ferry-48.png \
        -r png/ferry-64.png -r png/ferry-128.png -r png/ferry-256.png
    echo "render.sh: wrote $(pwd)/ferry.ico"
else
    echo "render.sh: ferry.ico not rebuilt: icotool is missing (apt-get install icoutils)" >&2
fi
