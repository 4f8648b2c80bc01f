"""What a snapshot holds, read with the caller's rights: the view's visible layers' features in
the map's extent (through the OGC features service, so personal fields go out masked as in any
list), the vehicles' last positions (vehicles:read), the open cases (incidents:read, masked
like the queue) and the view's KPI cards (the domain views' figures). Each part needs its own
right: a part the caller may not see is left out and named in `notes`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.auth.permissions import Permission, Principal, may_see_layer
from backend.catalog.layers import LayerCatalog, LayerSpec
from backend.catalog.strict import Title
from backend.incidents.service import open_cases
from backend.ogc import service as features
from backend.vehicles.service import list_vehicles

OVERVIEW = "overview"
MAX_CASES = 500
BASE_LAYERS = ("county", "townships")  # drawn under everything, as the offline basemap
BBox = tuple[float, float, float, float]


@dataclass
class LayerPart:
    id: str
    title: Title
    geometry: str                      # point | line | polygon
    color: str                         # a #rrggbb from the layer's style, for the legend
    features: list[dict[str, Any]]
    matched: int                       # in the extent; more than len(features) when capped


@dataclass
class Situation:
    view: str
    title: Title
    lang: str
    bbox: BBox
    zoom: float
    created_at: datetime
    user: str
    synthetic: bool
    county: dict[str, Any]             # FeatureCollections of the offline basemap
    townships: dict[str, Any]
    layers: list[LayerPart] = field(default_factory=list)
    vehicles: list[dict[str, Any]] | None = None   # None: not for this caller
    cases: list[dict[str, Any]] | None = None
    cases_total: int = 0
    kpis: list[dict[str, Any]] = field(default_factory=list)     # the view's card specs
    charts: list[dict[str, Any]] = field(default_factory=list)   # and its chart specs
    figures: dict[str, Any] | None = None          # the figures answer (cards' values)
    area: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def feature_count(self) -> int:
        return sum(len(p.features) for p in self.layers)


def _collection(rows: list[sa.Row]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": orjson.loads(r.geojson),
         "properties": {"code": r.code, "name": r.name}} for r in rows]}


def basemap(engine: Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    """The county boundary and the townships, simplified (~10 m): the snapshot's offline
    basemap (no tiles: the file must open without a server)."""
    with engine.connect() as conn:
        county = conn.execute(sa.text(
            "SELECT code, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0001), 6) "
            "AS geojson FROM county")).all()
        towns = conn.execute(sa.text(
            "SELECT code, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0001), 6) "
            "AS geojson FROM townships ORDER BY code")).all()
    return _collection(county), _collection(towns)


def _color(spec: LayerSpec) -> str:
    """The first plain colour of the layer's style (a data-driven expression has none)."""
    for frag in spec.style:
        for key in ("circle-color", "fill-color", "line-color", "fill-extrusion-color"):
            value = (frag.get("paint") or {}).get(key)
            if isinstance(value, str) and value.startswith("#") and len(value) == 7:
                return value
            if isinstance(value, list) and value and isinstance(value[-1], str) \
                    and value[-1].startswith("#") and len(value[-1]) == 7:
                return value[-1]  # a match/case expression's fallback colour
    return "#4fc3f7"


def _labels_only(spec: LayerSpec) -> bool:
    """A layer drawn as text only (township labels): the snapshot's map has no text layer."""
    return bool(spec.style) and all(f.get("type") == "symbol" for f in spec.style)


def visible_layers(catalog: LayerCatalog, principal: Principal, layer_ids: list[str] | None,
                   zoom: float) -> list[LayerSpec]:
    """The feature layers the map shows at `zoom`: the view's layers (a domain view) or the
    catalog's default-visible ones (the overview), those the caller may read, in draw order."""
    collections = {s.id for s in features.feature_layers(catalog)}
    wanted = set(layer_ids) if layer_ids is not None else None
    out = []
    for spec in catalog.layers:
        if spec.id not in collections or spec.id in BASE_LAYERS or _labels_only(spec):
            continue
        if (spec.id not in wanted) if wanted is not None else not spec.visible:
            continue
        if not (spec.minzoom <= zoom + 0.5 and zoom <= spec.maxzoom):
            continue  # what the map leaves out at this zoom (half a level of slack)
        if may_see_layer(principal, spec, Permission.FEATURES_READ):
            out.append(spec)
    return out


