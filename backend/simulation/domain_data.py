"""The demo content (示意/synthetic) of the 19 datasets content.yaml marks `generator: domains`:
the eight key domains, the weather and the duty roster. Deterministic for a seed and a clock
(`now`), coherent (the figures agree with each other: relocation counts are the households by
stage, units total >= presold >= sold >= registered, transfers within a village's land...),
real Sixian names where known (scenarios/sixian/domains_data/, with PROVENANCE.md).

Each dataset is written as a file (GeoJSON with geometry, else CSV, UTF-8) into a folder and
loaded through the upload path (backend.exchange.service.upload_file, what `cityops ingest FILE
--dataset ID` and the upload route do), so the files are also examples a department could
upload. The load calls nothing else: migration 0022's NOTIFY tells a running server."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
import sqlalchemy as sa

from backend.catalog.dataset_content import ContentDataset, load_content
from backend.simulation import domain_build, domain_gov, domain_life, domain_rural
from backend.simulation.domain_places import TZ, Context, Table, towns_of

DEFAULT_SEED = 20214
ACTOR = "demo"
# One builder per dataset, in load order (a dataset after those it refers to).
BUILDERS: dict[str, Callable[[Context], Table]] = {
    "service_halls": domain_gov.service_halls,
    "service_cases": domain_gov.service_cases,
    "state_assets": domain_gov.state_assets,
    "housing_projects": domain_build.housing_projects,
    "housing_buildings": domain_build.housing_buildings,
    "relocation_households": domain_build.relocation_households,
    "relocation_projects": domain_build.relocation_projects,
    "key_projects": domain_build.key_projects,
    "scenic_spots": domain_life.scenic_spots,
    "visitor_flow": domain_life.visitor_flow,
    "cultural_events": domain_life.cultural_events,
    "food_markets": domain_life.food_markets,
    "food_rapid_tests": domain_life.food_rapid_tests,
    "staple_prices": domain_life.staple_prices,
    "village_land_rights": domain_rural.village_land_rights,
    "land_transfers": domain_rural.land_transfers,
    "weather_conditions": domain_rural.weather_conditions,
    "weather_warnings": domain_rural.weather_warnings,
    "duty_roster": domain_rural.duty_roster,
}


def domain_entries() -> list[ContentDataset]:
    """content.yaml's `generator: domains` entries, in BUILDERS' order."""
    entries = {e.id: e for e in load_content() if e.generator == "domains"}
    if set(entries) != set(BUILDERS):
        raise RuntimeError(f"content.yaml's domain datasets {sorted(entries)} and the "
                           f"generator's {sorted(BUILDERS)} differ")
    return [entries[i] for i in BUILDERS]


def _build(ctx: Context, dataset_id: str) -> Table:
    return BUILDERS[dataset_id](ctx)


def generate(conn: sa.Connection, *, seed: int = DEFAULT_SEED, now: datetime | None = None,
             scale: float = 1.0, only: Iterable[str] | None = None) -> dict[str, Table]:
    """The tables of the chosen datasets (all 19 by default), for the county loaded in the
    database `conn` reads (townships, grid cells)."""
    wanted = list(BUILDERS) if only is None else list(only)
    unknown = sorted(set(wanted) - set(BUILDERS))
    if unknown:
        raise ValueError(f"not a domain dataset: {', '.join(unknown)} (they are: "
                         f"{', '.join(BUILDERS)})")
    ctx = Context(towns=towns_of(conn), seed=seed, now=(now or datetime.now(TZ)).astimezone(TZ),
                  scale=scale, build=_build, sizes={e.id: e.rows for e in domain_entries()})
    return {d: ctx.table(d) for d in BUILDERS if d in wanted}


# -- files -------------------------------------------------------------------------------------

def file_bytes(entry: ContentDataset, table: Table) -> tuple[str, bytes]:
    """(file name, content): GeoJSON for a dataset with geometry, CSV for a table; the fields
    in content.yaml's order, by their names."""
    names = [f.name for f in entry.fields]
    if entry.geometry:
        features = [{"type": "Feature", "properties": {k: row[k] for k in names},
                     "geometry": orjson.loads(shapely.to_geojson(geom))}
                    for row, geom in zip(table.rows, table.geoms or [], strict=True)]
        return f"{entry.id}.geojson", orjson.dumps(
            {"type": "FeatureCollection", "name": entry.id, "features": features})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in table.rows:
        writer.writerow(["" if row[k] is None else _cell(row[k]) for k in names])
    return f"{entry.id}.csv", out.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_files(tables: dict[str, Table], folder: Path) -> dict[str, Path]:
    """The files of the tables with rows (a file without rows is no version: an empty table,
    such as a day without weather warnings, leaves the dataset's last version, whose rows carry
    their own end: a warning's expires_at)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {e.id: e for e in domain_entries()}
    paths = {}
    for dataset_id, table in tables.items():
        if not table.rows:
            continue
        name, body = file_bytes(entries[dataset_id], table)
        path = folder / name
        path.write_bytes(body)
        paths[dataset_id] = path
    return paths


# -- load --------------------------------------------------------------------------------------

@dataclass
class DomainLoad:
    """What a generation loaded: per dataset (rows, version id, status, rejected rows)."""

    folder: Path
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(v["rows"] for v in self.loaded.values())

    def line(self) -> str:
        counts = ", ".join(f"{k} {v['rows']:,}" for k, v in self.loaded.items())
        return (f"domain datasets (示意/synthetic): {len(self.loaded)} loaded, {self.rows:,} "
                f"rows in {sum(self.seconds.values()):.1f} s ({counts}); files in {self.folder}")


def load_files(engine: sa.Engine, paths: dict[str, Path], *, actor: str = ACTOR,
               report: DomainLoad) -> DomainLoad:
    """Each file as a new version of its dataset through the upload path."""
    from backend.exchange.service import upload_file

    for dataset_id, path in paths.items():
        started = time.perf_counter()
        outcome = upload_file(engine, dataset_id=dataset_id, path=path, filename=path.name,
                              actor=actor, check=False)
        report.seconds[dataset_id] = round(time.perf_counter() - started, 2)
        report.loaded[dataset_id] = {"rows": outcome.rows_total, "version": outcome.version_id,
                                     "status": outcome.status,
                                     "rejected": outcome.rows_rejected}
    return report


def generate_domains(engine: sa.Engine, folder: Path, *, seed: int = DEFAULT_SEED,
                     now: datetime | None = None, scale: float = 1.0,
                     only: Iterable[str] | None = None) -> DomainLoad:
    """Generate, write and load the chosen domain datasets (all 19 by default)."""
    started = time.perf_counter()
    with engine.connect() as conn:
        tables = generate(conn, seed=seed, now=now, scale=scale, only=only)
    report = DomainLoad(folder)
    report.seconds["generate"] = round(time.perf_counter() - started, 2)
    load_files(engine, write_files(tables, folder), report=report)
    for dataset_id in tables:
        report.loaded.setdefault(dataset_id, {"rows": 0, "version": None, "status": "empty",
                                              "rejected": 0})
    report.loaded = {d: report.loaded[d] for d in tables}  # BUILDERS' order
    return report


def missing_domains(engine: sa.Engine, *, recorded: bool = False) -> list[str]:
    """The domain datasets with a catalog record and no current version yet (`recorded`: all
    those with a catalog record)."""
    with engine.connect() as conn:
        have = set(conn.execute(sa.text(
            "SELECT id FROM datasets WHERE id = ANY(:ids) AND (:all OR current_version_id IS "
            "NULL)"), {"ids": list(BUILDERS), "all": recorded}).scalars())
    return [d for d in BUILDERS if d in have]
