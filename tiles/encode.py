"""Encoders for raster tiles: image formats (PNG, JPEG, WebP) and the two terrain encodings.

Pure functions over numpy arrays, no I/O: the sources read pixels, these turn them into bytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Lossy quality of JPEG and WebP tiles decoded and re-encoded from a COG (the ingest writes its
# WebP blocks at the same quality, so a passthrough tile and a decoded one look alike).
QUALITY = 85
# zlib level of PNG tiles: 6 costs 2-5x the time of 1 for ~5 % smaller imagery tiles (terrain:
# ~40 %); tiles are cached after the first render, so the first request's latency matters more.
PNG_LEVEL = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# WebP effort (0-6): 4 is libwebp's default; on 256 px tiles 0 encodes ~4x faster than 4 for
# files within ~5 % of its size (most WebP tiles are stored blocks served as they are anyway).
WEBP_METHOD = 0

# Terrain-RGB (Mapbox): h = -10000 + (R * 65536 + G * 256 + B) * 0.1
MAPBOX_BASE, MAPBOX_STEP = -10000.0, 0.1
# Terrarium (Mapzen): h = R * 256 + G + B / 256 - 32768
TERRARIUM_OFFSET, TERRARIUM_STEP = 32768.0, 1.0 / 256.0
TERRAIN_ENCODINGS = ("mapbox", "terrarium")
MAX_24BIT = (1 << 24) - 1


def encode_image(
    data: NDArray[np.uint8], valid: NDArray[np.bool_] | None, fmt: str
) -> bytes:
    """`data` (bands, rows, cols) uint8 with 1 (grey) or 3 (RGB) bands; `valid` False where
    there is no data (transparent in PNG and WebP; JPEG has no alpha and shows the fill)."""
    bands = data.shape[0]
    if bands not in (1, 3):
        raise ValueError(f"an image tile needs 1 or 3 bands, got {bands}")
    pixels = np.ascontiguousarray(np.moveaxis(data, 0, -1) if bands == 3 else data[0])
    alpha = valid is not None and fmt != "jpg" and not bool(valid.all())
    if alpha:
        assert valid is not None
        a = valid.astype(np.uint8) * 255
        pixels = np.dstack([pixels, a] if bands == 3 else [pixels, pixels, pixels, a])
    if fmt == "png":
        return encode_png(pixels if pixels.ndim == 3 else pixels[..., None])
    image = Image.fromarray(pixels)
    out = io.BytesIO()
    if fmt == "jpg":
        image.save(out, "JPEG", quality=QUALITY)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=QUALITY, method=WEBP_METHOD)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return out.getvalue()


def encode_rgb_lossless(rgb: NDArray[np.uint8], fmt: str) -> bytes:
    """(rows, cols, 3) uint8 as PNG or lossless WebP (terrain: every bit of every pixel counts)."""
    if fmt == "png":
        return encode_png(rgb)
    image = Image.fromarray(np.ascontiguousarray(rgb))
    out = io.BytesIO()
    if fmt == "webp":
        # Lossless WebP: method 0-6 trades time for size only (the pixels are exact either way).
        image.save(out, "WEBP", lossless=True, quality=0, method=0)
    else:
        raise ValueError(f"terrain tiles are png or webp, not {fmt!r}")
    return out.getvalue()


def encode_png(pixels: NDArray[np.uint8]) -> bytes:
    """(rows, cols, 1 | 3 | 4) uint8 as an 8-bit grey, RGB or RGBA PNG. Every row uses the
    "Sub" filter (each byte minus the same channel of the pixel before), computed in one numpy
    operation: about twice as fast as Pillow's per-row adaptive choice at the same size."""
    rows, cols, channels = pixels.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    flat = np.ascontiguousarray(pixels).reshape(rows, cols * channels)
    filtered = np.empty((rows, cols * channels + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub
    filtered[:, 1:channels + 1] = flat[:, :channels]
    np.subtract(flat[:, channels:], flat[:, :-channels], out=filtered[:, channels + 1:])
    header = struct.pack(">IIBBBBB", cols, rows, 8, colour_type, 0, 0, 0)
    return b"".join((PNG_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(filtered.tobytes(), PNG_LEVEL)),
                     _chunk(b"IEND", b"")))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _split24(value: NDArray[np.int64]) -> NDArray[np.uint8]:
    value = np.clip(value, 0, MAX_24BIT)
    rgb = np.empty((*value.shape, 3), dtype=np.uint8)
    rgb[..., 0] = value >> 16
    rgb[..., 1] = (value >> 8) & 0xFF
    rgb[..., 2] = value & 0xFF
    return rgb


def _join24(rgb: NDArray[np.uint8]) -> NDArray[np.int64]:
    c = rgb.astype(np.int64)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


def encode_terrain(heights: NDArray[np.floating], encoding: str) -> NDArray[np.uint8]:
    """Heights in metres (NaN = no data, encoded as 0 m: sea level) to (rows, cols, 3) RGB.
    Each height is rounded to the nearest step, so it decodes within half a step."""
    h = np.where(np.isfinite(heights), heights, 0.0).astype(np.float64)
    if encoding == "mapbox":
        return _split24(np.rint((h - MAPBOX_BASE) / MAPBOX_STEP).astype(np.int64))
    if encoding == "terrarium":
        return _split24(np.rint((h + TERRARIUM_OFFSET) / TERRARIUM_STEP).astype(np.int64))
    raise ValueError(f"unknown terrain encoding {encoding!r}; known: {TERRAIN_ENCODINGS}")


def decode_terrain(rgb: NDArray[np.uint8], encoding: str) -> NDArray[np.float64]:
    """The inverse of encode_terrain, as a map client computes it."""
    c = rgb.astype(np.float64)
    if encoding == "mapbox":
        return MAPBOX_BASE + _join24(rgb) * MAPBOX_STEP
    if encoding == "terrarium":
        return c[..., 0] * 256.0 + c[..., 1] + c[..., 2] / 256.0 - TERRARIUM_OFFSET
    raise ValueError(f"unknown terrain encoding {encoding!r}; known: {TERRAIN_ENCODINGS}")


def terrain_step(encoding: str) -> float:
    return MAPBOX_STEP if encoding == "mapbox" else TERRARIUM_STEP
