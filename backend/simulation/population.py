"""The demo population of Sixian (示意/synthetic): 763,310 current residents (7th census, 2020;
/work/shared/data/sixian_facts.md), deterministic for a seed, as the two source datasets of the
base, 户籍人口信息 (household_population) and 暂住人口信息 (temporary_population).

Per-township shares: no cited per-township population source exists in the project's data
(/work/shared/data), so households go to the demo county's residential buildings (use 住宅) in
proportion to their capacity (floors x footprint); a township's share is its buildings' share.
Households of 1-6 (户主/配偶/子女/父母/孙子女; ~1 % collective), ages from a rural-Anhui-like
pyramid (many elderly, fewer 20-40s: the head's age is drawn older, children follow the head),
almost all 汉族 (0.4 % 回族), phones (a minor: the head's), valid IDs (341324, or 342225 for
births before 1998 when Sixian was in 宿县地区; about 5 % born outside the county with other
GB/T 2260 codes).
About 5 % of the current residents are registered elsewhere (暂住); 3 % + 1 % extra registered
people are 人户分离/迁出 (moved) or 死亡 (deceased), so that current = 763,310 x scale.
The planted defects (~0.2 %) are content.yaml's `plant` for the two datasets, applied by
backend.simulation.dataset_content.plant (one defect per row, each at exactly its share): bad
check character, impossible birth date, unknown region, sex mismatch, duplicate ID (the
quarantine's demo), and missing phones (a quality finding; minors carry the household head's
phone, so the missing ones are exactly the plant)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import sqlalchemy as sa

from backend.people.idcheck import regions
from backend.simulation.dataset_values import GIVEN, OLD_COUNTY_CODE, RENUMBERED, SURNAMES

CENSUS_2020 = 763_310
COUNTY = "341324"
TODAY = date(2025, 11, 1)
SIZES = np.array([1, 2, 3, 4, 5, 6])
SIZE_P = np.array([0.18, 0.30, 0.22, 0.16, 0.09, 0.05])
RELATION_AT = np.array(["户主", "配偶", "子女", "子女", "父母", "孙子女"])
ELSEWHERE, MOVED, DECEASED, OUTSIDE_BORN = 0.05, 0.03, 0.01, 0.05
CHECK = np.array(list("10X98765432"))
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


@dataclass
class Homes:
    """The residential buildings in grid cells: id, capacity, floors, township, community."""

    ids: np.ndarray
    capacity: np.ndarray
    floors: np.ndarray
    towns: np.ndarray
    communities: np.ndarray


def _numbers(homes: Homes) -> np.ndarray:
    """Each building's number within its community (1, 2, ... in id order): 三湾社区12号楼."""
    order = np.lexsort((homes.ids, homes.communities))
    sorted_comm = homes.communities[order]
    first = np.r_[True, sorted_comm[1:] != sorted_comm[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = np.arange(len(order)) - start + 1
    return numbers


def homes_of(conn: sa.Connection) -> Homes:
    rows = conn.execute(sa.text("""
SELECT b.id, b.floors * ST_Area(b.geom::geography) AS cap, b.floors, g.township_code,
       coalesce(g.community, g.township_name, '') AS community
FROM buildings b CROSS JOIN LATERAL ST_PointOnSurface(b.geom) pt
JOIN LATERAL (SELECT township_code, township_name, community FROM grid_cells c
              WHERE ST_Intersects(c.geom, pt) ORDER BY grid_code LIMIT 1) g ON true
WHERE b.use = '住宅' ORDER BY b.id""")).all()
    if not rows:
        raise RuntimeError("no residential buildings in grid cells: load the county first")
    cols = list(zip(*rows, strict=True))
    return Homes(np.array(cols[0]), np.array(cols[1], dtype=float), np.array(cols[2]),
                 np.array(cols[3]), np.array(cols[4]))


def citizen_ids(regions_: np.ndarray, births: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Unique valid IDs: the sequence ranks people of one region and birth date, odd for men."""
    ymd = births.astype("datetime64[D]").astype(str)
    key = np.char.add(regions_, np.char.replace(ymd, "-", ""))
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1]
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    seq = (rank * 2 + np.where(male, 1, 2)) % 1000
    body = np.char.add(key, np.char.zfill(seq.astype(str), 3))
    digits = body.astype("U17").view(np.uint32).reshape(len(body), 17).astype(np.int64) - 48
    return np.char.add(body, CHECK[(digits @ WEIGHTS) % 11])


def generate(seed: int, scale: float, homes: Homes) -> dict[str, dict[str, list[Any]]]:
    """{dataset id: columns} of household_population and temporary_population, clean."""
    g = np.random.default_rng([seed, 13])
    current = max(1, round(CENSUS_2020 * scale))
    extra = round(current * (MOVED + DECEASED))
    want = current + extra
    sizes = g.choice(SIZES, size=int(want / 2.7) + 16, p=SIZE_P)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), want)) + 1]
    sizes[-1] -= int(sizes.sum() - want)
    sizes = sizes[sizes > 0]
    nh = len(sizes)
    hh = np.repeat(np.arange(nh), sizes)
    pos = np.arange(len(hh)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n = len(hh)
    heads = np.repeat(np.cumsum(sizes) - sizes, sizes)  # each person's household head
    building = g.choice(len(homes.ids), size=nh, p=homes.capacity / homes.capacity.sum())
    elsewhere_h = g.random(nh) < ELSEWHERE
    collective = g.random(nh) < 0.01
    # ages: heads older (rural pyramid), spouses near them, children ~27 years younger
    head_age = np.clip(np.where(sizes == 1, g.normal(66, 12, nh), g.normal(52, 14, nh)), 18, 98)
    offset = np.select([pos == 1, (pos == 2) | (pos == 3), pos == 4, pos == 5],
                       [g.normal(-2, 3, n), g.normal(-27, 5, n), g.normal(26, 3, n),
                        g.normal(-52, 5, n)], 0.0)
    age = np.clip(head_age[hh] + offset, 0, 100)
    births = np.datetime64(TODAY.isoformat()) - (age * 365.25).astype(np.int64) - g.integers(
        0, 365, n)
    head_male = g.random(nh) < 0.7
    male = np.where(pos == 0, head_male[hh], np.where(pos == 1, ~head_male[hh],
                                                      g.random(n) < 0.51))
    # statuses: extra registered people (not heads, not 暂住) moved away or deceased
    status = np.full(n, "正常", dtype="U4")
    eligible = np.flatnonzero((pos > 0) & ~elsewhere_h[hh])
    gone = g.choice(eligible, size=min(extra, len(eligible)), replace=False)
    status[gone] = np.where(g.random(len(gone)) < MOVED / (MOVED + DECEASED),
                            np.where(g.random(len(gone)) < 0.7, "人户分离", "迁出"), "死亡")
    others = np.array(sorted(c for c in regions() if c[4:] != "00" and c[:4] != "3413"
                             and any(r.last_year is None for r in regions()[c])))
    home_code = np.where(births.astype("datetime64[Y]").astype(int) + 1970 >= RENUMBERED,
                         COUNTY, OLD_COUNTY_CODE)
    born_out = (g.random(n) < OUTSIDE_BORN) | elsewhere_h[hh]
    region = np.where(born_out, others[g.integers(0, len(others), n)], home_code)
    region = np.where(elsewhere_h[hh], region[heads], region)  # a 暂住 household: one place
    ids = citizen_ids(region, births, male)
    surname = g.choice(list(SURNAMES), nh)
    given = np.char.add(g.choice(list(GIVEN), n),
                        np.where(g.random(n) < 0.6, g.choice(list(GIVEN), n), ""))
    names = np.char.add(np.where(pos >= 2, surname[hh], g.choice(list(SURNAMES), n)), given)
    b = building[hh]
    town = homes.towns[b]
    city = homes.floors[b] >= 4
    label = np.char.add(homes.communities[b], np.char.add(
        _numbers(homes)[b].astype(str), np.where(city, "号楼", "号院")))
    unit = np.where(city, np.char.add(np.char.add((1 + hh % 4).astype(str), "单元"), np.char.add(
        (1 + hh % homes.floors[b].clip(1)).astype(str), np.char.add(
            np.char.zfill((1 + hh % 3).astype(str), 2), "室"))), "")
    phone = np.char.add(np.char.add("1", g.choice(["38", "39", "58", "87", "77", "55"], n)),
                        np.char.zfill(g.integers(0, 10**8, n).astype(str), 8))
    phone = np.where(age >= 16, phone, phone[heads])  # a minor: the head's (guardian) phone
    moved = np.isin(status, ["人户分离", "迁出"])
    hno = np.char.add(town, np.char.add(np.where(elsewhere_h[hh], "Z", "0"),
                                        np.char.zfill(hh.astype(str), 7)))
    region_name = {c: regions()[c][-1].name for c in set(region[elsewhere_h[hh]].tolist())}
    cols: dict[str, Any] = {
        "citizen_id": ids, "name": names, "gender": np.where(male, "男", "女"),
        "birth_date": births.astype(str), "ethnicity": np.where(g.random(n) < 0.004, "回族",
                                                                   "汉族"),
        "household_no": hno, "household_kind": np.where(collective[hh], "集体户", "家庭户"),
        "relation": RELATION_AT[pos], "status": status, "township_code": town,
        "address": np.char.add("安徽省宿州市泗县", label), "residence_address": label,
        "residence_unit": unit, "building_id": homes.ids[b], "phone": phone}
    out = {}
    for dataset, mask in (("household_population", ~elsewhere_h[hh]),
                          ("temporary_population", elsewhere_h[hh])):
        idx = np.flatnonzero(mask)
        c = {k: v[idx].tolist() for k, v in cols.items()}
        c["residence_unit"] = [u or None for u in c["residence_unit"]]
        c["building_id"] = [None if m else int(x) for x, m in zip(c["building_id"], moved[idx],
                                                                   strict=True)]
        if dataset == "temporary_population":
            del c["status"], c["township_code"], c["address"]
            c["registered_region"] = region[idx].tolist()
            c["registered_address"] = [region_name[r] for r in c["registered_region"]]
        out[dataset] = c
    return out


def plant_bad_rows(dataset: str, cols: dict[str, list[Any]], seed: int) -> dict[str, list[int]]:
    """content.yaml's `plant` of `dataset` applied in place (dataset_content.plant, the one
    implementation of the plants): {defect: row indices}."""
    from backend.catalog.dataset_content import load_content
    from backend.simulation.dataset_content import plant

    entries = load_content()
    entry = next(e for e in entries if e.id == dataset)
    g = np.random.default_rng([seed, 100 + [e.id for e in entries].index(dataset)])
    return plant(entry, cols, None, 0, g, None)


@dataclass
class PopulationRun:
    """One generation: the versions written, the load reports, and where the time went."""

    outcomes: dict[str, Any]     # dataset id -> VersionOutcome
    reports: list[Any]           # LoadReport per dataset
    generate_s: float
    write_s: float
    load_s: float

    @property
    def current(self) -> int:
        return sum(r.loaded + r.changed + r.unchanged for r in self.reports)

    def line(self) -> str:
        bad = sum(sum(r.quarantined.values()) for r in self.reports)
        rows = sum(o.rows_total for o in self.outcomes.values())
        total = self.generate_s + self.write_s + self.load_s
        return (f"population (示意/synthetic): {rows:,} source rows, {self.current:,} persons in "
                f"the base, {bad:,} quarantined; generated {self.generate_s:.1f} s, written "
                f"{self.write_s:.1f} s, loaded {self.load_s:.1f} s ({total:.1f} s, "
                f"{rows / max(total, 1e-9):,.0f} rows/s)")


def generate_population(engine: sa.Engine, *, scale: float = 1.0, seed: int = 20201,
                        actor: str = "demo", stats_k: int | None = None) -> PopulationRun:
    """Write one generated version of each source dataset (arrival 'generator', 示意) and load
    it into the base with backend.people.load: the path of a real department's delivery.
    `stats_k`: recount the published counts after the last load."""
    from backend.datasets.store import write_version
    from backend.people.load import load_dataset

    started = time.perf_counter()
    with engine.connect() as conn:
        homes = homes_of(conn)
    made = generate(seed, scale, homes)
    for dataset, cols in made.items():
        plant_bad_rows(dataset, cols, seed)
    run = PopulationRun({}, [], time.perf_counter() - started, 0.0, 0.0)
    last = list(made)[-1] if made else None
    for dataset, cols in made.items():
        t0 = time.perf_counter()
        with engine.begin() as conn:
            run.outcomes[dataset] = write_version(
                conn, dataset_id=dataset, rows=_rows(cols), arrival="generator", actor=actor,
                source=f"population generator seed={seed} scale={scale} (示意/synthetic)")
        t1 = time.perf_counter()
        with engine.begin() as conn:
            run.reports.append(load_dataset(conn, dataset, actor=actor,
                                            stats_k=stats_k if dataset == last else None))
        run.write_s += t1 - t0
        run.load_s += time.perf_counter() - t1
    return run


def _rows(cols: dict[str, list[Any]]) -> Iterator[Any]:
    """Rows keyed by the citizen ID (a repeated or missing one gets a store key)."""
    from backend.datasets.store import Row

    names = list(cols)
    for values in zip(*cols.values(), strict=True):
        data = dict(zip(names, values, strict=True))
        yield Row(None if data["citizen_id"] is None else str(data["citizen_id"]), data, None)


@dataclass
class BasePeople:
    """The registered people of the base as the linked content datasets reference them."""

    ids: list[str]
    names: list[str]
    births: list[str]


def people_of(conn: sa.Connection) -> BasePeople:
    """The persons loaded from household_population's current version whose row there is the
    only one with their ID and carries the same name and birth date (so a linked dataset's
    planted defects stay its only ones); deceased persons left out; ordered by ID."""
    rows = conn.execute(sa.text("""
SELECT p.citizen_id, p.name, p.birth_date::text FROM persons p
JOIN (SELECT data->>'citizen_id' AS cid, min(data->>'name') AS name,
             min(data->>'birth_date') AS born
      FROM dataset_rows WHERE dataset_id = 'household_population' AND last_seq IS NULL
      GROUP BY 1 HAVING count(*) = 1) r
  ON r.cid = p.citizen_id AND r.name = p.name AND r.born = p.birth_date::text
WHERE p.source_dataset = 'household_population' AND p.status <> 'deceased'
ORDER BY p.citizen_id""")).all()
    if not rows:
        raise RuntimeError("no population in the base: run `cityops people generate` first")
    ids, names, births = (list(c) for c in zip(*rows, strict=True))
    return BasePeople(ids, names, births)
