"""The demo's synthetic content (示意) of the datasets content.yaml declares: rows = the entry's
rows x scale (at least 1), deterministic for a seed, written as one version each through the
version store (arrival 'generator', actor 'demo'), with the defects `plant` asks for at exactly
their shares, so that the quality rules have real things to find.

People carry valid citizen IDs (GB 11643, stdnum.cn.ric: 341324 + birth date + sequence +
check char) and companies valid unified social credit codes (GB 32100, stdnum.cn.uscc). The
two population sources (household_population, temporary_population) are the population
generator's (backend/simulation/population.py: written and loaded into the base first); a
dataset linked to household_population draws its people from the base's persons, one linked
to enterprises from its keys, and their authority fields (一数一源) copy the source's values
except where a conflict is planted.
Places lie inside the county polygon; land parcels tile a rectangle inside it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from backend.catalog.dataset_content import ContentDataset, ContentField, load_content
from backend.datasets.store import Row, VersionOutcome, write_version
from backend.exchange.files import to_ewkb
from backend.simulation.dataset_values import (
    COUNTY_CODE,
    Companies,
    Picker,
    Place,
    bad_id,
    citizen_ids,
    companies,
    days,
    lines_in,
    names,
    place_of,
    plant_geometry,
    planted,
    points_by_roads,
    rectangles_around,
    tessellation,
    uscc_codes,
    wrong_check,
)
from backend.simulation.population import BasePeople, generate_population, people_of

INDUSTRIES = ["农、林、牧、渔业", "制造业", "建筑业", "批发和零售业", "住宿和餐饮业",
              "交通运输、仓储和邮政业", "信息传输、软件和信息技术服务业", "租赁和商务服务业"]
STALE_DAYS = 200
TZ = timezone(timedelta(hours=8))
# Versions written at once: the next dataset is built (Python) while the database loads the
# last (COPY, index, diff in the server): two overlap on a 2-core machine; more only contend.
WRITERS = 2
# Written and loaded by the population generator (backend/simulation/population.py).
POPULATION = ("household_population", "temporary_population")


# -- columns ---------------------------------------------------------------------------------

@dataclass
class Context:
    seed: int
    scale: float
    place: Place
    engine: sa.Engine | None = None   # the base the linked datasets' people come from
    _people: BasePeople | None = None
    _companies: Companies | None = None
    built: dict[str, Any] = field(default_factory=dict)

    def clean(self, entry_id: str, key: str, original: list[str]) -> np.ndarray:
        """Rows of a link target whose key no plant touched (not made invalid, not repeated):
        what linked datasets reference, so that their own plants are the only defects. The
        population's people are clean by construction (population.people_of)."""
        if entry_id in POPULATION:
            return np.arange(len(original), dtype=np.int64)
        if entry_id not in self.built:
            entry = next(d for d in load_content() if d.id == entry_id)
            self.built[entry_id] = build(entry, self)
        final = self.built[entry_id][0][key]
        seen = Counter(final)
        return np.array([i for i, (a, b) in enumerate(zip(final, original, strict=True))
                         if a == b and seen[a] == 1], dtype=np.int64)

    def rows_of(self, entry_id: str) -> int:
        entry = next(d for d in load_content() if d.id == entry_id)
        return max(1, round(entry.rows * self.scale))

    @property
    def people(self) -> BasePeople:
        """The base's registered people (generated and loaded before the linked datasets)."""
        if self._people is None:
            if self.engine is None:
                raise RuntimeError("linked to household_population: the Context needs the "
                                   "engine of a database with the population loaded")
            with self.engine.connect() as conn:
                self._people = people_of(conn)
        return self._people

    @property
    def companies(self) -> Companies:
        if self._companies is None:
            self._companies = companies(self.seed, self.rows_of("enterprises"))
        return self._companies


def _regex_value(name: str, i: int, g: np.random.Generator) -> str | None:
    return {
        "licence_no": lambda: f"JY1{COUNTY_CODE}{i:07d}",
        "station_id": lambda: ["58122", "58123", "58125", "5812A", "58221"][i % 5],
        "month": lambda: f"2025-{i % 12 + 1:02d}",
        "road_code": lambda: f"{'GSX'[i % 3]}{(i * 7) % 1000:03d}",
    }.get(name, lambda: None)()


