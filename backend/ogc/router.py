"""OGC API - Features routes: landing page, conformance, collections, items, one item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from backend.api.deps import AppState
from backend.api.responses import PRIVATE, GeoJSONBytes, JSONBytes
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, requires, visible_layers
from backend.errors import InvalidInput
from backend.ogc import service
from backend.ogc.service import CRS84, DEFAULT_LIMIT

router = APIRouter(route_class=GuardedRoute, prefix="/ogc", tags=["OGC API - Features"])
JSON = "application/json"
GEOJSON = "application/geo+json"
RESERVED = {"f", "bbox", "bbox-crs", "limit", "offset", "crs"}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


def _check_format(f: str | None) -> None:
    if f not in (None, "json", "geojson", "application/json", "application/geo+json"):
        raise InvalidInput(f"Format f={f!r} is not offered; use f=json (GeoJSON)")


def _link(href: str, rel: str, type_: str = JSON, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


@router.get("", dependencies=[requires(Permission.PUBLIC)], include_in_schema=False)
@router.get("/", dependencies=[requires(Permission.PUBLIC)])
def landing(request: Request, state: AppState, f: str | None = None) -> JSONBytes:
    _check_format(f)
    base = state.base_url(request) + "/ogc"
    return JSONBytes(
        {
            "title": "泗县城市综合运行管理平台 · Sixian City Operations: features",
            "description": "OGC API - Features of the county's map layers (GeoJSON, CRS84)",
            "links": [
                _link(f"{base}/", "self", title="This document"),
                _link(
                    f"{state.base_url(request)}/openapi.json",
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.0",
                    "The API definition",
                ),
                _link(f"{base}/conformance", "conformance", title="Conformance classes"),
                _link(f"{base}/collections", "data", title="Collections"),
            ],
        }
    )


@router.get("/conformance", dependencies=[requires(Permission.PUBLIC)])
def conformance(f: str | None = None) -> JSONBytes:
    _check_format(f)
    return JSONBytes({"conformsTo": CONFORMANCE})


def _collection_doc(base: str, spec: Any, bbox: list[float] | None) -> dict[str, Any]:
    href = f"{base}/collections/{spec.id}"
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": f"{spec.title.zh} {spec.title.en}",
        "description": spec.description.en if spec.description else spec.title.en,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(href, "self"),
            _link(f"{href}/items", "items", GEOJSON, "Features"),
        ],
    }
    if bbox:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return doc


@router.get("/collections", dependencies=[requires(Permission.FEATURES_READ)])
def collections(
    request: Request, state: AppState, principal: Caller, f: str | None = None
) -> JSONBytes:
    """The collections the caller may read (the public ones when not logged in)."""
    _check_format(f)
    base = state.base_url(request) + "/ogc"
    bounds = state.county_bounds()
    mine = visible_layers(principal, state.catalog, Permission.FEATURES_READ)
    return JSONBytes(
        {
            "links": [_link(f"{base}/collections", "self")],
            "collections": [_collection_doc(base, spec, bounds) for spec in mine
                            if spec.is_collection],
        },
        headers=PRIVATE,
    )


@router.get("/collections/{collection_id}", dependencies=[requires(Permission.FEATURES_READ)])
def collection(
    collection_id: str, request: Request, state: AppState, f: str | None = None
) -> JSONBytes:
    _check_format(f)
    spec = service.collection(state.catalog, collection_id)
    base = state.base_url(request) + "/ogc"
    return JSONBytes(_collection_doc(base, spec, service.extent(state.engine, spec)))


@router.get("/collections/{collection_id}/items", dependencies=[requires(Permission.FEATURES_READ)])
def items(
    collection_id: str,
    request: Request,
    state: AppState,
    principal: Caller,
    bbox: str | None = None,
    limit: int = Query(DEFAULT_LIMIT),
    offset: int = Query(0),
    f: str | None = None,
) -> GeoJSONBytes:
    _check_format(f)
    spec = service.collection(state.catalog, collection_id)
    params = request.query_params
    crs = params.get("bbox-crs") or params.get("crs")
    if crs not in (None, CRS84):
        raise InvalidInput(f"Only {CRS84} is offered for bbox-crs and crs, got {crs!r}")
    filters = {k: v for k, v in params.items() if k not in RESERVED}
    page = service.items(
        state.engine,
        spec,
        bbox=service.parse_bbox(bbox),
        filters=filters,
        limit=limit,
        offset=offset,
        principal=principal,
    )
    href = f"{state.base_url(request)}/ogc/collections/{spec.id}/items"
    query = {k: v for k, v in params.items() if k not in ("offset",)}
    links = [_link(f"{href}?{urlencode({**query, 'offset': offset})}", "self", GEOJSON)]
    if offset + len(page.features) < page.number_matched:
        nxt = urlencode({**query, "limit": limit, "offset": offset + limit})
        links.append(_link(f"{href}?{nxt}", "next", GEOJSON, "Next page"))
    if offset > 0:
        prev = urlencode({**query, "limit": limit, "offset": max(0, offset - limit)})
        links.append(_link(f"{href}?{prev}", "prev", GEOJSON, "Previous page"))
    return GeoJSONBytes(
        {
            "type": "FeatureCollection",
            "features": page.features,
            "numberMatched": page.number_matched,
            "numberReturned": len(page.features),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "links": links,
        }
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    dependencies=[requires(Permission.FEATURES_READ)],
)
def item(
    collection_id: str, feature_id: str, request: Request, state: AppState, principal: Caller,
    f: str | None = None,
) -> GeoJSONBytes:
    _check_format(f)
    spec = service.collection(state.catalog, collection_id)
    feature = service.item(state.engine, spec, feature_id, principal)
    href = f"{state.base_url(request)}/ogc/collections/{spec.id}"
    feature["links"] = [
        _link(f"{href}/items/{feature_id}", "self", GEOJSON),
        _link(href, "collection"),
    ]
    return GeoJSONBytes(feature)
