#!/usr/bin/env python3
"""Writes Ferry's icon sources (icons/*.svg): the app icon and one tray icon
per state, each in two drawings: a detailed one for 32 px and up, and a bold
one for the tray's 16-24 px (bigger badge, fewer details). Edit the shapes
here, run it, then ./render.sh for the PNGs."""
import os

TEAL = "#0F766E"
SLATE = "#64748B"
WHITE = "#FFFFFF"

# The detailed ferry (viewBox 0 0 64 64): hull, deck house with windows, funnel, water.
BOAT = """  <path d="M10 36 L54 36 L48 46 Q46 49 42 49 L22 49 Q18 49 16 46 Z" fill="#FFFFFF"/>
  <rect x="20" y="26" width="22" height="10" rx="2" fill="#FFFFFF"/>
  <rect x="24" y="29" width="4" height="4" rx="1" fill="{bg}"/>
  <rect x="31" y="29" width="4" height="4" rx="1" fill="{bg}"/>
  <rect x="36" y="18" width="5" height="8" rx="1" fill="#FFFFFF"/>
  <path d="M6 54 Q11 50 16 54 T26 54 T36 54 T46 54 T56 54" fill="none" stroke="#FFFFFF" stroke-width="3" stroke-linecap="round"/>
"""

# The bold ferry for 16-24 px: hull and deck house only, drawn up and to the left
# so the badge (bottom right) does not hide it.
BOAT_SMALL = """  <path d="M4 30 L46 30 L40 42 Q38 45 34 45 L14 45 Q10 45 8 42 Z" fill="#FFFFFF"/>
  <rect x="13" y="17" width="22" height="14" rx="2" fill="#FFFFFF"/>
  <rect x="26" y="8" width="7" height="10" rx="1" fill="#FFFFFF"/>
"""

# Badges: (fill, glyph drawn in a 0 0 24 24 box centred on the badge).
BADGES = {
    "synced": ("#16A34A", '<path d="M6 12.5 L10.5 17 L18 8" fill="none" stroke="#FFFFFF" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/>'),
    "syncing": ("#2563EB", '<path d="M5.5 11 A6.5 6.5 0 0 1 17.5 8.5" fill="none" stroke="#FFFFFF" stroke-width="3" stroke-linecap="round"/>'
                           '<path d="M18.5 4.5 L18 9.5 L13.5 8.5" fill="none" stroke="#FFFFFF" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>'
                           '<path d="M18.5 13 A6.5 6.5 0 0 1 6.5 15.5" fill="none" stroke="#FFFFFF" stroke-width="3" stroke-linecap="round"/>'
                           '<path d="M5.5 19.5 L6 14.5 L10.5 15.5" fill="none" stroke="#FFFFFF" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>'),
    "paused": ("#FFFFFF", '<rect x="6.5" y="5.5" width="4" height="13" rx="1" fill="#334155"/><rect x="13.5" y="5.5" width="4" height="13" rx="1" fill="#334155"/>'),
    "offline": ("#1E293B", '<circle cx="12" cy="12" r="6" fill="none" stroke="#FFFFFF" stroke-width="3"/><path d="M7 17 L17 7" stroke="#FFFFFF" stroke-width="3" stroke-linecap="round"/>'),
    "error": ("#DC2626", '<rect x="10" y="4" width="4" height="10" rx="2" fill="#FFFFFF"/><circle cx="12" cy="18.5" r="2.4" fill="#FFFFFF"/>'),
    "credentials": ("#EA580C", '<path d="M8 11 V8.5 A4 4 0 0 1 16 8.5 V11" fill="none" stroke="#FFFFFF" stroke-width="2.6"/>'
                               '<rect x="5.5" y="10.5" width="13" height="9" rx="1.5" fill="#FFFFFF"/><circle cx="12" cy="15" r="1.6" fill="#EA580C"/>'),
    "confirm": ("#CA8A04", '<path d="M8 9 Q8 5 12 5 Q16 5 16 8.5 Q16 11 13 12 Q12 12.5 12 14.5" fill="none" stroke="#FFFFFF" stroke-width="3" stroke-linecap="round"/><circle cx="12" cy="18.5" r="2.1" fill="#FFFFFF"/>'),
}
# Paused and offline are grey: nothing moves.
GREY = {"paused", "offline"}


def badge(state, cx, cy, r):
    fill, glyph = BADGES[state]
    scale = (2 * r) / 24 * 0.92
    edge = "#334155" if fill == WHITE else WHITE
    return (f'  <circle cx="{cx}" cy="{cy}" r="{r}" fill="{fill}" stroke="{edge}" stroke-width="2"/>\n'
            f'  <g transform="translate({cx - 12 * scale:.2f} {cy - 12 * scale:.2f}) scale({scale:.3f})">{glyph}</g>\n')


def svg(title, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\n'
            f'  <title>{title}</title>\n{body}</svg>\n')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "icons")
    os.makedirs(out, exist_ok=True)
    # The app icon (launcher, installer): no badge.
    with open(os.path.join(out, "ferry.svg"), "w") as f:
        f.write(svg("Ferry", f'  <rect x="2" y="2" width="60" height="60" rx="14" fill="{TEAL}"/>\n' + BOAT.format(bg=TEAL)))
    for state in BADGES:
        bg = SLATE if state in GREY else TEAL
        big = f'  <rect x="2" y="2" width="60" height="60" rx="14" fill="{bg}"/>\n' + BOAT.format(bg=bg) + badge(state, 49.5, 49.5, 12.5)
        small = f'  <rect x="0" y="0" width="64" height="64" rx="12" fill="{bg}"/>\n' + BOAT_SMALL + badge(state, 45, 45, 18)
        with open(os.path.join(out, f"ferry-{state}.svg"), "w") as f:
            f.write(svg(f"Ferry: {state}", big))
        with open(os.path.join(out, f"ferry-{state}-small.svg"), "w") as f:
            f.write(svg(f"Ferry: {state} (tray size)", small))


if __name__ == "__main__":
    main()