def _generic(entry: ContentDataset, f: ContentField, n: int, g: np.random.Generator,
             ctx: Context, who: np.ndarray | None, which: np.ndarray | None) -> list[Any]:
    towns = ctx.place.townships
    if f.link == "household_population" or (f.kind == "id_number" and who is not None):
        return [ctx.people.ids[j] for j in who]  # type: ignore[union-attr]
    if f.authority == "household_population.name" or (f.kind == "name" and who is not None):
        return [ctx.people.names[j] for j in who]  # type: ignore[union-attr]
    if f.authority == "household_population.birth_date":
        return [ctx.people.births[j] for j in who]  # type: ignore[union-attr]
    if f.link == "enterprises":
        pick = which if f.name == "uscc" and which is not None else g.integers(
            0, len(ctx.companies.ids), n)
        return [ctx.companies.ids[j] for j in pick]  # type: ignore[union-attr]
    if f.authority == "enterprises.name":
        return [ctx.companies.names[j] for j in which]  # type: ignore[union-attr]
    if f.values:
        return list(g.choice(f.values, n))
    if f.regex and (fixed := _regex_value(f.name, 0, g)) is not None:
        return [fixed if i == 0 else _regex_value(f.name, i, g) for i in range(n)]
    if f.kind == "name":
        return names(g, n)
    if f.kind == "phone":
        return [f"1{p}{x:08d}" for p, x in zip(g.choice(["38", "39", "58", "87", "77"], n),
                                                g.integers(0, 10**8, n), strict=True)]
    if f.kind == "address" or f.name == "address":
        t = g.integers(0, len(towns), n)
        return [f"泗县{towns[k][1]}{x}号" for k, x in zip(t, g.integers(1, 300, n), strict=True)]
    if f.name == "township_code":
        return [towns[k][0] for k in g.integers(0, len(towns), n)]
    if f.name == "village_code":
        return [f"{towns[k][0]}{v:03d}" for k, v in zip(g.integers(0, len(towns), n),
                                                     g.integers(1, 30, n), strict=True)]
    lo, hi = f.range if f.range else (0, 1000)
    top = lo + max(1.0, (hi - lo) * 0.3)
    if f.type == "integer":
        return [int(x) for x in g.integers(int(lo), int(top) + 1, n)]
    if f.type == "number":
        return [round(float(x), 2) for x in g.uniform(lo, top, n)]
    if f.type == "boolean":
        return [bool(x) for x in g.random(n) < 0.2]
    if f.type == "date":
        return [d.isoformat() for d in days(g, n, date(2005, 1, 1), date(2025, 6, 30))]
    if f.type == "datetime":
        base = datetime(2025, 1, 1, tzinfo=TZ)
        return [(base + timedelta(minutes=int(m))).isoformat()
                for m in g.integers(0, 60 * 24 * 300, n)]
    if f.name == entry.key:
        return [f"{entry.id[:3].upper()}{COUNTY_CODE}{i + 1:07d}" for i in range(n)]
    short = entry.title.removesuffix("信息表").removesuffix("信息")
    if f.name == "name":
        return [f"{short}{i + 1}号" for i in range(n)]
    return [f"{f.zh}{i % 50 + 1}" for i in range(n)]


def columns(entry: ContentDataset, n: int, g: np.random.Generator, ctx: Context
            ) -> dict[str, list[Any]]:
    fields = {f.name: f for f in entry.fields}
    if entry.id in POPULATION:
        raise ValueError(f"{entry.id} is written by the population generator "
                         "(backend/simulation/population.py)")
    if entry.id == "gdp_quarterly":
        cells = [(f"{2005 + q // 4}Q{q % 4 + 1}", ind) for q in range(400)
                 for ind in fields["industry"].values or []][:n]
        return {"period_industry": [f"{q}-{i}" for q, i in cells],
                "quarter": [q for q, _ in cells], "industry": [i for _, i in cells],
                "value": [round(float(x), 2) for x in g.uniform(5, 120, n)]}
    persons = any(f.link == "household_population" for f in entry.fields)
    firms = any(f.link == "enterprises" for f in entry.fields)
    who = which = None
    if persons:
        pool = ctx.clean("household_population", "citizen_id", ctx.people.ids)
        who = g.choice(pool, n, replace=n > len(pool))
    if firms:
        pool = ctx.clean("enterprises", "uscc", ctx.companies.ids)
        which = g.choice(pool, n, replace=n > len(pool))
    if entry.id == "enterprises":
        return {f.name: (list(ctx.companies.ids) if f.name == "uscc" else
                         list(ctx.companies.names) if f.name == "name" else
                         list(g.choice(INDUSTRIES, n)) if f.name == "industry" else
                         _generic(entry, f, n, g, ctx, None, None)) for f in entry.fields}
    if entry.id == "social_organisations":
        own = uscc_codes(np.random.default_rng([ctx.seed, 3]), n, "51")
        return {f.name: own if f.name == "uscc" else _generic(entry, f, n, g, ctx, None, None)
                for f in entry.fields}
    return {f.name: _generic(entry, f, n, g, ctx, who, which) for f in entry.fields}


