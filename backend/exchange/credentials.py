"""Push credentials: one machine token per department system. The token is shown once; the
table keeps only its SHA-256 (backend.auth.permissions.push_principal resolves it)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append
from backend.errors import NotFound

TOKEN_BYTES = 32


def new_push_key(engine: sa.Engine, *, department: str, label: str | None,
                 actor: str) -> tuple[int, str]:
    """(credential id, the token): the token is not kept and cannot be shown again."""
    token = "cpk_" + secrets.token_urlsafe(TOKEN_BYTES)
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM departments WHERE code = :c"),
                        {"c": department}).first() is None:
            raise NotFound(f"no department {department!r} (see GET /api/catalog/departments)")
        key_id = conn.execute(sa.text(
            "INSERT INTO dataset_push_credentials (department_code, label, token_hash) "
            "VALUES (:d, :l, :h) RETURNING id"),
            {"d": department, "l": label or f"{department} push", "h": digest}).scalar_one()
        append(conn, actor, "dataset.push_key.created", "department", department,
               {"credential_id": key_id, "label": label})
    return key_id, token


def revoke_push_key(engine: sa.Engine, *, key_id: int, actor: str) -> None:
    with engine.begin() as conn:
        dept = conn.execute(sa.text(
            "UPDATE dataset_push_credentials SET revoked_at = now() WHERE id = :i AND revoked_at "
            "IS NULL RETURNING department_code"), {"i": key_id}).scalar()
        if dept is None:
            raise NotFound(f"no active push credential {key_id}")
        append(conn, actor, "dataset.push_key.revoked", "department", dept,
               {"credential_id": key_id})


def list_push_keys(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT id, department_code, label, created_at, revoked_at FROM "
            "dataset_push_credentials ORDER BY id"))]
