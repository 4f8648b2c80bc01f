"""The traffic levels file (`scenarios/<county>/traffic_levels.yaml`, setting
`traffic_levels`): per-class speed thresholds of the five levels, the road-class mapping, the
TPI's parameters and the alert rules' parameters, validated strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from backend.catalog.strict import CatalogError, Strict, read_yaml

Kmh = Annotated[float, Field(gt=0, le=200)]
Minutes = Annotated[float, Field(ge=0, le=24 * 60)]


class TrafficLevelsError(CatalogError):
    """The levels file is invalid (or missing): 'file: key: what was expected'."""


class LevelClass(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    # Lower bounds of levels 1..4 (km/h), strictly decreasing.
    thresholds_kmh: Annotated[list[Kmh], Field(min_length=4, max_length=4)]

    @model_validator(mode="after")
    def _decreasing(self) -> LevelClass:
        t = self.thresholds_kmh
        if any(a <= b for a, b in zip(t, t[1:], strict=False)):
            raise ValueError(f"thresholds_kmh must decrease strictly (level 1 first), got {t}")
        return self


class TpiParams(Strict):
    ratio_breaks: Annotated[list[Annotated[float, Field(ge=1, le=10)]],
                            Field(min_length=6, max_length=6)]
    seat_township_kinds: Annotated[list[str], Field(min_length=1)]

    @model_validator(mode="after")
    def _increasing(self) -> TpiParams:
        b = self.ratio_breaks
        if any(x >= y for x, y in zip(b, b[1:], strict=False)):
            raise ValueError(f"ratio_breaks must increase strictly, got {b}")
        return self


class CongestionParams(Strict):
    min_level: Annotated[int, Field(ge=2, le=5)] = 4
    raise_after_min: Minutes = 10
    clear_after_min: Minutes = 10


class SlowParams(Strict):
    fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_samples: Annotated[int, Field(ge=1)] = 3
    raise_after_min: Minutes = 10
    clear_after_min: Minutes = 10


class AccidentParams(Strict):
    case_categories: list[Annotated[str, Field(pattern=r"^[CE][0-9]{4}$")]] = []
    alarm_bits: list[str] = ["collision", "rollover"]
    match_radius_m: Annotated[float, Field(gt=0, le=1000)] = 60
    clear_after_min: Minutes = 30


class AlertParams(Strict):
    congestion: CongestionParams = CongestionParams()
    slow: SlowParams = SlowParams()
    accident: AccidentParams = AccidentParams()


class TrafficLevels(Strict):
    classes: dict[str, LevelClass] = Field(min_length=1)
    road_classes: dict[str, str] = Field(min_length=1)
    min_vehicles: Annotated[int, Field(ge=1, le=100)] = 3
    tpi: TpiParams
    alerts: AlertParams = AlertParams()

    @model_validator(mode="after")
    def _known_classes(self) -> TrafficLevels:
        unknown = sorted({c for c in self.road_classes.values() if c not in self.classes})
        if unknown:
            raise ValueError(f"road_classes map onto unknown classes {unknown}; "
                             f"known: {sorted(self.classes)}")
        return self

    def level_class(self, road_class: str) -> LevelClass:
        """The standard's class of a roads-table class (unknown classes count as 支路, the
        most lenient, and are named in `refresh_segments`' report)."""
        return self.classes[self.road_classes.get(road_class, self._fallback)]

    @property
    def _fallback(self) -> str:
        return "branch" if "branch" in self.classes else next(reversed(self.classes))


def load_traffic_levels(path: Path) -> TrafficLevels:
    """The levels file, or TrafficLevelsError naming the file, key and problem."""
    return read_yaml(path, TrafficLevels, path.name, TrafficLevelsError)
