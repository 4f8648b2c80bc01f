"""Draws the phone page's home-screen icons (frontend/public/icons/report-*.png): the brand
blue with a white map pin, as the page's favicon. Pillow only, nothing downloaded. Run with
the project's venv: python frontend/scripts/gen_icons.py"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "public" / "icons"
BRAND = (11, 61, 98)
SCALE = 4  # drawn large, scaled down: smooth edges without an anti-aliasing library


def icon(size: int, maskable: bool) -> Image.Image:
    big = size * SCALE
    clear = (0, 0, 0, 0)
    image = Image.new("RGB" if maskable else "RGBA", (big, big), BRAND if maskable else clear)
    draw = ImageDraw.Draw(image)
    if not maskable:  # rounded square; a maskable icon is cut by the launcher itself
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BRAND)
    # The pin fits the central 60 % (the maskable safe zone is the central 80 % circle).
    r = big * 0.17
    cx, cy = big / 2, big * 0.42
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill="white")
    tip = [(cx - r * 0.87, cy + r * 0.5), (cx + r * 0.87, cy + r * 0.5), (cx, big * 0.78)]
    draw.polygon(tip, fill="white")
    hole = r * 0.4
    draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=BRAND)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size, maskable=False).save(OUT / f"report-{size}.png", optimize=True)
    icon(512, maskable=True).save(OUT / "report-maskable-512.png", optimize=True)
    icon(180, maskable=True).save(OUT / "report-apple-180.png", optimize=True)


if __name__ == "__main__":
    main()