def layer_parts(engine: Engine, specs: list[LayerSpec], principal: Principal, bbox: BBox,
                max_features: int, notes: list[str]) -> list[LayerPart]:
    """Each layer's features in the extent, masked for a list, at most `max_features` in all
    (each layer also within its own feature_cap)."""
    parts, left = [], max_features
    for spec in specs:
        if left <= 0:
            notes.append(f"{spec.id}: left out (the snapshot holds at most {max_features} "
                         "features)")
            continue
        page = features.items(engine, spec, bbox=bbox, filters={},
                              limit=min(left, spec.feature_cap, features.MAX_LIMIT), offset=0,
                              principal=principal)
        left -= len(page.features)
        if page.number_matched > len(page.features):
            notes.append(f"{spec.id}: {len(page.features)} of {page.number_matched} features")
        parts.append(LayerPart(spec.id, spec.title, spec.geometry or "point", _color(spec),
                               page.features, page.number_matched))
    return parts


def live_parts(engine: Engine, situation: Situation, principal: Principal, bbox: BBox,
               offline_after_s: float) -> None:
    """The vehicles' last positions and the open cases in the extent, each by its right."""
    with engine.connect() as conn:
        if principal.may(Permission.VEHICLES_READ):
            situation.vehicles = [v for v in list_vehicles(
                conn, now=datetime.now(UTC), offline_after_s=offline_after_s, bbox=bbox)
                if v["lon"] is not None]
        else:
            situation.notes.append("vehicles: not shown (needs vehicles:read)")
        if principal.may(Permission.INCIDENTS_READ):
            page = open_cases(conn, principal, bbox=bbox, limit=MAX_CASES)
            situation.cases = [_case(c) for c in page["incidents"]]
            situation.cases_total = int(page["total"])
        else:
            situation.notes.append("cases: not shown (needs incidents:read)")


CASE_FIELDS = ("id", "case_no", "category_name", "urgency", "state", "address", "lon", "lat",
               "township_name", "department_name", "reported_at", "due_at", "overdue",
               "reporter_name", "reporter_phone")


def _case(case: dict[str, Any]) -> dict[str, Any]:
    """What the file keeps of a case (masked by the queue already): no description text, which
    may name people in free text the policy cannot mask."""
    out = {k: case.get(k) for k in CASE_FIELDS}
    for key in ("reported_at", "due_at"):
        if isinstance(out[key], datetime):
            out[key] = out[key].isoformat(timespec="seconds")
    return out


def overview_cards(situation: Situation) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The overview's cards (it is no domain view): what the snapshot itself counted."""
    specs: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []

    def add(card_id: str, zh: str, en: str, unit: tuple[str, str], value: float) -> None:
        specs.append({"id": card_id, "title": {"zh": zh, "en": en},
                      "unit": {"zh": unit[0], "en": unit[1]}, "decimals": 0,
                      "reference": None})
        cards.append({"id": card_id, "available": True, "value": float(value),
                      "reference": None, "change": None, "change_pct": None,
                      "direction": None, "level": None, "as_of": None, "stale": False,
                      "filtered": True, "reason": None})

    if situation.cases is not None:
        add("open_cases", "视野内在办案件", "Open cases in view", ("件", "cases"),
            situation.cases_total)
        add("overdue_cases", "其中超期", "Of which overdue", ("件", "cases"),
            sum(1 for c in situation.cases if c.get("overdue")))
    if situation.vehicles is not None:
        add("vehicles", "视野内车辆", "Vehicles in view", ("辆", "vehicles"),
            len(situation.vehicles))
        add("vehicles_alarm", "告警车辆", "Vehicles in alarm", ("辆", "vehicles"),
            sum(1 for v in situation.vehicles if v.get("status") == "alarm"))
    for part in situation.layers:
        add(f"layer_{part.id}", part.title.zh, part.title.en, ("个", "features"), part.matched)
    return specs, {"domain": OVERVIEW, "area": None, "cards": cards, "charts": []}
