"""Imports every table so that Base.metadata is complete (alembic and tests use it)."""

from backend.basemap.models import Building, County, Parcel, Pipeline, Road, Township
from backend.cameras.models import Camera
from backend.datasets import models as dataset_models  # noqa: F401 (registers the tables)
from backend.db.base import Base
from backend.db.versions import LayerVersion
from backend.grid.models import GridCell
from backend.rasters.models import RasterFileRow
from backend.traffic.models import (
    PilotSegment,
    TrafficAlert,
    TrafficSegment,
    TrafficSpeed,
    TrafficTpi,
    TrafficTypical,
)
from backend.transit.models import BusLine, BusLineStop, BusStop
from backend.vehicles.models import Vehicle, VehicleAlarm, VehicleLatest, VehiclePosition

FEATURE_TABLES = [
    County, Township, Road, Building, Parcel, Pipeline, Camera, BusLine, BusStop, GridCell,
    PilotSegment,
]

__all__ = [
    "Base", "Building", "BusLine", "BusLineStop", "BusStop", "Camera", "County", "FEATURE_TABLES",
    "GridCell", "LayerVersion", "Parcel", "PilotSegment", "Pipeline", "RasterFileRow", "Road",
    "Township", "TrafficAlert", "TrafficSegment", "TrafficSpeed", "TrafficTpi", "TrafficTypical",
    "Vehicle", "VehicleAlarm", "VehicleLatest", "VehiclePosition",
]
