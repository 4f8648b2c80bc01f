"""GTFS static and GTFS-Realtime feeds of the county's bus lines."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["gtfs"])
