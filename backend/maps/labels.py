"""Map label glyphs: the store built from the installed CJK font, and the ranges labels need
(pre-rendered by `cityops demo` so that the first page view is fast)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.catalog.layers import LayerCatalog
from backend.db.models import Base
from backend.settings import Settings

if TYPE_CHECKING:
    from tiles.glyphs import GlyphStore

log = logging.getLogger("cityops")

DEFAULT_FONTSTACK = "Noto Sans CJK SC Regular"


def _label_fields(style: list[dict[str, Any]]) -> set[str]:
    """Fields named by `["get", field]` in the text-field of symbol fragments."""
    fields: set[str] = set()
    for fragment in style:
        text = fragment.get("layout", {}).get("text-field")
        if isinstance(text, list) and len(text) == 2 and text[0] == "get":
            fields.add(str(text[1]))
    return fields


def label_ranges(engine: Engine, catalog: LayerCatalog) -> set[int]:
    """Start codepoints of the 256-glyph ranges used by label text, plus Latin."""
    starts = {0}
    with engine.connect() as conn:
        for spec in catalog.layers:
            table = Base.metadata.tables.get(getattr(spec.source, "table", ""))
            for field in _label_fields(spec.style):
                if table is None or field not in table.c:
                    continue
                column = table.c[field]
                for (text,) in conn.execute(
                    sa.select(column).distinct().where(column.is_not(None))
                ):
                    starts.update(ord(ch) & ~0xFF for ch in str(text))
    return starts


def glyph_store(settings: Settings) -> GlyphStore | None:
    from tiles.glyphs import GlyphStore, find_cjk_font

    try:
        font = find_cjk_font(settings.font_file)
    except FileNotFoundError as exc:
        log.warning("Map labels disabled: %s", exc)
        return None
    return GlyphStore(font, settings.var_dir / "glyphs")
