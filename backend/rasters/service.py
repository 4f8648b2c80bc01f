"""Register and look up the file a raster layer serves (no web framework here)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from backend.audit.chain import append
from tiles.raster import CogSource, RasterFile
from tiles.terrain import DemSource

log = logging.getLogger("cityops.rasters")

VERSION_PREFIX = "raster:"
BUMP = sa.text("""
INSERT INTO layer_versions (table_name, version, changed_at) VALUES (:key, 1, now())
ON CONFLICT (table_name) DO UPDATE SET version = layer_versions.version + 1, changed_at = now()
RETURNING version""")
UPSERT = sa.text("""
INSERT INTO raster_files (layer_id, kind, path, sha256, bytes, width, height, bands, dtype,
  nodata, source_name, source_crs, bounds, minzoom, maxzoom, report, loaded_by)
VALUES (:layer_id, :kind, :path, :sha256, :bytes, :width, :height, :bands, :dtype, :nodata,
  :source_name, :source_crs, ST_MakeEnvelope(:west, :south, :east, :north, 4326), :minzoom,
  :maxzoom, CAST(:report AS jsonb), :loaded_by)
ON CONFLICT (layer_id) DO UPDATE SET kind = EXCLUDED.kind, path = EXCLUDED.path,
  sha256 = EXCLUDED.sha256, bytes = EXCLUDED.bytes, width = EXCLUDED.width,
  height = EXCLUDED.height, bands = EXCLUDED.bands, dtype = EXCLUDED.dtype,
  nodata = EXCLUDED.nodata, source_name = EXCLUDED.source_name,
  source_crs = EXCLUDED.source_crs, bounds = EXCLUDED.bounds, minzoom = EXCLUDED.minzoom,
  maxzoom = EXCLUDED.maxzoom, report = EXCLUDED.report, loaded_at = now(),
  loaded_by = EXCLUDED.loaded_by""")
SELECT = sa.text("""
SELECT path, sha256, ST_XMin(bounds) AS west, ST_YMin(bounds) AS south, ST_XMax(bounds) AS east,
  ST_YMax(bounds) AS north, minzoom, maxzoom, bands, dtype, nodata
FROM raster_files WHERE layer_id = :layer_id""")


def version_key(layer_id: str) -> str:
    return f"{VERSION_PREFIX}{layer_id}"


@dataclass(frozen=True)
class Registration:
    """What an ingest registers for a layer: the file written under raster_dir and its facts."""

    layer_id: str
    kind: str
    path: Path
    sha256: str
    bytes: int
    width: int
    height: int
    bands: int
    dtype: str
    nodata: float | None
    source_name: str
    source_crs: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    minzoom: int
    maxzoom: int
    report: dict[str, Any]


def register(engine: sa.Engine, reg: Registration, *, actor: str | None) -> tuple[int, str | None]:
    """Point the layer at its new file, bump `raster:<layer id>` and audit the load, in one
    transaction. Returns the new data version and the file the layer served before (None when
    it had none)."""
    w, s, e, n = reg.bounds
    with engine.begin() as conn:
        previous = conn.execute(sa.text(
            "SELECT path FROM raster_files WHERE layer_id = :l FOR UPDATE"),
            {"l": reg.layer_id}).scalar()
        conn.execute(UPSERT, {
            "layer_id": reg.layer_id, "kind": reg.kind, "path": str(reg.path),
            "sha256": reg.sha256, "bytes": reg.bytes, "width": reg.width, "height": reg.height,
            "bands": reg.bands, "dtype": reg.dtype, "nodata": reg.nodata,
            "source_name": reg.source_name, "source_crs": reg.source_crs,
            "west": w, "south": s, "east": e, "north": n, "minzoom": reg.minzoom,
            "maxzoom": reg.maxzoom, "report": orjson.dumps(reg.report).decode(),
            "loaded_by": actor or "system"})
        version = int(conn.execute(BUMP, {"key": version_key(reg.layer_id)}).scalar_one())
        append(conn, actor, "data.load", reg.layer_id, reg.source_name, {
            "file": reg.source_name, "kind": reg.kind, "sha256": reg.sha256,
            "bytes": reg.bytes, "source_crs": reg.source_crs, "replaced": previous})
    return version, previous


def lookup(engine: sa.Engine, layer_id: str) -> RasterFile | None:
    """The file the layer serves now, or None when nothing is registered (or the registered
    file is gone from disk: logged, and the layer answers no tiles until it is loaded again)."""
    with engine.connect() as conn:
        row = conn.execute(SELECT, {"layer_id": layer_id}).one_or_none()
    if row is None:
        return None
    path = Path(row.path)
    if not path.is_file():
        log.error("raster file of layer %s is missing: %s (load it again with cityops ingest)",
                  layer_id, path)
        return None
    return RasterFile(path=path, sha256=row.sha256,
                      bounds=(row.west, row.south, row.east, row.north),
                      minzoom=row.minzoom, maxzoom=row.maxzoom, bands=row.bands,
                      dtype=row.dtype, nodata=row.nodata)


class Locator:
    """`locate` for a raster source: lookup() remembered for `ttl_s` seconds, so a tile does
    not ask the database (an ingest by another process is seen within ttl_s, like the data
    versions of tiles.cache.DataVersions)."""

    def __init__(self, engine: sa.Engine, layer_id: str, ttl_s: float = 1.0) -> None:
        self.engine = engine
        self.layer_id = layer_id
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._file: RasterFile | None = None
        self._read_at = -float("inf")

    def __call__(self) -> RasterFile | None:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self.ttl_s:
                self._file = lookup(self.engine, self.layer_id)
                self._read_at = now
            return self._file


def raster_source(
    engine: sa.Engine, *, layer_id: str, kind: str, minzoom: int, maxzoom: int,
    formats: tuple[str, ...], encodings: tuple[str, ...] = (), ttl_s: float = 1.0,
) -> CogSource | DemSource:
    """The tile source of a raster layer, serving whatever file is registered for it."""
    locate = Locator(engine, layer_id, ttl_s)
    if kind == "dem":
        return DemSource(layer_id, minzoom, maxzoom, locate, formats=formats,
                         **({"encodings": encodings} if encodings else {}))
    return CogSource(layer_id, minzoom, maxzoom, locate, formats=formats)
