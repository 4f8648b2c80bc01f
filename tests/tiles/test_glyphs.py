"""Glyph PBFs from the local CJK font: decoded with the protobuf runtime (not our encoder),
checked for content, shape, metrics and caching. No database needed."""

from __future__ import annotations

import math
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import freetype
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from scipy import ndimage

from tiles import glyphs as glyphs_mod
from tiles.glyphs import (
    BUFFER,
    Glyph,
    GlyphRenderer,
    GlyphStore,
    find_cjk_font,
    sc_face_index,
    sdf_from_alpha,
    squared_edt,
)

try:
    FONT = find_cjk_font()
except FileNotFoundError as exc:  # `make test` installs fonts-noto-cjk, so CI never skips
    pytest.skip(f"no CJK font installed: {exc}", allow_module_level=True)

STACK = "Noto Sans CJK SC Regular"
EDGE = 192  # MapLibre draws a glyph where the SDF is >= 192/256 (cutoff 0.25)
ZHONG, LETTER_A = ord("中"), ord("A")


def _glyphs_message_class() -> type[Message]:
    """glyphs.proto (proto2, as MapLibre/fontnik define it), built from a descriptor."""
    f = descriptor_pb2.FieldDescriptorProto
    req, opt, rep = f.LABEL_REQUIRED, f.LABEL_OPTIONAL, f.LABEL_REPEATED
    fdp = descriptor_pb2.FileDescriptorProto(
        name="glyphs_test.proto", package="llmr.glyphs", syntax="proto2"
    )
    specs = {
        "glyph": [
            ("id", 1, f.TYPE_UINT32, req, ""),
            ("bitmap", 2, f.TYPE_BYTES, opt, ""),
            ("width", 3, f.TYPE_UINT32, req, ""),
            ("height", 4, f.TYPE_UINT32, req, ""),
            ("left", 5, f.TYPE_SINT32, req, ""),
            ("top", 6, f.TYPE_SINT32, req, ""),
            ("advance", 7, f.TYPE_UINT32, req, ""),
        ],
        "fontstack": [
            ("name", 1, f.TYPE_STRING, req, ""),
            ("range", 2, f.TYPE_STRING, req, ""),
            ("glyphs", 3, f.TYPE_MESSAGE, rep, ".llmr.glyphs.glyph"),
        ],
        "glyphs": [("stacks", 1, f.TYPE_MESSAGE, rep, ".llmr.glyphs.fontstack")],
    }
    for name, fields in specs.items():
        message = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = message.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


GlyphsMessage = _glyphs_message_class()


def decode(data: bytes) -> Message:
    message = GlyphsMessage()
    message.ParseFromString(data)
    assert message.IsInitialized()  # every `required` field present
    return message


def sdf_of(glyph: Message) -> np.ndarray:
    return np.frombuffer(glyph.bitmap, np.uint8).reshape(
        glyph.height + 2 * BUFFER, glyph.width + 2 * BUFFER
    )


