"""Open311 api clients: machine credentials that may POST service requests and nothing else.

A key is 32 random bytes (URL-safe base64), shown once when it is made; the database keeps only
its SHA-256. A client acts as the principal `open311:<name>` with the single role
`machine:open311` and the single right `open311:submit`, so every case it reports is recorded
under that name (the case's report event and the audit log)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Permission, Principal
from backend.errors import Conflict, InvalidInput, NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MACHINE_ROLE = "machine:open311"


@dataclass(frozen=True, slots=True)
class ApiClient:
    id: int
    name: str

    def principal(self) -> Principal:
        return Principal(f"open311:{self.name}", self.name, frozenset({MACHINE_ROLE}),
                         frozenset({Permission.OPEN311_SUBMIT}))


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def add_key(conn: sa.Connection, name: str, *, actor: str | None = None) -> str:
    """Make a client and return its key (the only time the key exists in clear)."""
    if not NAME.match(name):
        raise InvalidInput("A client name is 2-64 characters: letters, digits, '_', '.', '-', "
                           "starting with a letter or digit")
    key = secrets.token_urlsafe(32)
    row = conn.execute(sa.text(
        "INSERT INTO api_clients (name, key_sha256) VALUES (:n, :h) "
        "ON CONFLICT (name) DO NOTHING RETURNING id"), {"n": name, "h": key_digest(key)}).first()
    if row is None:
        raise Conflict(f"An api client {name!r} already exists (disable-key it, or pick "
                       "another name)")
    audit(conn, actor, "open311.key.add", "api_client", row.id, {"name": name})
    return key


def disable_key(conn: sa.Connection, name: str, *, actor: str | None = None) -> None:
    row = conn.execute(sa.text(
        "UPDATE api_clients SET active = false WHERE name = :n RETURNING id"), {"n": name}
    ).first()
    if row is None:
        raise NotFound(f"No api client {name!r}")
    audit(conn, actor, "open311.key.disable", "api_client", row.id, {"name": name})


def list_keys(conn: sa.Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT name, active, created_at, last_used_at, requests_total FROM api_clients "
        "ORDER BY name"))]


def client_for_key(conn: sa.Connection, key: str) -> ApiClient | None:
    """The active client holding this key, or None. The lookup is by the key's hash (an
    index probe), so no comparison of secrets happens in Python."""
    if not key or len(key) > 200:
        return None
    row = conn.execute(sa.text(
        "SELECT id, name FROM api_clients WHERE key_sha256 = :h AND active"),
        {"h": key_digest(key)}).first()
    return ApiClient(row.id, row.name) if row else None


def count_use(conn: sa.Connection, client: ApiClient, now: object) -> None:
    """Note the client's use, in the transaction of the request it makes."""
    conn.execute(sa.text(
        "UPDATE api_clients SET last_used_at = :now, requests_total = requests_total + 1 "
        "WHERE id = :id"), {"now": now, "id": client.id})


def run_cli(action: str, name: str | None, engine: sa.Engine) -> int:
    """`cityops open311 add-key NAME | list-keys | disable-key NAME`."""
    if action != "list-keys" and not name:
        raise SystemExit(f"cityops: `open311 {action}` needs a client name")
    with engine.begin() as conn:
        if action == "add-key":
            assert name is not None
            key = add_key(conn, name)
            print(f"api key for {name} (shown once, keep it secret):\n{key}")
        elif action == "disable-key":
            assert name is not None
            disable_key(conn, name)
            print(f"api client {name} disabled")
        else:
            for c in list_keys(conn):
                used = c["last_used_at"].isoformat(timespec="seconds") if c["last_used_at"] \
                    else "never"
                print(f"{c['name']:<24} {'active' if c['active'] else 'disabled':<9} "
                      f"created {c['created_at']:%Y-%m-%d}  last used {used}  "
                      f"{c['requests_total']} requests")
    return 0
