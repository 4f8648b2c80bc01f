"""Thin routes: the layer catalog, vector tiles (single and merged), TileJSON, glyphs."""

from __future__ import annotations

import gzip
import re

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.responses import PRIVATE, JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, requires, visible_layers
from backend.catalog.layers import LayerCatalog
from backend.errors import InvalidInput, NotConfigured
from backend.maps.service import catalog_payload
from tiles.errors import InvalidTile
from tiles.service import Tile

router = APIRouter(route_class=GuardedRoute)
MVT = "application/vnd.mapbox-vector-tile"
RANGE = re.compile(r"^(\d+)-(\d+)$")


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
    mine = LayerCatalog(visible_layers(principal, state.catalog))
    return JSONBytes(catalog_payload(mine, state.engine), headers=PRIVATE)


@router.get("/tiles/{layers}.json", dependencies=[requires(Permission.LAYERS_READ)])
def tilejson(layers: str, request: Request, state: AppState) -> JSONBytes:
    service = state.tiles
    resolved = service.resolve(_ids(layers))
    base = state.base_url(request)
    url = f"{base}/tiles/{','.join(la.id for la in resolved)}/{{z}}/{{x}}/{{y}}.mvt"
    bounds = state.county_bounds()
    tj = resolved[0].tilejson(url, bounds)
    if len(resolved) > 1:
        tj["name"] = ",".join(la.id for la in resolved)
        tj["minzoom"] = min(la.minzoom for la in resolved)
        tj["maxzoom"] = max(la.maxzoom for la in resolved)
        tj["vector_layers"] = [la.vector_layer() for la in resolved]
        tj["description"] = "; ".join(la.description for la in resolved)
        tj.pop("attribution", None)
        attributions = [la.attribution for la in resolved if la.attribution]
        if attributions:
            tj["attribution"] = "; ".join(attributions)
    public = all(state.catalog[la.id].is_public for la in resolved)
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
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(tile.data, media_type=MVT, headers=headers)
    return Response(gzip.decompress(tile.data), media_type=MVT, headers=headers)


@router.get("/tiles/{layers}/{z}/{x}/{y}.mvt", dependencies=[requires(Permission.LAYERS_READ)])
async def tile(layers: str, z: str, x: str, y: str, request: Request, state: AppState) -> Response:
    zi, xi, yi = _int("z", z), _int("x", x), _int("y", y)
    ids, service = _ids(layers), state.tiles
    # Cache hits are answered on the event loop; anything needing the database goes to a thread.
    result = service.peek(ids, zi, xi, yi)
    if result is None:
        result = await run_in_threadpool(
            service.get, ids, zi, xi, yi, request.headers.get("if-none-match")
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
