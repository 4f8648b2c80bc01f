"""A surveyed pipeline file with the catalog's Chinese headers: cover at each end, owner and gas
pressure class load; a pressure class on a non-gas pipe, an unknown class or a negative cover is
refused with the rule it breaks."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from tests.ingest.conftest import Ingest, stored

LINE = '"LINESTRING (117.9 33.5, 117.91 33.5)"'


def test_engineers_fields_load_and_bad_ones_are_refused(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "管线.csv"
    path.write_text(
        "编号,network,管径(mm),材质,起点埋深(m),终点埋深(m),压力级制,权属单位,wkt\n"
        f"RQ-1,gas,160,PE,1.05,1.10,medium_a,某燃气公司,{LINE}\n"
        f"PS-1,drainage,600,砼,2.10,2.45,,某排水所,{LINE}\n"
        f"DL-1,power,150,MPP,0.80,0.80,low,某供电公司,{LINE}\n"
        f"RQ-2,gas,110,PE,1.00,1.00,extreme,某燃气公司,{LINE}\n"
        f"JS-1,water_supply,200,球墨铸铁,-1.2,1.2,,某水司,{LINE}\n",
        encoding="utf-8")
    result = ingest(path, layer_id="pipelines", source=src, crs=4326, max_reject_ratio=0.7)
    assert result.ok and (result.inserted, result.rejected) == (2, 3)
    assert {"depth_start_m", "depth_end_m", "owner", "pressure_class"} <= set(
        result.columns_written)
    reasons = {r.key: r.reason for r in result.rejected_rows}
    assert "pressure_class IS NULL OR network = 'gas'" in reasons["DL-1"]
    assert "pressure_class='extreme' is not allowed" in reasons["RQ-2"]
    assert "depth_start_m=-1.2 is not allowed" in reasons["JS-1"]
    got = stored(engine, "pipelines", src,
                 "depth_start_m, depth_end_m, owner, pressure_class, material")
    assert (got["RQ-1"]["depth_start_m"], got["RQ-1"]["depth_end_m"]) == (1.05, 1.10)
    assert (got["RQ-1"]["pressure_class"], got["RQ-1"]["owner"]) == ("medium_a", "某燃气公司")
    assert got["PS-1"]["pressure_class"] is None and got["PS-1"]["material"] == "砼"
