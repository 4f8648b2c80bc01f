"""The camera views file (`scenarios/<county>/camera_views.yaml`): the metric CRS the views
are computed in, and the default range and field of view per camera kind, validated
strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from backend.catalog.scenarios import SCENARIOS_DIR
from backend.catalog.strict import CatalogError, Strict, read_yaml

CameraKind = Literal["tianwang", "xueliang", "traffic"]
Metres = Annotated[float, Field(gt=0, le=2000)]   # as ck_cameras_range
Degrees = Annotated[float, Field(gt=0, le=360)]   # as ck_cameras_fov
DEFAULT_PATH = SCENARIOS_DIR / "sixian" / "camera_views.yaml"


class CameraViewsError(CatalogError):
    """The camera views file is invalid (or missing): 'file: key: what was expected'."""


class CameraViewParams(Strict):
    metric_epsg: Annotated[int, Field(ge=1024, le=32767)]
    default_range_m: dict[CameraKind, Metres]
    default_fov_deg: dict[CameraKind, Degrees]
    batch: Annotated[int, Field(ge=1, le=5000)] = 200
    check_interval_s: Annotated[float, Field(ge=0, le=86400)] = 300.0

    @model_validator(mode="after")
    def _every_kind(self) -> CameraViewParams:
        for key in ("default_range_m", "default_fov_deg"):
            missing = set(get_args(CameraKind)) - set(getattr(self, key))
            if missing:
                raise ValueError(f"{key} needs every camera kind; missing {sorted(missing)}")
        return self


def load_camera_views(path: Path = DEFAULT_PATH) -> CameraViewParams:
    """The file, or CameraViewsError naming the file, key and problem."""
    return read_yaml(path, CameraViewParams, path.name, CameraViewsError)
