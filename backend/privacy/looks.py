"""Audited looks: an answer that showed personal data in full appends one audit row naming
who looked (the authenticated caller), at what (entity and ids) and which fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append as audit

ACTION = "privacy.unmasked_view"


def record_look(conn: sa.Connection, actor: str, entity: str, ids: Sequence[object],
                fields: Sequence[str], context: Mapping[str, Any] | None = None) -> bool:
    """One audit row for one answer, in the caller's transaction (which must commit it);
    nothing when nothing was shown in full. True when a row was appended."""
    if not fields or not ids:
        return False
    ids = list(dict.fromkeys(str(i) for i in ids))
    audit(conn, actor, ACTION, entity, ids[0] if len(ids) == 1 else None,
          {"fields": sorted(set(fields)), "ids": ids, **(context or {})})
    return True
