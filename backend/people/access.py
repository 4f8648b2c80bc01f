"""The access log of the population base (issue 13 part 6): every answer that showed a person's
field in full appends ONE row to the audit chain (privacy.unmasked_view, entity person: the
ids seen, the fields, the purpose) and one `person_access` row per person seen, carrying that
audit row's seq, in the answer's transaction. The chain's append takes its lock until commit,
so it comes last and the caller commits at once; person_access rows follow it in one INSERT.

"Who looked at this person" is answered from `person_access` (idx_person_access_person), not
by scanning the chain. Reading a person's access log is not audited: it names officials, not
the person's data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append
from backend.auth.permissions import Principal
from backend.errors import NotFound
from backend.people.scope import scope_of
from backend.privacy.looks import ACTION
from backend.privacy.purposes import Purpose, purposes

ACCESS_LIMIT = 1000  # rows of one person's log answered at once (the newest)


def record_person_looks(conn: sa.Connection, *, principal: Principal,
                        person_ids: Sequence[int], fields: Sequence[str],
                        purpose: Purpose | None, kind: str) -> int | None:
    """Audit one answer that showed `fields` of `person_ids` in full: one chain row, then one
    person_access row per person. Returns the chain row's seq (None: nothing was shown in
    full, nothing recorded). The caller commits immediately afterwards."""
    if not fields or not person_ids:
        return None
    ids = list(dict.fromkeys(int(i) for i in person_ids))
    fields = sorted(set(fields))
    seq = append(conn, principal.username, ACTION, "person",
                 ids[0] if len(ids) == 1 else None,
                 {"ids": ids, "fields": fields, "purpose": purpose.id if purpose else None,
                  "kind": kind})
    conn.execute(sa.text("""
INSERT INTO person_access (person_id, at, actor, purpose, kind, fields, audit_seq)
SELECT unnest(CAST(:ids AS bigint[])), now(), :actor, :purpose, :kind, CAST(:fields AS text[]),
       :seq"""), {"ids": ids, "actor": principal.username, "kind": kind, "fields": fields,
                  "purpose": purpose.id if purpose else None, "seq": seq})
    return seq


LOG_SQL = sa.text("""
SELECT a.at, a.actor, u.display_name AS actor_name, a.purpose, a.kind, a.fields
FROM person_access a LEFT JOIN users u ON u.username = a.actor
WHERE a.person_id = :p AND a.at >= now() - make_interval(days => :days)
ORDER BY a.at DESC, a.id DESC LIMIT :limit""")


def log_items(conn: sa.Connection, person_id: int, days: int) -> list[dict[str, Any]]:
    known = purposes()
    items = []
    for r in conn.execute(LOG_SQL, {"p": person_id, "days": days, "limit": ACCESS_LIMIT}):
        p = known.get(r.purpose) if r.purpose else None
        items.append({"at": r.at, "actor": r.actor, "actor_name": r.actor_name,
                      "purpose": r.purpose, "purpose_zh": p.zh if p else None,
                      "purpose_en": p.en if p else None, "kind": r.kind,
                      "fields": list(r.fields)})
    return items


def access_log(conn: sa.Connection, *, principal: Principal, person_id: int,
               days: int) -> dict[str, Any]:
    """Who looked at this person in full in the last `days` days (newest first), for callers
    whose scope holds the person (else not found, as for the record)."""
    row = conn.execute(sa.text("SELECT grid_code, township_code FROM persons WHERE id = :p"),
                       {"p": person_id}).first()
    if row is None or not scope_of(conn, principal).holds(row.grid_code, row.township_code):
        raise NotFound(f"There is no person {person_id} in your area")
    return {"person_id": person_id, "days": days, "items": log_items(conn, person_id, days)}


def print_person_log(conn: sa.Connection, citizen_id: str, days: int) -> int:
    """`cityops audit person CITIZEN_ID [--days N]`: the access log, one look a line. The
    command's operator reads the database directly; the person is named by masked ID."""
    from backend.privacy.policy import mask_id_number

    person_id = conn.execute(sa.text("SELECT id FROM persons WHERE citizen_id = :c"),
                             {"c": citizen_id.strip().upper()}).scalar()
    if person_id is None:
        print(f"no person with citizen ID {mask_id_number(citizen_id)}")
        return 1
    items = log_items(conn, person_id, days)
    print(f"person {person_id} ({mask_id_number(citizen_id)}): {len(items)} looks in the last "
          f"{days} days")
    for i in items:
        who = f"{i['actor']} ({i['actor_name']})" if i["actor_name"] else i["actor"]
        why = f"{i['purpose']} {i['purpose_zh'] or ''}".strip() if i["purpose"] else "-"
        print(f"{i['at']:%Y-%m-%d %H:%M:%S%z}  {i['kind']:<6}  {who}  purpose={why}  "
              f"fields={','.join(i['fields'])}")
    return 0