def write_png(path: Path, gray: np.ndarray) -> None:
    """An 8-bit grayscale PNG, by hand (no imaging dependency)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    h, w = gray.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in gray.astype(np.uint8))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    png = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png)


def runs(line: np.ndarray) -> int:
    """Number of separate runs of True in a 1-D boolean array."""
    return int(np.count_nonzero(np.diff(np.concatenate(([0], line.astype(int), [0]))) == 1))


@pytest.fixture(scope="module")
def renderer() -> GlyphRenderer:
    return GlyphRenderer(FONT)


@pytest.fixture(scope="module")
def face(renderer: GlyphRenderer) -> freetype.Face:
    """An independent FreeType face at 24 px (not the renderer's) for reference metrics."""
    face = freetype.Face(str(renderer.font_path), renderer.face_index)
    face.set_char_size(24 * 64)
    return face


@pytest.fixture(scope="module")
def latin(renderer: GlyphRenderer) -> Message:
    return decode(renderer.render_range(STACK, 0))


@pytest.fixture(scope="module")
def cjk(renderer: GlyphRenderer) -> Message:
    return decode(renderer.render_range(STACK, 19968))


def by_id(message: Message) -> dict[int, Any]:
    return {g.id: g for g in message.stacks[0].glyphs}


# --- the protobuf writer -----------------------------------------------------------------------


def test_varint_and_zigzag_known_values() -> None:
    assert glyphs_mod._varint(0) == b"\x00"
    assert glyphs_mod._varint(1) == b"\x01"
    assert glyphs_mod._varint(127) == b"\x7f"
    assert glyphs_mod._varint(128) == b"\x80\x01"
    assert glyphs_mod._varint(300) == b"\xac\x02"  # the protobuf encoding guide's example
    assert glyphs_mod._varint(2**32 - 1) == b"\xff\xff\xff\xff\x0f"
    with pytest.raises(ValueError):
        glyphs_mod._varint(-1)
    zigzag = {0: 0, -1: 1, 1: 2, -2: 3, 2: 4, 2**31 - 1: 2**32 - 2, -(2**31): 2**32 - 1}
    for value, encoded in zigzag.items():
        assert glyphs_mod._zigzag(value) == encoded


def test_glyph_roundtrips_through_protobuf_runtime() -> None:
    bitmap = bytes(range(7 * 8))
    glyph = Glyph(id=0x4E2D, width=1, height=2, left=-3, top=-300, advance=24, bitmap=bitmap)
    pbf = glyphs_mod.wrap_fontstack(
        "Näme, Fallback", 19968, glyphs_mod._bytes_field(3, glyph.encode())
    )
    stack = decode(pbf).stacks[0]
    assert (stack.name, stack.range) == ("Näme, Fallback", "19968-20223")
    (g,) = stack.glyphs
    assert (g.id, g.width, g.height, g.left, g.top, g.advance) == (0x4E2D, 1, 2, -3, -300, 24)
    assert g.bitmap == bitmap


# --- content of real ranges ----------------------------------------------------------------------


def test_stack_name_range_and_ids(renderer: GlyphRenderer, latin: Message, cjk: Message) -> None:
    for message, start in ((latin, 0), (cjk, 19968)):
        assert len(message.stacks) == 1
        stack = message.stacks[0]
        assert stack.name == STACK
        assert stack.range == f"{start}-{start + 255}"
        # The font's own charmap (walked independently of the renderer) decides the ids
        face = freetype.Face(str(renderer.font_path), renderer.face_index)
        expected = [c for c, gid in face.get_chars() if gid and start <= c < start + 256]
        assert [g.id for g in stack.glyphs] == sorted(expected)
    assert LETTER_A in by_id(latin) and ZHONG in by_id(cjk)
    assert len(cjk.stacks[0].glyphs) == 256  # CJK Unified Ideographs: every codepoint drawn


def test_bitmaps_sizes_and_advances(latin: Message, cjk: Message) -> None:
    for message in (latin, cjk):
        for g in message.stacks[0].glyphs:
            if g.HasField("bitmap"):
                assert len(g.bitmap) == (g.width + 6) * (g.height + 6)
                assert g.width > 0 and g.height > 0
            else:
                assert g.width == 0 and g.height == 0
            assert g.advance > 0  # no combining marks in these two ranges
    for g in cjk.stacks[0].glyphs:
        assert g.advance == 24  # ideographs are one em wide
    space = by_id(latin)[ord(" ")]
    assert not space.HasField("bitmap") and space.advance > 0


def test_sdf_has_inside_and_outside(cjk: Message) -> None:
    sdf = sdf_of(by_id(cjk)[ZHONG])
    assert (sdf > EDGE).sum() > 30 and (sdf < EDGE).sum() > 100
    assert sdf[0].max() < EDGE and sdf[-1].max() < EDGE  # the buffer is outside the glyph
    assert sdf[:, 0].max() < EDGE and sdf[:, -1].max() < EDGE


def test_shapes_render_plausibly(tmp_path: Path, latin: Message, cjk: Message) -> None:
    zhong = sdf_of(by_id(cjk)[ZHONG]) >= EDGE
    a = sdf_of(by_id(latin)[LETTER_A]) >= EDGE
    for name, mask in (("zhong", zhong), ("A", a)):
        big = np.kron(mask.astype(np.uint8) * 255, np.ones((8, 8), np.uint8))
        write_png(tmp_path / f"{name}.png", big)
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")

    # 中: one vertical stroke through the middle, top to bottom of the glyph box
    h, w = zhong.shape
    column_fill = zhong[BUFFER : h - BUFFER].mean(axis=0)
    centre = int(np.argmax(column_fill))
    assert abs(centre - w / 2) <= 2 and column_fill[centre] > 0.9
    # ...crossed by the box: its middle rows are filled on both sides of the stroke
    middle_rows = zhong[h // 2 - 4 : h // 2 + 2]
    assert middle_rows[:, : centre - 1].any() and middle_rows[:, centre + 2 :].any()
    assert max(runs(row) for row in zhong) >= 3  # box sides and the stroke

    # A: a single apex on top, two separate legs at the bottom
    ink_rows = np.flatnonzero(a.any(axis=1))
    assert runs(a[ink_rows[0]]) == 1 and runs(a[ink_rows[-1]]) == 2
    apex_col = np.flatnonzero(a[ink_rows[0]]).mean()
    assert abs(apex_col - a.shape[1] / 2) <= 2


def test_metrics_follow_fontnik_convention(
    renderer: GlyphRenderer, face: freetype.Face, latin: Message, cjk: Message
) -> None:
    """left/top place the bitmap so that its ink sits on the outline's true position.

    fontnik: left = box left from the pen origin, top = box top - ascender, where ascender is
    FreeType's 24 px size metric (hhea ascender scaled and rounded up to whole px) // 64.
    """
    expected_ascender = math.ceil(face.ascender * 24 / face.units_per_EM)
    assert renderer.ascender == expected_ascender
    if "Noto Sans CJK" in (face.family_name or b"").decode():
        assert renderer.ascender == 28  # 1160/1000 em * 24 px = 27.84, rounded up

    glyphs = by_id(latin) | by_id(cjk)
    for char in "AgHé中丹":
        g = glyphs[ord(char)]
        face.load_char(char, freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP)
        box = face.glyph.outline.get_bbox()  # exact outline extent, 26.6 px, y up
        x_min, x_max, y_min, y_max = (v / 64 for v in (box.xMin, box.xMax, box.yMin, box.yMax))
        assert g.advance == round(face.glyph.metrics.horiAdvance / 64)
        ink = sdf_of(g) >= EDGE
        rows, cols = np.nonzero(ink)
        # pixel centres in pen coordinates (x right, y up from the baseline)
        xs = g.left - BUFFER + cols + 0.5
        ys = (g.top + renderer.ascender) + BUFFER - rows - 0.5
        assert x_min - 0.5 <= xs.min() <= x_min + 1.5, char
        assert x_max - 1.5 <= xs.max() <= x_max + 0.5, char
        assert y_min - 0.5 <= ys.min() <= y_min + 1.5, char
        assert y_max - 1.5 <= ys.max() <= y_max + 0.5, char
    # Glyphs sit on the baseline; descenders go below it; ideographs fill the em box
    assert glyphs[LETTER_A].top + renderer.ascender == glyphs[LETTER_A].height
    assert glyphs[ord("g")].height > glyphs[ord("g")].top + renderer.ascender
    assert -10 <= glyphs[ZHONG].top <= -5 and glyphs[ZHONG].height >= 20


# --- the distance transform ----------------------------------------------------------------------


def test_squared_edt_matches_scipy_on_binary_seeds() -> None:
    rng = np.random.default_rng(7)
    for shape in ((17, 23), (40, 9), (1, 12)):
        seeds = rng.random(shape) < 0.08
        seeds[0, 0] = True
        cost = np.where(seeds, 0.0, np.inf)
        expected = ndimage.distance_transform_edt(~seeds) ** 2
        np.testing.assert_allclose(squared_edt(cost), expected)


def test_sdf_subpixel_edge_and_slope() -> None:
    """A vertical edge: the SDF crosses ~191 at the edge and falls 255/8 per pixel outside."""
    alpha = np.zeros((10, 12))
    alpha[:, :5] = 1.0
    alpha[:, 5] = 0.5  # the edge passes through the centre of column 5
    sdf = sdf_from_alpha(alpha)[BUFFER + 5].astype(int)
    col = BUFFER + 5
    assert sdf[col] == round(255 * 0.75)
    assert sdf[col - 1] > sdf[col] > sdf[col + 1]
    assert sdf[col] - sdf[col + 2] == pytest.approx(2 * 255 / 8, abs=1)
    alpha[:, 5] = 0.25  # the edge moves a quarter pixel left: the centre is now outside
    assert sdf_from_alpha(alpha)[BUFFER + 5, col] == round(255 - 255 * (0.25 / 8 + 0.25))


# --- store: cache, validation, threads ---------------------------------------------------------


def test_store_caches_on_disk(tmp_path: Path) -> None:
    store = GlyphStore(FONT, tmp_path)
    first = store.get(STACK, 19968)
    assert store.renderer.ranges_rendered == 1
    path = store.path_for(19968)
    assert path.is_file() and path.stat().st_size > 0
    assert store.get(STACK, 19968) == first
    assert store.renderer.ranges_rendered == 1
    # Another stack name is answered from the same file, under its own name
    other = decode(store.get("Open Sans Regular,Arial Unicode MS Regular", 19968))
    assert other.stacks[0].name == "Open Sans Regular,Arial Unicode MS Regular"
    assert store.renderer.ranges_rendered == 1
    # A new store (a restart) reads the disk cache instead of rendering
    again = GlyphStore(FONT, tmp_path)
    assert again.get(STACK, 19968) == first
    assert again.renderer.ranges_rendered == 0
    assert not list(path.parent.glob("*.tmp"))


def test_store_warm_and_threads(tmp_path: Path) -> None:
    store = GlyphStore(FONT, tmp_path)
    store.warm(STACK, [0, 256])
    assert store.renderer.ranges_rendered == 2
    assert store.path_for(0).is_file() and store.path_for(256).is_file()

    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def fetch() -> None:
        barrier.wait()
        results.append(store.get(STACK, 20224))

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert store.renderer.ranges_rendered == 3  # rendered once for eight concurrent requests


@pytest.mark.parametrize("start", [1, 255, 257, -256, 65536, 70000, 256.0, True, "0", None])
def test_invalid_start_rejected(tmp_path: Path, start: object) -> None:
    store = GlyphStore(FONT, tmp_path)
    with pytest.raises(ValueError, match="multiple of 256"):
        store.get(STACK, start)  # type: ignore[arg-type]
    assert store.renderer.ranges_rendered == 0


def test_empty_fontstack_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Fontstack"):
        GlyphStore(FONT, tmp_path).get("", 0)


def test_find_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_cjk_font(tmp_path / "missing.ttc") == FONT  # falls back to the usual places
    custom = tmp_path / "custom.ttf"
    custom.write_bytes(b"")
    assert find_cjk_font(custom) == custom
    monkeypatch.setattr(glyphs_mod, "FONT_CANDIDATES", (str(tmp_path / "none.ttc"),))
    with pytest.raises(FileNotFoundError, match="fonts-noto-cjk"):
        find_cjk_font()


def test_collection_picks_simplified_chinese_face() -> None:
    index = sc_face_index(FONT)
    family = (freetype.Face(str(FONT), index).family_name or b"").decode()
    if freetype.Face(str(FONT), 0).num_faces > 1 and "Noto Sans CJK" in family:
        assert family == "Noto Sans CJK SC"
