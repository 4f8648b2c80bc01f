"""JSON responses serialised with orjson (fast for large GeoJSON pages)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

# Headers for what depends on who asks: it must never sit in a shared cache.
PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class GeoJSONBytes(JSONBytes):
    media_type = "application/geo+json"
