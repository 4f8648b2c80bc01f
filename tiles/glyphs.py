"""Offline glyph PBFs (the Mapbox/MapLibre SDF glyph format) rendered from a local CJK font.

Intranet deployments cannot fetch glyphs, so ranges of 256 codepoints are rendered here with
FreeType and cached on disk. Conventions follow node-fontnik (24 px, 3 px buffer, `top` relative
to the ascender) and the SDF follows TinySDF (radius 8, cutoff 0.25, sub-pixel seeds from the
anti-aliased coverage), which is what MapLibre's shaders and glyph atlas expect.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import freetype
import numpy as np

FONT_SIZE = 24  # px; MapLibre scales every glyph PBF as 24 px glyphs
BUFFER = 3  # px of SDF around the glyph box (MapLibre's GLYPH_PBF_BORDER)
RADIUS = 8.0  # px of distance spread over the byte range
CUTOFF = 0.25  # the edge maps to 255 * (1 - CUTOFF) ~ 191, the shaders' 192/256
MAX_GLYPH_PX = 128  # larger boxes (broken fonts) get no bitmap: brute-force EDT is O(n^3)
CACHE_FORMAT = 1  # bump when the output changes, so old cache files are not served

SC_FAMILY = "Noto Sans CJK SC"
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora, Arch
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
)


def find_cjk_font(preferred: Path | None = None) -> Path:
    """The preferred font if it exists, else the first CJK font found in the usual places."""
    for candidate in ([preferred] if preferred else []) + [Path(p) for p in FONT_CANDIDATES]:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "No CJK font found (looked in " + ", ".join(FONT_CANDIDATES) + "). "
        "Install one: `apt-get install fonts-noto-cjk`, or pass the font file explicitly."
    )


def sc_face_index(font_path: Path) -> int:
    """In a collection (.ttc), the Simplified Chinese face: the others draw JP/KR/TC forms."""
    count = freetype.Face(str(font_path), 0).num_faces
    for index in range(count):
        family = freetype.Face(str(font_path), index).family_name or b""
        if family.decode("utf-8", "replace") == SC_FAMILY:
            return index
    return 0


def check_range_start(start: int) -> None:
    if (
        isinstance(start, bool)
        or not isinstance(start, int)
        or start % 256
        or not 0 <= start <= 65280
    ):
        raise ValueError(
            f"Glyph range start must be a multiple of 256 between 0 and 65280, got {start!r}"
        )


# --- protobuf: just the two wire types glyphs.proto needs -------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varint must be non-negative (zigzag-encode sint32 first)")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _uint_field(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)  # wire type 0


def _bytes_field(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data  # wire type 2


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    id: int
    width: int  # of the glyph box, without the buffer
    height: int
    left: int  # pen origin to box left, px
    top: int  # box top relative to the ascender line (fontnik's convention), px; usually < 0
    advance: int
    bitmap: bytes  # (width + 2*BUFFER) * (height + 2*BUFFER) SDF bytes, row-major; b"" if empty

    def encode(self) -> bytes:
        return b"".join(
            (
                _uint_field(1, self.id),
                _bytes_field(2, self.bitmap) if self.bitmap else b"",
                _uint_field(3, self.width),
                _uint_field(4, self.height),
                _uint_field(5, _zigzag(self.left)),
                _uint_field(6, _zigzag(self.top)),
                _uint_field(7, self.advance),
            )
        )


def _min_plus(cost: np.ndarray, axis: int) -> np.ndarray:
    """out[i] = min_k cost[k] + (i - k)^2 along one axis, by brute force (glyph boxes are small)."""
    moved = np.moveaxis(cost, axis, -1)
    k = np.arange(moved.shape[-1])
    sq = ((k[:, None] - k[None, :]) ** 2).astype(np.float64)
    return np.moveaxis((moved[..., None, :] + sq).min(axis=-1), -1, axis)


def squared_edt(cost: np.ndarray) -> np.ndarray:
    """Exact squared Euclidean distance transform with seed costs over the two last axes:
    min over q of |p - q|^2 + cost[q] (the separable transform TinySDF computes with
    Felzenszwalb-Huttenlocher). The seed costs carry the sub-pixel edge; scipy's
    distance_transform_edt only takes binary seeds (with 0/inf costs the two agree, tested)."""
    return _min_plus(_min_plus(cost, -1), -2)


def sdf_from_alpha(alpha: np.ndarray) -> np.ndarray:
    """TinySDF on a coverage bitmap in [0, 1]: returns the buffered uint8 SDF (edge ~191)."""
    a = np.pad(alpha.astype(np.float64), BUFFER)
    edge = 0.5 - a  # signed distance of a partly covered pixel's centre to the edge, px
    outer = np.where(a == 0, np.inf, np.where(edge > 0, edge * edge, 0.0))
    inner = np.where(a == 1, np.inf, np.where(edge < 0, edge * edge, 0.0))
    dist = squared_edt(np.stack((outer, inner)))
    d = np.sqrt(dist[0]) - np.sqrt(dist[1])  # > 0 outside, < 0 inside
    return np.clip(np.round(255 - 255 * (d / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)


class GlyphRenderer:
    """Renders 256-codepoint ranges of one font face into glyph PBF bytes."""

    LOAD_FLAGS = freetype.FT_LOAD_RENDER | freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP

    def __init__(self, font_path: Path, face_index: int | None = None) -> None:
        self.font_path = Path(font_path)
        self.face_index = sc_face_index(self.font_path) if face_index is None else face_index
        self._face = freetype.Face(str(self.font_path), self.face_index)
        self._face.set_char_size(FONT_SIZE * 64)
        # fontnik: size metrics (FreeType rounds the scaled ascender up to whole px) / 64
        self.ascender = self._face.size.ascender // 64
        self._lock = threading.Lock()  # an FT_Face must not be used by two threads at once
        self.ranges_rendered = 0

    def glyph(self, codepoint: int) -> Glyph | None:
        """One glyph, or None when the font has no glyph for the codepoint."""
        with self._lock:
            index = self._face.get_char_index(codepoint)
            if not index:
                return None
            self._face.load_glyph(index, self.LOAD_FLAGS)
            slot = self._face.glyph
            bmp = slot.bitmap
            # Unhinted advance in 26.6; rounded (fontnik truncates, which tightens Latin text)
            advance = max(0, round(slot.metrics.horiAdvance / 64))
            left, top = slot.bitmap_left, slot.bitmap_top - self.ascender
            width, height, pitch, mode = bmp.width, bmp.rows, bmp.pitch, bmp.pixel_mode
            raw = bytes(bmp.buffer) if width and height else b""
        if not raw:
            return Glyph(codepoint, 0, 0, left, top, advance, b"")
        if mode != freetype.FT_PIXEL_MODE_GRAY:
            raise ValueError(f"FreeType gave pixel mode {mode} for U+{codepoint:04X}, not gray")
        rows = np.frombuffer(raw, np.uint8).reshape(height, abs(pitch))[:, :width]
        if pitch < 0:  # bottom-up bitmap
            rows = rows[::-1]
        if not rows.any() or max(width, height) > MAX_GLYPH_PX:
            return Glyph(codepoint, 0, 0, left, top, advance, b"")
        sdf = sdf_from_alpha(rows / 255.0)
        return Glyph(codepoint, width, height, left, top, advance, sdf.tobytes())

    def render_glyphs(self, start: int) -> bytes:
        """The encoded `glyphs` fields (field 3 of `fontstack`) of a range, independent of the
        stack name so one rendering serves every fontstack."""
        check_range_start(start)
        parts = []
        for codepoint in range(start, start + 256):
            glyph = self.glyph(codepoint)
            if glyph is not None:
                parts.append(_bytes_field(3, glyph.encode()))
        with self._lock:
            self.ranges_rendered += 1
        return b"".join(parts)

    def render_range(self, fontstack: str, start: int) -> bytes:
        return wrap_fontstack(fontstack, start, self.render_glyphs(start))


def wrap_fontstack(fontstack: str, start: int, glyph_fields: bytes) -> bytes:
    """glyphs { stacks { name, range, glyphs... } } around pre-encoded glyph fields."""
    if not fontstack:
        raise ValueError("Fontstack name must not be empty")
    stack = b"".join(
        (
            _bytes_field(1, fontstack.encode("utf-8")),
            _bytes_field(2, f"{start}-{start + 255}".encode()),
            glyph_fields,
        )
    )
    return _bytes_field(1, stack)


class GlyphStore:
    """Glyph PBFs on demand, rendered once per range and cached on disk.

    Every fontstack is answered from the one CJK font, named as asked (MapLibre requests the
    stack named in the style). The cache holds stack-independent glyph fields, so arbitrary
    stack names in requests cannot multiply renders or disk use.
    """

    def __init__(self, font_path: Path, cache_dir: Path, face_index: int | None = None) -> None:
        self.renderer = GlyphRenderer(font_path, face_index)
        stat = self.renderer.font_path.stat()
        # Keyed by font identity and output format: a font upgrade must not serve stale glyphs
        key = f"{self.renderer.font_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
        key += f"{self.renderer.face_index}|{CACHE_FORMAT}"
        stem = re.sub(r"[^A-Za-z0-9]+", "-", self.renderer.font_path.stem)
        digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
        self.cache_dir = Path(cache_dir) / f"{stem}-{self.renderer.face_index}-{digest}"
        self._lock = threading.Lock()  # renders are serialised anyway (one FT_Face)

    def path_for(self, start: int) -> Path:
        check_range_start(start)
        return self.cache_dir / f"{start}-{start + 255}.glyphs"

    def _glyph_fields(self, start: int) -> bytes:
        path = self.path_for(start)
        try:
            return path.read_bytes()  # fast path, no lock: files only appear whole (rename)
        except FileNotFoundError:
            pass
        with self._lock:
            if path.exists():  # another thread rendered it while we waited
                return path.read_bytes()
            data = self.renderer.render_glyphs(start)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())  # never a renamed-but-empty file after a crash
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return data

    def get(self, fontstack: str, start: int) -> bytes:
        """The glyph PBF for codepoints start..start+255, named `fontstack`."""
        check_range_start(start)
        return wrap_fontstack(fontstack, start, self._glyph_fields(start))

    def warm(self, fontstack: str, starts: Iterable[int]) -> None:
        """Pre-render ranges (a build step), e.g. warm(stack, range(0, 65536, 256))."""
        for start in starts:
            self.get(fontstack, start)