def geometries(entry: ContentDataset, n: int, g: np.random.Generator, place: Place
               ) -> tuple[np.ndarray | None, int]:
    if entry.geometry == "point":
        return shapely.points(points_by_roads(g, place, n)), 0
    if entry.geometry == "line":
        return lines_in(g, place.county, n), 0
    if entry.geometry == "polygon" and entry.coverage:
        return tessellation(place.county, n)
    if entry.geometry == "polygon":
        return rectangles_around(g, place.county, n), 0
    return None, 0


# -- plants ----------------------------------------------------------------------------------

def _id_field(entry: ContentDataset) -> str:
    return next(f.name for f in entry.fields if f.kind == "id_number")


def plant(entry: ContentDataset, cols: dict[str, list[Any]], geoms: np.ndarray | None,
          per_row: int, g: np.random.Generator, ctx: Context | None) -> dict[str, list[int]]:
    """Apply content.yaml's defects in place; returns {defect[:field]: row indices}. The
    ID defects (invalid_citizen_id, impossible_birth_date, unknown_region, sex_mismatch) each
    fail one check of backend.people.idcheck; `ctx` is needed by the geometry plants only."""
    n = len(next(iter(cols.values())))
    pick = Picker(g, n)
    done: dict[str, list[int]] = {}

    def mark(name: str, idx: np.ndarray, change: Callable[[int], None]) -> None:
        for i in idx:
            change(int(i))
        done[name] = [int(i) for i in idx]

    for defect, spec in entry.plant.items():
        shares = spec.items() if isinstance(spec, dict) else [(None, spec)]
        for fname, share in shares:
            k = planted(float(share), n)
            if k == 0:
                continue
            label = defect if fname is None else f"{defect}:{fname}"
            col = cols.get(fname or "") if fname else None
            if defect == "invalid_citizen_id":
                c = cols[_id_field(entry)]
                mark(label, pick.take(k), lambda i, c=c: c.__setitem__(i, wrong_check(c[i])))
            elif defect in ("impossible_birth_date", "unknown_region", "sex_mismatch"):
                mark(label, pick.take(k), lambda i, d=defect: _bad_id(entry, cols, i, d))
            elif defect == "invalid_uscc":
                mark(label, pick.take(k), lambda i, c=col: c.__setitem__(i, wrong_check(c[i])))
            elif defect == "missing":
                mark(label, pick.take(k), lambda i, c=col: c.__setitem__(i, None))
            elif defect == "duplicate_key":
                c = cols[entry.key]
                idx = pick.take(k)
                donors = pick.take(k)
                for i, j in zip(idx, donors, strict=False):
                    c[i] = c[j]
                done[label] = [int(i) for i in idx]
            elif defect == "out_of_range":
                f = entry.field(fname)
                hi = f.range[1] if f.range else 0
                bad = int(hi * 2 + 1) if f.type == "integer" else hi * 2 + 1
                mark(label, pick.take(k), lambda i, c=col, b=bad: c.__setitem__(i, b))
            elif defect == "bad_enum":
                mark(label, pick.take(k), lambda i, c=col: c.__setitem__(i, "未知类别"))
            elif defect == "bad_regex":
                mark(label, pick.take(k), lambda i, c=col: c.__setitem__(i, f"X-{c[i]}"))
            elif defect == "authority_conflict":
                target = next(f for f in entry.fields if f.authority)
                c = cols[target.name]
                mark(label, pick.take(k), lambda i, c=c: c.__setitem__(
                    i, (c[i] + "某") if isinstance(c[i], str) and not c[i][:4].isdigit()
                    else "1900-01-01"))
            elif defect == "orphan_link":
                f = next(f for f in entry.fields if f.link)
                c = cols[f.name]
                fresh = (citizen_ids(days(g, k, date(1900, 1, 1), date(1920, 1, 1)),
                                     np.arange(k) % 999 + 1) if f.link == "household_population"
                         else uscc_codes(g, k, "93"))
                idx = pick.take(k)
                for i, v in zip(idx, fresh, strict=True):
                    c[i] = v
                done[label] = [int(i) for i in idx]
            elif geoms is not None and ctx is not None:
                done[label] = plant_geometry(defect, k, geoms, per_row, pick,
                                             ctx.place.county, g)
            else:
                raise ValueError(f"{entry.id}: no plant {defect!r} for a table without geometry")
    return done


