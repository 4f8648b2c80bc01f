"""What happens after a version is committed, whatever way it arrived: one function every path
calls (the upload and push routes, the rollback, the table exchange's scheduler). Today it
publishes the change notice on the data.updates channel; the quality run hangs here at merge."""

from __future__ import annotations

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


async def after_version(hub: Hub | None, outcome: VersionOutcome, *, name: str) -> None:
    """Call after the version's transaction committed. Rejected versions and replays change
    nothing that subscribers see: no notice."""
    if hub is None or outcome.status != "accepted" or outcome.replayed:
        return
    await hub.publish(DATA_UPDATES, update_event(outcome, name))
