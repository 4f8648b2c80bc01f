"""The password policy (issue 8, defect 9): beyond length, common passwords and ones holding
the user name are refused on every way in (the API and the `cityops users` command), with a
message saying what to do, and nothing is stored."""

from __future__ import annotations

import argparse
import io
import sys

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.policy import common_passwords, password_problem
from backend.cli import build_parser
from backend.settings import Settings

REFUSED = {
    "qwertyuiop": "common passwords",       # on the shipped list
    "Password2026!": "common passwords",    # a listed word with a year and a mark appended
    "1q2w3e4r5t": "common passwords",
    "t-pol-secret-99": "user name",         # holds the user name
    "T-POL-SECRET-99": "user name",         # in any case
    "short-1": "at least 10 characters",
}


def test_the_shipped_list_is_read_with_its_provenance() -> None:
    listed = common_passwords()
    assert 10_000 < len(listed) < 20_000 and "password123" in listed
    assert all(len(p) >= 8 for p in listed)
    assert password_problem("amber-falcon-river-3", "t-pol") is None


@pytest.mark.parametrize(("password", "why"), REFUSED.items())
def test_the_api_refuses_weak_passwords_and_stores_nothing(
    client: TestClient, engine: sa.Engine, password: str, why: str
) -> None:
    made = client.post("/api/users", json={"username": "t-pol", "password": password,
                                           "roles": ["viewer"]})
    assert made.status_code in (400, 422) and why in made.text, made.text
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM users WHERE username = 't-pol'")).scalar_one() == 0


def test_a_password_change_is_checked_too(client: TestClient, engine: sa.Engine) -> None:
    try:
        assert client.post("/api/users", json={"username": "t-pol2",
                                               "password": "amber-falcon-river-3",
                                               "roles": ["viewer"]}).status_code == 201
        with engine.connect() as conn:
            before = conn.execute(sa.text(
                "SELECT password_hash FROM users WHERE username = 't-pol2'")).scalar_one()
        for weak, why in (("password123", "common passwords"), ("my-t-pol2-pass", "user name")):
            changed = client.patch("/api/users/t-pol2", json={"password": weak})
            assert changed.status_code == 400 and why in changed.json()["detail"]
        with engine.connect() as conn:
            after = conn.execute(sa.text(
                "SELECT password_hash FROM users WHERE username = 't-pol2'")).scalar_one()
        assert after == before
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE username = 't-pol2'"))


def test_the_cli_refuses_a_common_password(settings: Settings, engine: sa.Engine,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import cmd_users

    args: argparse.Namespace = build_parser().parse_args(
        ["users", "add", "t-pol-cli", "--role", "viewer"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("iloveyou12\n"))  # the operator's typing
    from backend.errors import InvalidInput

    with pytest.raises(InvalidInput, match="common passwords"):
        cmd_users(args, settings)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM users WHERE username = 't-pol-cli'")).scalar_one() == 0
