"""Thin routes: the layer catalog, tiles of every kind (vector single and merged, imagery,
terrain), TileJSON, glyphs."""

from __future__ import annotations

import gzip
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.responses import PRIVATE, JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, requires, visible_layers
from backend.errors import InvalidInput, NotConfigured
from backend.maps.service import catalog_payload
from tiles.errors import InvalidTile
from tiles.service import Tile
from tiles.source import MEDIA_TYPES

router = APIRouter(route_class=GuardedRoute)
RANGE = re.compile(r"^(\d+)-(\d+)$")
TILE_NAME = re.compile(r"^(\d{1,8})\.([a-z]{2,5})$")


def _ids(layers: str) -> list[str]:
    return [part.strip() for part in layers.split(",") if part.strip()]


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidTile(f"{name} must be an integer, got {value!r}") from None


@router.get("/api/layers", dependencies=[requires(Permission.LAYERS_READ)])
def list_layers(state: AppState, principal: Caller) -> JSONBytes:
    """The layers the caller may see (the public ones when not logged in)."""
    mine = state.catalog.subset(visible_layers(principal, state.catalog))
    return JSONBytes(catalog_payload(mine, state.engine, state.tiles), headers=PRIVATE)


@router.get("/tiles/{layers}.json", dependencies=[requires(Permission.LAYERS_READ)])
def tilejson(layers: str, request: Request, state: AppState) -> JSONBytes:
    source = state.tiles.resolve(_ids(layers))
    fmt = source.formats[0] if source.formats else ""
    url = f"{state.base_url(request)}/tiles/{source.id}/{{z}}/{{x}}/{{y}}.{fmt}"
    tj = source.tilejson(url, state.county_bounds())
    public = all(state.catalog[i].is_public for i in source.id.split(","))
    return JSONBytes(tj, headers=None if public else PRIVATE)


def _tile_response(tile: Tile, request: Request, max_age: int, public: bool) -> Response:
    headers = {
        "ETag": tile.etag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age={max_age}",
        "Vary": "Accept-Encoding" if public else "Accept-Encoding, Authorization, Cookie",
    }
    if request.headers.get("if-none-match") == tile.etag:
        return Response(status_code=304, headers=headers)
    if tile.data is None:
        return Response(status_code=204, headers=headers)
    if not tile.gzipped:
        return Response(tile.data, media_type=tile.media_type, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(tile.data, media_type=tile.media_type, headers=headers)
    return Response(gzip.decompress(tile.data), media_type=tile.media_type, headers=headers)


def _tile_name(name: str) -> tuple[int, str]:
    m = TILE_NAME.match(name)
    if m is None or m.group(2) not in MEDIA_TYPES:
        raise InvalidTile(f"Tile name {name!r} is invalid: expected Y.FORMAT with FORMAT one of "
                          f"{', '.join(MEDIA_TYPES)}, e.g. 6512.mvt or 6512.png")
    return int(m.group(1)), m.group(2)


@router.get("/tiles/{layers}/{z}/{x}/{tile_name}", dependencies=[requires(Permission.LAYERS_READ)])
async def tile(
    layers: str, z: str, x: str, tile_name: str, request: Request, state: AppState,
    encoding: Annotated[str | None, Query(max_length=16, description=(
        "Terrain layers: mapbox (terrain-RGB, the default) or terrarium"))] = None,
) -> Response:
    """A tile in the format its extension names: .mvt for vector layers (several may be
    merged: a,b,c), .png/.jpg/.webp for imagery, .png/.webp for terrain (?encoding=)."""
    zi, xi = _int("z", z), _int("x", x)
    yi, fmt = _tile_name(tile_name)
    ids, service = _ids(layers), state.tiles
    # Cache hits are answered on the event loop; anything needing a render goes to a thread.
    result = service.peek(ids, zi, xi, yi, fmt, encoding)
    if result is None:
        result = await run_in_threadpool(
            service.get, ids, zi, xi, yi, fmt, encoding, request.headers.get("if-none-match")
        )
    public = all(s.is_public for i in ids if (s := state.catalog.get(i)) is not None)
    return _tile_response(result, request, state.settings.tile_max_age_s, public)


@router.get("/glyphs/{fontstack}/{glyph_range}.pbf", dependencies=[requires(Permission.PUBLIC)])
def glyphs(fontstack: str, glyph_range: str, state: AppState) -> Response:
    m = RANGE.match(glyph_range)
    if not m or int(m.group(2)) != int(m.group(1)) + 255 or int(m.group(1)) % 256:
        raise InvalidInput(
            f"Glyph range {glyph_range!r} is invalid: expected START-END with START a multiple "
            "of 256 and END = START + 255, e.g. 0-255 or 19968-20223"
        )
    store = state.glyphs
    if store is None:
        raise NotConfigured(
            "No CJK font is installed for map labels: apt-get install fonts-noto-cjk"
        )
    data = store.get(fontstack.split(",")[0].strip(), int(m.group(1)))
    return Response(
        data,
        media_type="application/x-protobuf",
        headers={"Cache-Control": "public, max-age=86400"},
    )
