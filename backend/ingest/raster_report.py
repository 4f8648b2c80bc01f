"""What a raster load found and fixed, for the terminal and the registry's `report` column."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class NodataFound:
    """Pixels without data in the source: how many, and the extent they span."""

    how: str  # what marks them: "value -9999", "alpha band", "mask", "NaN"
    pixels: int = 0
    total: int = 0
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (4326)

    @property
    def share(self) -> float:
        return self.pixels / self.total if self.total else 0.0


@dataclass
class RasterReport:
    file: str
    layer: str
    kind: Literal["cog", "dem"]
    status: Literal["loaded", "failed"] = "failed"
    error: str | None = None
    bytes_in: int = 0
    width: int = 0
    height: int = 0
    bands: int = 0
    dtype: str = ""
    source_crs: str = ""  # "EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E)"
    georeference: str = ""  # "geotransform, 1 m pixels" or "12 GCPs"
    transform: str = ""  # the PROJ operation used to reach EPSG:3857
    footprint: tuple[float, float, float, float] | None = None  # west, south, east, north
    county_check: str = "not run"
    nodata: NodataFound | None = None
    heights: tuple[float, float] | None = None  # DEM: lowest and highest height found
    fixes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The stored COG
    path: str | None = None
    sha256: str | None = None
    bytes_out: int = 0
    out_width: int = 0
    out_height: int = 0
    minzoom: int = 0
    maxzoom: int = 0
    compression: str = ""
    overviews: int = 0
    data_version: int | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "loaded"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.nodata is not None:
            data["nodata"]["share"] = round(self.nodata.share, 6)
        return data

    def summary(self) -> str:
        """The report for a terminal: what the file was, each fix, where it went."""
        if not self.ok:
            return f"{self.file}: FAILED: {self.error}"
        mb_in, mb_out = self.bytes_in / 1e6, self.bytes_out / 1e6
        lines = [
            f"{self.file} -> {self.layer} ({'elevation' if self.kind == 'dem' else 'imagery'}):"
            f" {self.width} x {self.height} px, {self.bands} band(s) {self.dtype}, "
            f"{mb_in:.1f} MB",
            f"  source CRS: {self.source_crs}; georeference: {self.georeference}",
        ]
        if self.footprint:
            w, s, e, n = self.footprint
            lines.append(f"  footprint: {w:.5f},{s:.5f} - {e:.5f},{n:.5f} (lon/lat); "
                         f"county check: {self.county_check}")
        lines.append("  fixes:")
        lines.extend(f"    - {fix}" for fix in self.fixes)
        if self.nodata is not None and self.nodata.pixels:
            nd = self.nodata
            where = ""
            if nd.bbox:
                w, s, e, n = nd.bbox
                where = f", within {w:.5f},{s:.5f} - {e:.5f},{n:.5f}"
            lines.append(f"  no data ({nd.how}): {nd.pixels} of {nd.total} pixels "
                         f"({nd.share:.2%}){where}")
        elif self.nodata is not None:
            lines.append(f"  no data ({self.nodata.how}): none in the file")
        if self.heights is not None:
            lines.append(f"  heights: {self.heights[0]:.1f} to {self.heights[1]:.1f} m")
        lines.extend(f"  note: {note}" for note in self.notes)
        lines.append(f"  stored: {self.path} ({mb_out:.1f} MB, sha256 {self.sha256}), "
                     f"zooms {self.minzoom}-{self.maxzoom}; data version {self.data_version}; "
                     f"{self.duration_s:.1f} s")
        return "\n".join(lines)
