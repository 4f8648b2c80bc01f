"""The demo county's parameters (scenarios/sixian/recipe.yaml) as a strict pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "scenarios" / "sixian" / "recipe.yaml"

RoadClassName = Literal[
    "motorway", "trunk", "primary", "secondary", "tertiary", "residential", "rural"
]
NetworkName = Literal["water_supply", "drainage", "gas", "power", "telecom", "heating"]
# Gas pressure classes of GB 50028-2006 table 6.1.6 (高压 A and B as one): 低压 ... 高压.
PressureClass = Literal["low", "medium_b", "medium_a", "sub_high_b", "sub_high_a", "high"]
CameraKind = Literal["tianwang", "xueliang", "traffic"]
CellKind = Literal["city", "town", "village", "farm"]
BlockKind = Literal["residential", "commercial", "public", "industrial", "park"]
Ownership = Literal["国有", "集体"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Span(Strict):
    """A closed range [lo, hi] written as `[lo, hi]` in YAML."""

    lo: float
    hi: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: object) -> object:
        if isinstance(value, list | tuple) and len(value) == 2:
            return {"lo": value[0], "hi": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.lo > self.hi:
            raise ValueError(f"range [{self.lo}, {self.hi}] is reversed")
        return self

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2


class Files(Strict):
    boundary: str
    townships: str
    villages: str
    expressways: str


class Seat(Strict):
    lon: float = Field(ge=117.6, le=118.2)
    lat: float = Field(ge=33.2, le=33.8)


class CountyInfo(Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    name_en: str
    attribution: str
    seat: Seat
    files: Files


class Frame(Strict):
    metric_epsg: int
    rotation_deg: float = Field(ge=-45, le=45)
    lattice_m: float = Field(ge=300, le=3000)
    lattice_jitter_m: float = Field(ge=0, le=150)


class TownshipSeat(Strict):
    code: str = Field(pattern=r"^\d{3}$")
    short: str
    offset_km: tuple[float, float]  # east, north of the county seat


class RoadClass(Strict):
    speed: int = Field(gt=0)
    rank: int
    lanes: int = Field(gt=0)
    width_m: float = Field(gt=0)


class LandUse(Strict):
    name: str
    feature: dict[Ownership, str]  # 宗地特征码 by ownership, e.g. {集体: JC}

    @field_validator("feature")
    @classmethod
    def _two_letters(cls, v: dict[str, str]) -> dict[str, str]:
        for own, code in v.items():
            if len(code) != 2 or code[0] != ("G" if own == "国有" else "J"):
                raise ValueError(f"feature code {code!r} does not fit ownership {own}")
        return v


class Urban(Strict):
    extent_km: tuple[float, float]  # semi-axes along the frame's u and v
    extent_noise: float = Field(ge=0, le=0.5)
    streets_per_cell: int = Field(ge=1, le=5)
    street_jitter: float = Field(ge=0, le=0.1)
    ew_names: dict[int, str]  # lattice row index -> arterial name (row 0 passes the seat)
    ns_names: dict[int, str]
    primary: list[str]  # arterials of class primary; the other lattice streets are secondary
    name_pool: list[str] = Field(min_length=10)
    block_mix: dict[BlockKind, float]
    industrial_townships: list[str]  # township codes whose blocks are mostly industrial
    residential_parcel_m: Span
    shop_width_m: Span
    shop_depth_m: Span


class Town(Strict):
    cells: int = Field(ge=1, le=4)
    streets_per_cell: int = Field(ge=1, le=5)
    plot_width_m: Span
    plot_depth_m: Span
    land_use_mix: dict[str, float]


class Rural(Strict):
    strip_width_m: Span
    strip_rows: tuple[int, int]
    land_use_mix: dict[str, float]


class Villages(Strict):
    hamlets: tuple[int, int]
    hamlet_spread_m: Span
    core_width_m: Span
    core_depth_m: Span
    homestead_width_m: Span
    homestead_depth_m: Span
    lane_m: float = Field(gt=0)
    inset_m: float = Field(ge=0)


class FloorRule(Strict):
    floors: Span  # floors at the centre ... at the edge for the seat (see buildings.py)
    floor_height_m: float = Field(gt=2, le=8)


class Buildings(Strict):
    city_residential: FloorRule
    city_residential_edge_max: int
    commercial: FloorRule
    public: FloorRule
    industrial: FloorRule
    town: FloorRule
    village: FloorRule
    decay_km: float = Field(gt=0)
    slab_depth_m: Span
    slab_length_m: Span
    setback_m: float = Field(ge=0)


class Trunk(Strict):
    ref: str
    name: str
    road_class: RoadClassName
    via: list[str] = Field(min_length=2)  # township shorts, "city", or "edge:<bearing deg>"


class CountyRoads(Strict):
    road_class: RoadClassName
    extra: int = Field(ge=0)
    wiggle_m: float = Field(ge=0)


class Expressways(Strict):
    connectors: bool
    corridor_m: float = Field(gt=0)
    piece_m: float = Field(gt=100)


class Canal(Strict):
    name: str
    width_m: float = Field(gt=0)
    via_km: list[tuple[float, float]] = Field(min_length=2)


class Network(Strict):
    offset_m: float
    min_cover_m: float = Field(ge=0)  # the standard's minimum cover the depth range respects
    depth_m: Span  # cover: from the surface to the pipe's top
    # Gravity flow: the pipe falls at least slope.lo (as a fraction) in its direction of flow.
    # None: a pressure pipe, laid roughly level.
    slope: Span | None = None
    diameter_mm: list[int] = Field(min_length=1)
    materials: list[str] = Field(min_length=1)  # codes named in the layer's `values:`
    install_year: tuple[int, int]
    owners: list[str] = Field(min_length=1)  # operating units, one drawn per road line
    pressure: dict[RoadClassName, PressureClass] | None = None  # gas: class by road class

    @model_validator(mode="after")
    def _depths(self) -> Network:
        if self.depth_m.lo < self.min_cover_m:
            raise ValueError(f"depth_m starts at {self.depth_m.lo} m, under the minimum cover "
                             f"{self.min_cover_m} m")
        if self.slope is not None and self.slope.lo <= 0:
            raise ValueError("slope must be above 0 (a gravity pipe falls)")
        return self


class Pipelines(Strict):
    piece_m: Span
    # Share of a gravity network's depth range that heads (upstream ends) are drawn from.
    head_share: float = Field(gt=0, lt=1)
    drift_m: float = Field(ge=0)  # most a pressure pipe's cover changes over one piece
    networks: dict[NetworkName, Network]
    by_class: dict[RoadClassName, list[NetworkName]]
    rural_fraction: float = Field(ge=0, le=1)
    heating_radius_km: float = Field(ge=0)

    @model_validator(mode="after")
    def _coherent(self) -> Pipelines:
        for name, net in self.networks.items():
            if (net.pressure is not None) != (name == "gas"):
                raise ValueError(f"networks.{name}: pressure classes are given for gas, and "
                                 "only for gas")
            if net.slope is not None:
                # One piece (with a margin for offset curves longer than their road) must fit
                # between the deepest head and the bottom of the range at the least slope.
                room = net.depth_m.hi - (net.depth_m.lo + self.head_share * (
                    net.depth_m.hi - net.depth_m.lo))
                if net.slope.lo * self.piece_m.hi * 1.25 > room:
                    raise ValueError(f"networks.{name}: a {self.piece_m.hi:g} m piece falling "
                                     f"{net.slope.lo:g} does not fit in depth_m {net.depth_m.lo}"
                                     f"-{net.depth_m.hi} below its heads")
        gas = self.networks.get("gas")
        for cls, nets in self.by_class.items():
            missing = [n for n in nets if n not in self.networks]
            if missing:
                raise ValueError(f"by_class.{cls}: unknown networks {missing}")
            if gas is not None and "gas" in nets and cls not in (gas.pressure or {}):
                raise ValueError(f"networks.gas.pressure: no class for gas under {cls} roads")
        return self


class Lens(Strict):
    """A bullet's lens is chosen to see a scene `width_m` wide at its far end, so its range is
    width / (2 tan(fov / 2)): the narrower the field, the farther it sees; clipped to range_m."""

    width_m: Span
    range_m: Span


class Domes(Strict):
    """PTZ domes: where they stand, and their presets (one per junction arm, up to hi)."""

    share: dict[Literal["main_crossing", "other"], float]  # of the 天网 cameras there
    presets: tuple[int, int]
    fov_deg: Span
    lens: Lens


class Device(Strict):
    manufacturer: str
    model: str


class Cameras(Strict):
    count: int = Field(ge=0)
    status: dict[Literal["online", "offline", "fault"], float]
    kinds: dict[Literal["city", "town", "rural"], dict[CameraKind, float]]
    weights: dict[Literal["city", "town", "rural"], float]
    fov_deg: dict[CameraKind, Span]
    stream_url: str
    main_rank: int  # a junction where three or more arms have this road rank or more
    height_m: dict[Literal["main_crossing", "city", "town", "rural"], Span]
    lens: dict[CameraKind, Lens]
    domes: Domes
    centre_km: float  # 天网 cameras this close to the seat watch a commercial centre (重点)
    owners: dict[Literal["tianwang", "traffic"], str]  # 雪亮: the township
    models: dict[Literal["dome", "bullet"], list[Device]]
    nvr_channels: int = Field(ge=1, le=64)  # 雪亮 cameras per community NVR
    keepalive_s: int = Field(ge=5, le=3600)

    @model_validator(mode="after")
    def _presets(self) -> Cameras:
        lo, hi = self.domes.presets
        if not 1 <= lo <= hi <= 255:
            raise ValueError(f"domes.presets: [{lo}, {hi}] must be within [1, 255], ordered")
        if not all(self.models.get(k) for k in ("dome", "bullet")):
            raise ValueError("models: name at least one dome and one bullet model")
        return self


class Place(Strict):
    """A named place: an offset from the seat, a fraction along a named arterial, or both absent
    for a township seat (a place is also implied for each township's short name)."""

    name: str
    offset_km: tuple[float, float] | None = None
    road: str | None = None
    fraction: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _one_way(self) -> Place:
        if (self.offset_km is None) == (self.road is None):
            raise ValueError(f"place {self.name}: give exactly one of offset_km or road")
        if self.road is not None and self.fraction is None:
            raise ValueError(f"place {self.name}: a road place needs a fraction")
        return self


class BusLine(Strict):
    code: str
    name: str
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    via: list[str] = Field(min_length=2)


class Bus(Strict):
    operator: str
    stop_spacing_m: Span
    share_radius_m: float = Field(gt=0)
    lines: list[BusLine] = Field(min_length=1)


class Grid(Strict):
    target: int = Field(ge=50)
    city_split: Literal[1, 2, 4]
    seed_inset_m: float = Field(ge=0)


class Pilot(Strict):
    roads: list[str] = Field(min_length=1)
    segments: int = Field(ge=1, le=50)
    both_directions: bool


class Scaling(Strict):
    """Mean parcel area by cell kind: picks the detailed region around the seat when scale < 1."""

    parcel_area_m2: dict[CellKind, float]


class Recipe(Strict):
    version: Literal[1]
    seed: int = Field(ge=0)
    source: str
    county: CountyInfo
    frame: Frame
    townships: list[TownshipSeat] = Field(min_length=2)
    road_classes: dict[RoadClassName, RoadClass]
    land_use: dict[str, LandUse]
    urban: Urban
    town: Town
    rural: Rural
    villages: Villages
    buildings: Buildings
    trunk_roads: list[Trunk]
    county_roads: CountyRoads
    expressways: Expressways
    canal: Canal
    pipelines: Pipelines
    cameras: Cameras
    places: list[Place]
    bus: Bus
    grid: Grid
    pilot: Pilot
    scaling: Scaling
    data_dir: Path | None = Field(default=None, exclude=True)  # set by load_recipe

    @model_validator(mode="after")
    def _references(self) -> Recipe:
        codes = [t.code for t in self.townships]
        shorts = [t.short for t in self.townships]
        if len(set(codes)) != len(codes) or len(set(shorts)) != len(shorts):
            raise ValueError("township codes and short names must be unique")
        places = {p.name for p in self.places} | set(shorts)
        arterials = set(self.urban.ew_names.values()) | set(self.urban.ns_names.values())
        for p in self.places:
            if p.road is not None and p.road not in arterials:
                raise ValueError(f"place {p.name}: unknown arterial {p.road}")
        for line in self.bus.lines:
            missing = [v for v in line.via if v not in places]
            if missing:
                raise ValueError(f"bus line {line.code}: unknown places {missing}")
        for trunk in self.trunk_roads:
            for v in trunk.via:
                if v != "city" and not v.startswith("edge:") and v not in shorts:
                    raise ValueError(f"trunk {trunk.ref}: unknown waypoint {v}")
        for road in self.pilot.roads:
            if road not in arterials:
                raise ValueError(f"pilot road {road} is not a named arterial")
        mixes = [self.town.land_use_mix, self.rural.land_use_mix]
        for code in [c for mix in mixes for c in mix]:
            if code not in self.land_use:
                raise ValueError(f"land use {code} is not in land_use")
        if len({line.code for line in self.bus.lines}) != len(self.bus.lines):
            raise ValueError("bus line codes must be unique")
        return self

    def path(self, name: str) -> Path:
        return (self.data_dir or DEFAULT_RECIPE.parent) / name


def load_recipe(path: Path | None = None) -> Recipe:
    """Read and validate a recipe (scenarios/sixian/recipe.yaml by default)."""
    path = Path(path) if path is not None else DEFAULT_RECIPE
    with path.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    recipe = Recipe.model_validate(raw)
    return recipe.model_copy(update={"data_dir": path.resolve().parent})
