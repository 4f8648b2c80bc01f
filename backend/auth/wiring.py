"""The auth slice wires itself into the running app: the session store, the login guard, and
the hub's revocations (every process forgets ended sessions; live sockets are re-checked)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from backend.auth.guard import LoginGuard
from backend.auth.users import SessionStore

if TYPE_CHECKING:
    from backend.api.deps import Resources
    from backend.realtime.hub import Hub


def setup(resources: Resources, hub: Hub) -> None:
    """Call in the lifespan once the hub is started."""
    settings = resources.settings
    sessions = SessionStore(resources.engine, ttl=timedelta(hours=settings.session_ttl_h))
    resources.sessions = sessions
    resources.login_guard = LoginGuard.from_settings(resources.engine, settings)
    hub.revocations.on_revoke(sessions.forget)
    hub.revocations.watch(sessions.alive, settings.hub_session_check_s)
