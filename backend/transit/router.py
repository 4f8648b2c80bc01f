"""Bus-line operations and playback: the fleet's live state per line, and replay."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["transit"])
