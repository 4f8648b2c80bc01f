"""Who an audit row names (issue 8, defect 10): the authenticated caller, taken by the server
from the session, never from a value code passes along; alarm acknowledge and clear are on the
chain; a CLI command is recorded as the OS account that ran it."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.audit.actor import ACTOR_COUNTS, acting_as, bound_actor
from backend.audit.chain import append, verify
from backend.auth.permissions import Permission, requires
from backend.settings import Settings
from tests.conftest import bearer


def audit_rows(engine: sa.Engine, entity: str, entity_id: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT actor, action, data FROM audit_log WHERE entity = :e AND entity_id = :i "
            "ORDER BY id"), {"e": entity, "i": str(entity_id)})]


def test_alarm_acknowledge_and_clear_are_audited_as_the_dispatcher(
        client: TestClient, engine: sa.Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        alarm_id = conn.execute(sa.text("""
INSERT INTO vehicle_alarms (vehicle_id, kind, severity, status, started_at, raised_at, lon, lat)
VALUES ('auditactor-1', 'sos', 'critical', 'active', :t, :t, 117.88, 33.48) RETURNING id"""),
            {"t": now}).scalar_one()
    try:
        dispatcher = bearer(client, "dispatcher")
        ack = client.post(f"/api/alarms/{alarm_id}/ack", json={"note": "已联系司机"},
                          headers=dispatcher)
        assert ack.status_code == 200, ack.text
        cleared = client.post(f"/api/alarms/{alarm_id}/clear", headers=dispatcher)
        assert cleared.status_code == 200, cleared.text
        assert client.post(f"/api/alarms/{alarm_id}/clear",
                           headers=dispatcher).status_code == 409  # nothing audited twice
        rows = audit_rows(engine, "vehicle_alarm", alarm_id)
        assert [(a, b) for a, b, _ in rows] == [("dispatcher", "alarm.acknowledge"),
                                                ("dispatcher", "alarm.clear")]
        assert rows[0][2] == {"vehicle_id": "auditactor-1", "kind": "sos",
                              "severity": "critical", "note": "已联系司机"}
        with engine.connect() as conn:
            assert verify(conn).ok
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM vehicle_alarms WHERE id = :i"), {"i": alarm_id})


def test_the_bound_caller_is_recorded_whatever_the_code_passes(engine: sa.Engine) -> None:
    overridden = ACTOR_COUNTS["overridden"]
    with engine.begin() as conn, acting_as("dispatcher"):
        row_id = append(conn, "mallory", "test.claim", "thing", "actor-claim")
    with engine.connect() as conn:
        actor = conn.execute(sa.text("SELECT actor FROM audit_log WHERE id = :i"),
                             {"i": row_id}).scalar_one()
    assert actor == "dispatcher" and ACTOR_COUNTS["overridden"] == overridden + 1
    with engine.begin() as conn:  # outside a request or command nothing is bound
        row_id = append(conn, "system", "test.claim", "thing", "actor-claim")
        assert conn.execute(sa.text("SELECT actor FROM audit_log WHERE id = :i"),
                            {"i": row_id}).scalar_one() == "system"


def test_a_request_binds_its_caller_for_the_audit_log(
        settings: Settings, county: dict[str, int], users: dict[str, str]) -> None:
    """The auth dependency binds the session's user; a sync route (run in the threadpool)
    sees it, and a request without a session, or the next request, sees nothing of it."""
    from backend.main import create_app

    app = create_app(settings)

    def who() -> dict:
        return {"bound": bound_actor()}

    app.add_api_route("/test/audit-actor", who, dependencies=[requires(Permission.AUTHENTICATED)])
    app.add_api_route("/test/audit-actor-public", who,
                      dependencies=[requires(Permission.PUBLIC)])
    for _ in range(2):  # before the console's static mount at "/"
        app.router.routes.insert(0, app.router.routes.pop())
    with TestClient(app) as c:
        dispatcher = bearer(c, "dispatcher")
        assert c.get("/test/audit-actor", headers=dispatcher).json() == {"bound": "dispatcher"}
        assert c.get("/test/audit-actor-public").json() == {"bound": None}
        assert c.get("/test/audit-actor", headers=bearer(c, "viewer")).json() == {
            "bound": "viewer"}


def test_a_cli_command_is_audited_as_the_os_account(
        settings: Settings, engine: sa.Engine, users: dict[str, str]) -> None:
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name}
    made = subprocess.run([sys.executable, "-m", "backend.cli", "open311", "add-key",
                           "audit-actor-test"], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert made.returncode == 0, made.stderr
    with engine.connect() as conn:
        actor = conn.execute(sa.text(
            "SELECT actor FROM audit_log WHERE action = 'open311.key.add' "
            "AND data->>'name' = 'audit-actor-test'")).scalar_one()
    assert actor == f"cli:{getpass.getuser()}"
