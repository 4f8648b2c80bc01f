"""Grants: an approved request gives its requester access to a dataset (the fields asked for,
for the period asked) through the rows API, the download and the dataset's map layer. Who may
read a dataset's content: its own department, the data bureau, or an active grant."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Permission, Principal

LAYER_CACHE_S = 30.0


def make_grant(conn: sa.Connection, *, request_id: int | None, dataset_id: str, grantee: str,
               department: str | None, fields: Sequence[str], valid_from: datetime,
               valid_until: datetime) -> int:
    grant_id = conn.execute(sa.text(
        "INSERT INTO data_grants (request_id, dataset_id, grantee, grantee_department, fields, "
        "valid_from, valid_until) VALUES (:r, :d, :g, :dept, :f, :a, :b) RETURNING id"),
        {"r": request_id, "d": dataset_id, "g": grantee, "dept": department, "f": list(fields),
         "a": valid_from, "b": valid_until}).scalar_one()
    audit(conn, None, "data_grant.made", "dataset", dataset_id,
          {"grant_id": grant_id, "grantee": grantee, "fields": list(fields),
           "valid_until": valid_until, "request_id": request_id})
    LAYER_GRANTS.invalidate()
    return grant_id


def revoke_grant(conn: sa.Connection, *, grant_id: int, actor: str) -> bool:
    hit = conn.execute(sa.text("UPDATE data_grants SET revoked_at = now() WHERE id = :id "
                               "AND revoked_at IS NULL RETURNING dataset_id"),
                       {"id": grant_id}).scalar()
    if hit is not None:
        audit(conn, actor, "data_grant.revoked", "dataset", hit, {"grant_id": grant_id})
        LAYER_GRANTS.invalidate()
    return hit is not None


_GRANTED = sa.text("SELECT fields FROM data_grants WHERE grantee = :g AND dataset_id = :d "
                   "AND revoked_at IS NULL AND valid_from <= now() AND valid_until > now()")
_LAYERS = sa.text("SELECT g.grantee, d.layer_id FROM data_grants g JOIN datasets d "
                  "ON d.id = g.dataset_id WHERE d.layer_id IS NOT NULL AND g.revoked_at IS NULL "
                  "AND g.valid_from <= now() AND g.valid_until > now()")


def may_read(conn: sa.Connection, principal: Principal,
             dataset_id: str) -> tuple[bool, str, list[str] | None]:
    """(allowed, why, fields): the dataset's own department or the bureau read every field
    (fields None); a grantee reads the granted fields (None: every field)."""
    department = conn.execute(sa.text("SELECT department_code FROM datasets WHERE id = :d"),
                              {"d": dataset_id}).scalar()
    if department is None:
        return False, "no such dataset", None
    if principal.may(Permission.DATASETS_GOVERN):
        return True, "govern", None
    if principal.department is not None and principal.department == department:
        return True, "own department", None
    rows = conn.execute(_GRANTED, {"g": principal.username, "d": dataset_id}).scalars().all()
    if not rows:
        return False, (f"dataset {dataset_id} belongs to department {department}: request it "
                       f"(POST /api/datasets/{dataset_id}/requests) to read its data"), None
    if any(len(f or []) == 0 for f in rows):
        return True, "grant", None
    return True, "grant", sorted({f for fields in rows for f in fields})


class LayerGrants:
    """username -> the map layers their active grants open, from one query of every active
    grant of a dataset with a layer, kept LAYER_CACHE_S seconds (and dropped when a grant is
    made or revoked in this process). backend.auth.permissions.may_see_layer asks it."""

    def __init__(self) -> None:
        self._engine: sa.Engine | None = None
        self._at = 0.0
        self._map: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def bind(self, engine: sa.Engine | None) -> None:
        self._engine = engine
        self.invalidate()

    def invalidate(self) -> None:
        self._at = 0.0

    def __call__(self, principal: Principal) -> frozenset[str]:
        if self._engine is None:
            return frozenset()
        with self._lock:
            if time.monotonic() - self._at > LAYER_CACHE_S:
                with self._engine.connect() as conn:
                    found: dict[str, set[str]] = {}
                    for grantee, layer in conn.execute(_LAYERS):
                        found.setdefault(grantee, set()).add(layer)
                self._map = {k: frozenset(v) for k, v in found.items()}
                self._at = time.monotonic()
            return self._map.get(principal.username, frozenset())


LAYER_GRANTS = LayerGrants()
