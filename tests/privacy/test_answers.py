"""The masking policy in the real app's answers (PostGIS, the session's users): a case's
reporter contact by role, lists never in full, and every full view audited by the caller."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import bearer

SEAT = (117.88003, 33.47922)
LOOK = "privacy.unmasked_view"


@pytest.fixture(scope="module")
def as_(client: TestClient) -> dict[str, dict[str, str]]:
    return {r: bearer(client, r) for r in ("supervisor", "viewer", "commander")}


@pytest.fixture(scope="module")
def case(client: TestClient, engine: sa.Engine, as_: dict[str, dict[str, str]]) -> dict:
    """Issue 8, defect 8: a hotline case whose reporter left a name and a landline."""
    made = client.post("/api/incidents", headers=as_["supervisor"], json={
        "category_code": "E0101", "description": "热线:路边垃圾", "lon": SEAT[0], "lat": SEAT[1],
        "source": "hotline", "reporter_name": "张三丰", "reporter_phone": "0557-1234567"})
    assert made.status_code == 201, made.text
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE incidents SET reporter_email = 'zhang@sx.cn' "
                             "WHERE id = :id"), {"id": made.json()["id"]})
    return made.json()


def audit_after(engine: sa.Engine, after: int) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT actor, action, entity, entity_id, data FROM audit_log WHERE id > :a "
            "AND action = :look ORDER BY id"), {"a": after, "look": LOOK}).all()


def audit_head(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()


def test_a_viewer_sees_the_reporter_masked_and_nothing_is_audited(
    client: TestClient, engine: sa.Engine, as_: dict[str, dict[str, str]], case: dict
) -> None:
    head = audit_head(engine)
    seen = client.get(f"/api/incidents/{case['id']}", headers=as_["viewer"]).json()
    assert seen["reporter_name"] == "张**"             # was shown in full
    assert seen["reporter_phone"] == "0557-***4567"    # was 055****4567: 7 of 8 digits
    assert seen["reporter_email"] == "z***@sx.cn"
    assert audit_after(engine, head) == []


def test_a_supervisor_sees_the_reporter_in_full_and_the_look_is_audited(
    client: TestClient, engine: sa.Engine, as_: dict[str, dict[str, str]], case: dict
) -> None:
    head = audit_head(engine)
    seen = client.get(f"/api/incidents/{case['id']}", headers=as_["supervisor"]).json()
    assert (seen["reporter_name"], seen["reporter_phone"], seen["reporter_email"]) == (
        "张三丰", "0557-1234567", "zhang@sx.cn")
    looks = audit_after(engine, head)
    assert len(looks) == 1
    look = looks[0]
    assert (look.actor, look.entity, look.entity_id) == ("supervisor", "incident",
                                                         str(case["id"]))
    assert look.data["fields"] == ["reporter_email", "reporter_name", "reporter_phone"]


def test_the_queue_never_shows_a_reporter_in_full(
    client: TestClient, engine: sa.Engine, as_: dict[str, dict[str, str]], case: dict
) -> None:
    head = audit_head(engine)
    for role in ("supervisor", "commander", "viewer"):
        page = client.get("/api/incidents", params={"limit": 500},
                          headers=as_[role]).json()["incidents"]
        mine = next(c for c in page if c["id"] == case["id"])
        assert (mine["reporter_name"], mine["reporter_phone"], mine["reporter_email"]) == (
            "张**", "0557-***4567", "z***@sx.cn"), role
    assert audit_after(engine, head) == []  # a polled list writes nothing


def test_open311_answers_carry_no_person(anonymous: TestClient, case: dict) -> None:
    got = anonymous.get(f"/open311/v2/requests/{case['id']}.json")
    assert got.status_code == 200, got.text
    text = got.text
    assert "张" not in text and "1234567" not in text and "zhang@" not in text


def test_the_users_list_masks_phones_like_every_list(
    client: TestClient, engine: sa.Engine
) -> None:
    from backend.auth.users import create_user

    with engine.begin() as conn:
        create_user(conn, "privacy-phone-user", "list-mask-secret-pw", ["viewer"],
                    phone="13812345678")
    try:
        listed = client.get("/api/users", headers=bearer(client, "admin")).json()["users"]
        mine = next(u for u in listed if u["username"] == "privacy-phone-user")
        assert mine["phone"] == "138****5678"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE username = 'privacy-phone-user'"))
