"""The demo elevation model (示意 / synthetic): a float32 GeoTIFF of the whole county in its
metric CRS (EPSG:4548), whose range and slope follow the real Huaibei plain at Sixian
(scenarios/sixian/relief.yaml, sources in PROVENANCE.md).

A plane falling to the south-east plus broad swells, scaled so that the county's lowest ground
and its share below 20 m match the sources; water (land use 11) cut slightly in; the named
residual hills added last. Noise is hashed from positions, so the same data give the same
bytes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field
from rasterio.features import rasterize
from scipy import ndimage

from backend.basemap.models import County, Parcel
from backend.county import noise
from backend.county.frame import Frame
from backend.county.imagery import BLOCK, SYNTHETIC, grid_for

DEFAULT_RELIEF = Path(__file__).resolve().parents[2] / "scenarios" / "sixian" / "relief.yaml"
WATER_USE = "11"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Plain(_Strict):
    lowest_m: float = Field(ge=-10, le=200)
    below_20m_share: float = Field(gt=0, lt=1)
    downhill_bearing_deg: float = Field(ge=0, lt=360)
    swell_m: float = Field(ge=0, le=20)
    swell_km: float = Field(gt=0, le=100)
    ripple_m: float = Field(ge=0, le=5)
    ripple_km: float = Field(gt=0, le=20)


class Hill(_Strict):
    name: str
    offset_km: tuple[float, float]
    peak_m: float = Field(gt=0, le=1000)
    radius_km: float = Field(gt=0, le=20)
    elongation: float = Field(ge=1, le=5)
    bearing_deg: float = Field(ge=0, lt=360)  # of the long axis


class Water(_Strict):
    incision_m: float = Field(ge=0, le=20)
    bank_m: float = Field(gt=0, le=1000)


class Relief(_Strict):
    version: int
    resolution_m: float = Field(gt=0, le=1000)
    margin_km: float = Field(ge=0, le=20)
    plain: Plain
    hills: list[Hill]
    water: Water


def load_relief(path: Path | None = None) -> Relief:
    with (path or DEFAULT_RELIEF).open(encoding="utf-8") as f:
        return Relief.model_validate(yaml.safe_load(f))


def read_county(engine: sa.Engine, *, epsg: int = 4548, source: str | None = None
                ) -> shapely.Geometry:
    """The county polygon in the metric CRS."""
    table = County.__table__
    query = sa.select(sa.func.ST_AsBinary(sa.func.ST_Transform(table.c.geom, epsg)))
    if source is not None:
        query = query.where(table.c.source == source)
    with engine.connect() as conn:
        rows = conn.execute(query).scalars().all()
    if not rows:
        raise LookupError("no county polygon is loaded: load the demo county first")
    return shapely.union_all(shapely.from_wkb([bytes(r) for r in rows]))


def read_water(engine: sa.Engine, bounds: tuple[float, float, float, float], *,
               epsg: int = 4548, source: str | None = None) -> np.ndarray:
    """Water parcels (land use 11) meeting `bounds`, in the metric CRS."""
    table = Parcel.__table__
    box = sa.func.ST_Transform(sa.func.ST_MakeEnvelope(*map(float, bounds), epsg), 4326)
    query = sa.select(sa.func.ST_AsBinary(sa.func.ST_Transform(table.c.geom, epsg))).where(
        table.c.land_use == WATER_USE, table.c.geom.op("&&")(box)
    ).order_by(table.c.source_key)
    if source is not None:
        query = query.where(table.c.source == source)
    with engine.connect() as conn:
        rows = conn.execute(query).scalars().all()
    return np.asarray(shapely.from_wkb([bytes(r) for r in rows]), dtype=object)


def _share_below(h: np.ndarray, level: float) -> float:
    return float(np.count_nonzero(h < level)) / max(h.size, 1)


def _calibrate(lowest: float, slope: np.ndarray, rest: np.ndarray, share: float) -> float:
    """The metres per unit of `slope` (0 at the county's low end, 1 at its high end) that put
    `share` of the county below 20 m. Bisection: the share falls as the slope steepens."""
    lo, hi = 0.0, 200.0
    for _ in range(40):
        k = (lo + hi) / 2
        if _share_below(lowest + k * slope + rest, 20.0) > share:
            lo = k
        else:
            hi = k
    return (lo + hi) / 2


def elevation(relief: Relief, frame: Frame, county: shapely.Geometry, water: np.ndarray,
              seed: int) -> tuple[np.ndarray, rasterio.Affine, np.ndarray]:
    """(heights as float32 rows x cols, the grid's transform, mask of pixels in the county)."""
    res = relief.resolution_m
    margin = relief.margin_km * 1000
    x0, y0, x1, y1 = shapely.bounds(county)
    transform, width, height = grid_for((x0 - margin, y0 - margin, x1 + margin, y1 + margin),
                                        res)
    cols, rows = np.arange(width), np.arange(height)
    xs = transform.c + (cols + 0.5) * res
    ys = transform.f - (rows + 0.5) * res
    inside = rasterize([county], out_shape=(height, width), transform=transform,
                       dtype="uint8").astype(bool)

    p = relief.plain
    b = math.radians(p.downhill_bearing_deg)
    down = (xs[None, :] - frame.origin[0]) * math.sin(b) + (ys[:, None] - frame.origin[1]) * \
        math.cos(b)
    lo_d, hi_d = down[inside].min(), down[inside].max()
    slope = ((hi_d - down) / (hi_d - lo_d)).astype(np.float32)  # 1 at the high (north-west) end
    gcols = round(transform.c / res) + cols
    grows = round(-transform.f / res) + rows
    swell = (2 * p.swell_m * noise.fractal(gcols, grows, p.swell_km * 1000 / res, seed + 31)
             + 2 * p.ripple_m * noise.value(gcols, grows, p.ripple_km * 1000 / res, seed + 32))
    swell -= swell[inside & (slope < 0.05)].min()  # the plain's lowest ground is lowest_m
    rest = swell
    if len(water):
        wet = rasterize(water, out_shape=(height, width), transform=transform, dtype="uint8",
                        all_touched=True).astype(bool)
        dist = ndimage.distance_transform_edt(~wet) * res
        rest = swell - relief.water.incision_m * np.exp(-((dist / relief.water.bank_m) ** 2))
    k = _calibrate(p.lowest_m, slope[inside], rest[inside], p.below_20m_share)
    h = p.lowest_m + k * slope + rest

    for hill in relief.hills:
        cx, cy = frame.origin[0] + hill.offset_km[0] * 1000, frame.origin[1] + \
            hill.offset_km[1] * 1000
        a = math.radians(hill.bearing_deg)
        dx, dy = xs[None, :] - cx, ys[:, None] - cy
        along = dx * math.sin(a) + dy * math.cos(a)
        across = dx * math.cos(a) - dy * math.sin(a)
        r = np.hypot(along / hill.elongation, across) / (hill.radius_km * 1000)
        # A rugged outline: the radius wavers with coarse noise; the bump is smooth inside.
        r = r * (0.85 + 0.3 * noise.value(gcols, grows, 400.0 / res, seed + 33))
        bump = np.exp(-(r**2) * 2.5)
        foot = float(h[np.unravel_index(np.argmax(bump), bump.shape)])
        # Spurs and gullies on the flanks (ridged noise), none at the summit or the foot.
        ridges = 1 - np.abs(2 * noise.value(gcols, grows, 350.0 / res, seed + 34) - 1)
        flank = 4 * bump * (1 - bump) * 0.3 * (ridges - 0.5)
        h = h + (hill.peak_m - foot) * (bump + flank)  # the summit reaches peak_m
    return h.astype(np.float32), transform, inside


def render_dem(relief: Relief, frame: Frame, county: shapely.Geometry, water: np.ndarray,
               path: Path, *, seed: int, epsg: int = 4548,
               description: str = SYNTHETIC) -> Path:
    """Write the elevation model as a tiled, DEFLATE-compressed float32 GeoTIFF."""
    h, transform, _ = elevation(relief, frame, county, water, seed)
    profile = {
        "driver": "GTiff", "width": h.shape[1], "height": h.shape[0], "count": 1,
        "dtype": "float32", "crs": f"EPSG:{epsg}", "transform": transform, "tiled": True,
        "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "DEFLATE", "predictor": 3,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION=description, SYNTHETIC="yes")
        dst.update_tags(1, UNITS="metre")
        dst.write(h, 1)
    tmp.replace(path)
    return path
