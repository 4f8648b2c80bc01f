"""The demo's three rasters, rendered from the loaded county into var/demo-rasters/:

    ortho         1 m RGB of the county seat's built-up area
    ortho_county  10 m RGB of the whole county
    dem           30 m elevation of the whole county

A manifest beside them records what they were made from (renderer version, seed, relief
parameters, a digest of the rows drawn) and each file's SHA-256, so that a second
`cityops demo` on unchanged data renders nothing."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa
from rasterio.features import rasterize
from scipy import ndimage
from sqlalchemy.dialects.postgresql import BIT

from backend.basemap.models import Building, County, Parcel, Road
from backend.county import imagery, relief
from backend.county.frame import Frame
from backend.county.recipe import Recipe, load_recipe

RENDER_VERSION = 2  # bump when the drawing changes, so that old files are re-rendered
MANIFEST = "manifest.json"
ORTHO_RES_M = 1.0
COUNTY_RES_M = 10.0
URBAN_USES = ("0701", "05", "06", "08", "0810")
CITY_SEARCH_M = 12_000.0  # the built-up area is looked for this far around the seat
CITY_CELL_M = 50.0
CITY_PAD_M = 150.0


@dataclass(frozen=True)
class Rendered:
    layer_id: str
    kind: str  # "cog" or "dem", the catalog kind the file is ingested as
    path: Path
    sha256: str
    seconds: float  # 0 when the file was up to date


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def city_bounds(engine: sa.Engine, frame: Frame, *, source: str | None = None
                ) -> tuple[float, float, float, float]:
    """The bounding box (metric) of the built-up area around the seat: urban land-use
    parcels on a 50 m grid, the connected patch nearest the seat, padded a little."""
    x, y = frame.origin
    r = CITY_SEARCH_M
    table = Parcel.__table__
    box = sa.func.ST_Transform(sa.func.ST_MakeEnvelope(x - r, y - r, x + r, y + r,
                                                       frame.metric_epsg), 4326)
    query = sa.select(sa.func.ST_AsBinary(sa.func.ST_Transform(
        table.c.geom, frame.metric_epsg))).where(
        table.c.land_use.in_(URBAN_USES), table.c.geom.op("&&")(box))
    if source is not None:
        query = query.where(table.c.source == source)
    with engine.connect() as conn:
        rows = conn.execute(query).scalars().all()
    if not rows:
        raise LookupError("no built-up parcels near the county seat: load the demo county first")
    geoms = shapely.from_wkb([bytes(w) for w in rows])
    transform, width, height = imagery.grid_for((x - r, y - r, x + r, y + r), CITY_CELL_M)
    urban = rasterize(geoms, out_shape=(height, width), transform=transform, dtype="uint8",
                      all_touched=True)
    labels, _ = ndimage.label(ndimage.binary_closing(urban, iterations=2))
    rr, cc = np.nonzero(labels)
    seat_r, seat_c = (transform.f - y) / CITY_CELL_M, (x - transform.c) / CITY_CELL_M
    nearest = labels[rr, cc][np.argmin(np.hypot(rr - seat_r, cc - seat_c))]
    pr, pc = np.nonzero(labels == nearest)
    x0, y1 = transform @ (int(pc.min()), int(pr.min()))
    x1, y0 = transform @ (int(pc.max()) + 1, int(pr.max()) + 1)
    return x0 - CITY_PAD_M, y0 - CITY_PAD_M, x1 + CITY_PAD_M, y1 + CITY_PAD_M


# What the drawing reads from each table, besides the geometry.
DRAWN = {County: (), Parcel: ("land_use",), Road: ("road_class",),
         Building: ("use", "floors", "height")}


def data_digest(engine: sa.Engine, source: str) -> dict[str, list[str]]:
    """Per table: the row count and an order-free sum of per-row hashes of what the drawing
    reads (geometry and attributes) — the same county gives the same digest however often it
    is reloaded, a different scale or seed does not (about 0.5 s at full scale)."""
    out = {}
    with engine.connect() as conn:
        for model, cols in DRAWN.items():
            table = model.__table__
            payload = sa.func.ST_AsBinary(table.c.geom)
            for c in cols:
                payload = payload.op("||")(sa.func.convert_to(
                    sa.func.coalesce(sa.cast(table.c[c], sa.Text), ""), "UTF8"))
            word = sa.literal("x").op("||")(sa.func.substr(sa.func.md5(payload), 1, 15))
            row = conn.execute(sa.select(
                sa.func.count(), sa.func.sum(sa.cast(sa.cast(word, BIT(60)), sa.BigInteger))
            ).where(table.c.source == source)).one()
            out[table.name] = [str(row[0]), str(row[1])]
    return out


def inputs_key(recipe: Recipe, params: relief.Relief, data: dict[str, list[str]]) -> str:
    """What the rasters are made from, as one digest."""
    blob = json.dumps({"render": RENDER_VERSION, "seed": recipe.seed, "source": recipe.source,
                       "relief": params.model_dump(mode="json"), "data": data},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def render_demo_rasters(engine: sa.Engine, out_dir: Path, *, recipe: Recipe | None = None,
                        params: relief.Relief | None = None,
                        layers: tuple[str, ...] = ("ortho", "ortho_county", "dem"),
                        log: Callable[[str], None] = print) -> list[Rendered]:
    """Render the demo rasters that are missing or stale (see the module's docstring)."""
    recipe = recipe or load_recipe()
    params = params or relief.load_relief()
    source, seed, epsg = recipe.source, recipe.seed, recipe.frame.metric_epsg
    seat = recipe.county.seat
    frame = Frame.at_seat(seat.lon, seat.lat, epsg, recipe.frame.rotation_deg)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    manifest = read_manifest(manifest_path)
    key = inputs_key(recipe, params, data_digest(engine, source))
    county: list[shapely.Geometry] = []  # read once, when first needed

    def county_shape() -> shapely.Geometry:
        if not county:
            county.append(relief.read_county(engine, epsg=epsg, source=source))
        return county[0]

    def ortho(path: Path) -> None:
        bounds = city_bounds(engine, frame, source=source)
        scene = imagery.read_scene(engine, bounds, epsg=epsg, source=source)
        imagery.render_ortho(scene, path, bounds, res=ORTHO_RES_M, seed=seed)

    def ortho_county(path: Path) -> None:
        bounds = tuple(shapely.bounds(county_shape()))
        scene = imagery.read_scene(engine, bounds, epsg=epsg, source=source)  # type: ignore[arg-type]
        imagery.render_ortho(scene, path, bounds, res=COUNTY_RES_M, seed=seed,  # type: ignore[arg-type]
                             clip=county_shape())

    def dem(path: Path) -> None:
        shape = county_shape()
        water = relief.read_water(engine, tuple(shapely.bounds(shape)),  # type: ignore[arg-type]
                                  epsg=epsg, source=source)
        relief.render_dem(params, frame, shape, water, path, seed=seed, epsg=epsg)

    jobs = {"ortho": ("cog", ortho), "ortho_county": ("cog", ortho_county), "dem": ("dem", dem)}
    done = []
    for layer in layers:
        kind, job = jobs[layer]
        path = out_dir / f"{layer}.tif"
        entry = manifest.get(layer, {})
        if entry.get("inputs") == key and path.exists() and sha256_file(path) == entry.get(
                "sha256"):
            done.append(Rendered(layer, kind, path, entry["sha256"], 0.0))
            continue
        t0 = time.perf_counter()
        job(path)
        seconds = time.perf_counter() - t0
        manifest[layer] = {"inputs": key, "sha256": sha256_file(path)}
        write_manifest(manifest_path, manifest)
        done.append(Rendered(layer, kind, path, manifest[layer]["sha256"], seconds))
        log(f"  {layer:<13} {path.stat().st_size / 1e6:7.1f} MB  rendered in {seconds:.1f} s")
    return done
