"""What happens after a version is committed, whatever way it arrived: one function every path
calls (the upload and push routes, the rollback, the table exchange's scheduler). Today it
publishes the change notice on the data.updates channel and wakes the quality schedule."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.datasets.store import VersionOutcome
from backend.realtime.messages import DATA_UPDATES

if TYPE_CHECKING:
    from backend.realtime.hub import Hub


def update_event(outcome: VersionOutcome, name: str, at: datetime | None = None
                 ) -> dict[str, Any]:
    at = at or datetime.now().astimezone()
    return {**outcome.notice(), "at": at.isoformat(), "name": name}


async def after_version(hub: Hub | None, outcome: VersionOutcome, *, name: str,
                        changed: asyncio.Event | None = None) -> None:
    """Call after the version's transaction committed: the notice on data.updates, and
    `changed` set (resources.data_changed: the quality schedule runs the new version's rules).
    Rejected versions and replays change nothing that subscribers see: no notice."""
    if outcome.status != "accepted" or outcome.replayed:
        return
    if changed is not None:
        changed.set()
    if hub is not None:
        await hub.publish(DATA_UPDATES, update_event(outcome, name))
