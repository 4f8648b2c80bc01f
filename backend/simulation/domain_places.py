"""What the domain datasets' generators share: the townships (codes, names, polygons read from
the county in the database), the villages (real names and codes, a point in each), the table a
generator returns, and the small value helpers (points inside a township, people's names,
phones, organisation names). Deterministic: everything random comes from a seeded Generator."""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from backend.settings import PROJECT_ROOT
from backend.simulation.dataset_values import names, points_in

TZ = timezone(timedelta(hours=8))
VILLAGES_CSV = PROJECT_ROOT / "scenarios" / "sixian" / "sixian_villages_nbs2023.csv"
COUNTY = "341324"
# The county town: the 街道 and 泗城镇 (what "in the city" means for the generators).
CITY = ("341324001", "341324002", "341324003", "341324100")
INSET_DEG = 0.0015  # ~150 m: a place stays this far inside its township where it can


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    geom: shapely.Geometry

    @property
    def short(self) -> str:
        """泗县开发区管委会（泗县当涂现代产业园） -> 泗县开发区; others as they are."""
        return self.name.split("管委会")[0] if "管委会" in self.name else self.name


@dataclass
class Towns:
    towns: list[Town]
    village_points: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by = {t.code: t for t in self.towns}
        self._inner: dict[str, shapely.Geometry] = {}

    def __getitem__(self, code: str) -> Town:
        return self._by[code]

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.towns]

    def inner(self, code: str) -> shapely.Geometry:
        """The township shrunk by INSET_DEG (itself when that leaves too little)."""
        if code not in self._inner:
            geom = self._by[code].geom
            inset = geom.buffer(-INSET_DEG)
            self._inner[code] = inset if inset.area > 0.2 * geom.area else geom
        return self._inner[code]

    def points(self, g: np.random.Generator, code: str, n: int) -> np.ndarray:
        """n points (lon, lat) inside the township."""
        return points_in(g, self.inner(code), n) if n else np.zeros((0, 2))

    def near(self, g: np.random.Generator, code: str, xy: tuple[float, float], n: int,
             radius: float) -> np.ndarray:
        """n points within `radius` degrees of xy, inside the township."""
        area = shapely.Point(xy).buffer(radius).intersection(self.inner(code))
        return points_in(g, area if area.area > 0 else self.inner(code), n)


def towns_of(conn: sa.Connection) -> Towns:
    """The townships of the loaded county and a point per village: the largest grid cell of the
    village (grid codes begin with the village's 12-digit code), else a point in its township."""
    rows = conn.execute(sa.text(
        "SELECT code, name, ST_AsBinary(geom) FROM townships ORDER BY code")).all()
    if not rows:
        raise RuntimeError("no townships: load the county first (cityops demo)")
    towns = [Town(c, n, shapely.from_wkb(bytes(w))) for c, n, w in rows]
    cells = conn.execute(sa.text(
        "SELECT DISTINCT ON (left(grid_code, 12)) left(grid_code, 12), "
        "ST_X(p), ST_Y(p) FROM (SELECT grid_code, ST_PointOnSurface(geom) AS p, "
        "ST_Area(geom) AS a FROM grid_cells) c ORDER BY left(grid_code, 12), a DESC")).all()
    return Towns(towns, {v: (x, y) for v, x, y in cells})


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township: str


def villages() -> list[Village]:
    """The 195 村/社区 of NBS 2023 (real names and codes)."""
    with open(VILLAGES_CSV, encoding="utf-8", newline="") as f:
        return [Village(r["code"], r["name"], r["township_code"]) for r in csv.DictReader(f)]


@dataclass
class Table:
    """A generated dataset: rows as {field: value} in the field order, and a geometry per row
    (shapely, EPSG:4326) when the dataset has one."""

    id: str
    rows: list[dict[str, Any]]
    geoms: list[shapely.Geometry] | None = None

    def column(self, name: str) -> list[Any]:
        return [r[name] for r in self.rows]


@dataclass
class Context:
    """One generation: the places, the seed, the clock, the scale; `build` makes a dataset's
    table (domain_data's registry) and `table` keeps each one made, for the datasets that
    refer to another (cases to halls, flow to spots...)."""

    towns: Towns
    seed: int
    now: datetime
    scale: float
    build: Callable[[Context, str], Table]
    sizes: dict[str, int]   # content.yaml's rows per dataset
    built: dict[str, Table] = field(default_factory=dict)

    def rng(self, dataset_id: str, *part: int) -> np.random.Generator:
        """The dataset's own stream (one dataset regenerated alone comes out the same); `part`
        keys a piece of it (a day) that must not depend on the others."""
        return np.random.default_rng([self.seed, zlib.crc32(dataset_id.encode()), *part])

    def table(self, dataset_id: str) -> Table:
        if dataset_id not in self.built:
            self.built[dataset_id] = self.build(self, dataset_id)
        return self.built[dataset_id]

    def n(self, dataset_id: str, floor: int = 1) -> int:
        return count(self.sizes[dataset_id], self.scale, floor)


# -- values ----------------------------------------------------------------------------------

def count(rows: int, scale: float, floor: int = 1) -> int:
    """The size at a scale: content.yaml's rows x scale, at least `floor`."""
    return max(floor, round(rows * scale))


def people(g: np.random.Generator, n: int) -> list[str]:
    return names(g, n)


def phones(g: np.random.Generator, n: int) -> list[str]:
    heads = g.choice(["138", "139", "158", "187", "177", "135", "152", "181"], n)
    return [f"{h}{x:08d}" for h, x in zip(heads, g.integers(0, 10**8, n), strict=True)]


WORDS = list("华泰鑫源盛达恒丰瑞祥宏远兴隆金鼎汇通润德嘉和信诚佳益")


def firm_names(g: np.random.Generator, n: int, kinds: list[str], prefix: str = "泗县") -> list[str]:
    """Plausible company names: 泗县 + two words + a trade + 有限公司 (unique in the list)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = f"{prefix}{''.join(g.choice(WORDS, 2))}{g.choice(kinds)}有限公司"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def iso(t: datetime) -> str:
    """Seconds precision, +08:00."""
    return t.astimezone(TZ).replace(microsecond=0).isoformat()


def hour_floor(t: datetime) -> datetime:
    return t.astimezone(TZ).replace(minute=0, second=0, microsecond=0)


def weighted(g: np.random.Generator, options: list[Any], weights: list[float], n: int
             ) -> list[Any]:
    p = np.asarray(weights, dtype=float)
    idx = g.choice(len(options), size=n, p=p / p.sum())
    return [options[i] for i in idx]