def _bad_id(entry: ContentDataset, cols: dict[str, list[Any]], i: int, defect: str) -> None:
    """One ID check failed, the check character valid: the birth date (the row's too), the
    region, or the sex field flipped against the sequence digit."""
    if defect == "sex_mismatch":
        cols["gender"][i] = "女" if cols["gender"][i] == "男" else "男"
        return
    ids = cols[_id_field(entry)]
    ids[i] = bad_id(ids[i], defect)
    if defect == "impossible_birth_date" and "birth_date" in cols:
        cols["birth_date"][i] = f"{ids[i][6:10]}-02-30"


# -- writing ---------------------------------------------------------------------------------

def _rows(entry: ContentDataset, cols: dict[str, list[Any]], hexes: list[str | None] | None
          ) -> Iterable[Row]:
    names_ = list(cols)
    keys = cols[entry.key]
    for i, values in enumerate(zip(*cols.values(), strict=True)):
        key = keys[i]
        yield Row(None if key is None else str(key), dict(zip(names_, values, strict=True)),
                  hexes[i] if hexes is not None else None)


def build(entry: ContentDataset, ctx: Context) -> tuple[dict[str, list[Any]], np.ndarray | None,
                                                         dict[str, list[int]]]:
    """One dataset's content: (columns, geometries, planted rows by defect)."""
    n = ctx.rows_of(entry.id)
    g = np.random.default_rng([ctx.seed, 100 + [d.id for d in load_content()].index(entry.id)])
    cols = columns(entry, n, g, ctx)
    geoms, per_row = geometries(entry, n, g, ctx.place)
    return cols, geoms, plant(entry, cols, geoms, per_row, g, ctx)


def generate_content(engine: sa.Engine, *, scale: float = 1.0, seed: int = 20201,
                     only: Iterable[str] | None = None) -> dict[str, VersionOutcome]:
    """Write one generated version of each content dataset (or of `only`); the datasets must
    be in the catalog (the catalog sync makes their records)."""
    entries = load_content()
    # the domains' datasets are backend.simulation.domain_data's (issue 14)
    wanted = set(only) if only is not None else {e.id for e in entries
                                                 if e.generator == "content"}
    unknown = wanted - {e.id for e in entries}
    if unknown:
        raise ValueError(f"not content datasets of content.yaml: {', '.join(sorted(unknown))}")
    outcomes: dict[str, VersionOutcome] = {}
    if wanted & set(POPULATION):  # both at once: one population, loaded into the base
        outcomes.update(generate_population(engine, scale=scale, seed=seed).outcomes)
    with engine.connect() as conn:
        ctx = Context(seed, scale, place_of(conn), engine)

    def write(entry: ContentDataset, cols: dict[str, list[Any]], hexes: list[str | None] | None,
              started: float) -> VersionOutcome:
        with engine.begin() as conn:
            outcome = write_version(conn, dataset_id=entry.id, rows=_rows(entry, cols, hexes),
                                    arrival="generator", actor="demo",
                                    source=f"generator seed={seed} scale={scale} (示意)")
            if entry.stale:
                _age(conn, entry.id, outcome.version_id)
        outcome.report["seconds"] = round(time.perf_counter() - started, 2)
        return outcome

    futures: dict[str, Future[VersionOutcome]] = {}
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="content") as pool:
        for entry in entries:
            if entry.id not in wanted or entry.id in POPULATION or entry.generator != "content":
                continue
            started = time.perf_counter()
            cols, geoms, _ = ctx.built.get(entry.id) or build(entry, ctx)
            # linked datasets read only the key column of a target already written
            ctx.built[entry.id] = ({entry.key: cols[entry.key]}, None, {})
            hexes = to_ewkb(geoms) if geoms is not None else None
            futures[entry.id] = pool.submit(write, entry, cols, hexes, started)
    return outcomes | {dataset_id: f.result() for dataset_id, f in futures.items()}


def _age(conn: sa.Connection, dataset_id: str, version_id: int) -> None:
    """A stale dataset: its last version (and the dataset's last update) 200 days old."""
    back = timedelta(days=STALE_DAYS)
    conn.execute(sa.text("UPDATE dataset_versions SET created_at = created_at - :b WHERE id = :v"),
                 {"b": back, "v": version_id})
    conn.execute(sa.text("UPDATE datasets SET last_updated_at = now() - :b WHERE id = :d"),
                 {"b": back, "d": dataset_id})
