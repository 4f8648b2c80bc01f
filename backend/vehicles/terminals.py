"""Terminal trust on the fleet register (migration 0011): which JT/T 808 terminals may
register, their auth codes, and revocation.

A terminal registers (0x0100) with its phone (header), terminal id and plate. It is accepted
only when an active vehicle in `vehicles` carries that phone, and the plate and terminal id
match where the register has them. Each registration issues a fresh random code, stored as its
SHA-256 only, which replaces the previous one; `revoke` removes the code and refuses further
registrations until `allow`. Registrations and revocations are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from backend.audit.chain import append
from backend.errors import InvalidInput, NotFound
from backend.ingest.jt808.messages import Register
from backend.ingest.jt808.trust import (
    REGISTER_NO_TERMINAL,
    REGISTER_NO_VEHICLE,
    REGISTER_OK,
    Registration,
    TerminalSession,
    phone_key,
)

CODE_BYTES = 16  # 128 random bits, sent as 32 hex characters
_PLATE_NOISE = re.compile(r"[\s·•.\-]")

_VEHICLE = sa.text("SELECT vehicle_id, plate, terminal_id FROM vehicles "
                   "WHERE terminal_phone = :p AND active")
_PLATE_KNOWN = sa.text("SELECT EXISTS (SELECT 1 FROM vehicles WHERE active AND "
                       "upper(regexp_replace(plate, '[[:space:]·•.-]', '', 'g')) = :plate)")
_ISSUE = sa.text("""
INSERT INTO terminal_auth AS a (terminal_phone, vehicle_id, code_sha256, registered_from)
VALUES (:p, :vid, :hash, :peer)
ON CONFLICT (terminal_phone) DO UPDATE SET vehicle_id = EXCLUDED.vehicle_id,
  code_sha256 = EXCLUDED.code_sha256, generation = a.generation + 1, registered_at = now(),
  registered_from = EXCLUDED.registered_from
WHERE a.revoked_at IS NULL
RETURNING generation""")
# A code counts only while its vehicle is active and still carries this terminal.
_CURRENT = """
SELECT a.terminal_phone, a.vehicle_id, a.generation, a.code_sha256 FROM terminal_auth a
JOIN vehicles v ON v.vehicle_id = a.vehicle_id AND v.terminal_phone = a.terminal_phone
WHERE v.active AND a.code_sha256 IS NOT NULL AND a.terminal_phone = ANY(:phones)"""


def normal_plate(plate: str) -> str:
    return _PLATE_NOISE.sub("", plate).upper()


def code_hash(code: bytes) -> bytes:
    return hashlib.sha256(code).digest()


class FleetTerminals:
    """``backend.ingest.jt808.trust.TerminalTrust`` on PostgreSQL (blocking; the gateway calls
    it on a worker thread)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def register(self, phone: str, reg: Register, peer: str) -> Registration:
        key = phone_key(phone)
        plate = normal_plate(reg.plate)
        with self.engine.begin() as conn:
            row = conn.execute(_VEHICLE, {"p": key}).first()
            if row is None:
                # Neither the phone nor the plate known: no such vehicle (2); a known plate
                # with an unknown phone: the vehicle is known, this terminal is not (4).
                if plate and conn.execute(_PLATE_KNOWN, {"plate": plate}).scalar_one():
                    return Registration(REGISTER_NO_TERMINAL, "unknown_terminal")
                return Registration(REGISTER_NO_VEHICLE, "unknown_vehicle")
            vehicle_id, known_plate, known_tid = row
            if known_plate and normal_plate(known_plate) != plate:
                return Registration(REGISTER_NO_VEHICLE, "plate_mismatch")
            if known_tid and known_tid.upper() != reg.terminal_id.strip().upper():
                return Registration(REGISTER_NO_TERMINAL, "terminal_id_mismatch")
            code = secrets.token_hex(CODE_BYTES)
            generation = conn.execute(_ISSUE, {
                "p": key, "vid": vehicle_id, "hash": code_hash(code.encode()),
                "peer": peer}).scalar()
            if generation is None:
                return Registration(REGISTER_NO_TERMINAL, "revoked")
            append(conn, f"terminal:{key}", "terminal.register", "terminal", key,
                   {"vehicle_id": vehicle_id, "from": peer, "generation": generation})
        return Registration(REGISTER_OK, "ok", code)

    def authenticate(self, phone: str, code: bytes) -> TerminalSession | None:
        key = phone_key(phone)
        with self.engine.connect() as conn:
            row = conn.execute(sa.text(_CURRENT), {"phones": [key]}).first()
        if row is None or not hmac.compare_digest(bytes(row[3]), code_hash(code)):
            return None
        return TerminalSession(key, row[1], row[2])

    def still_valid(self, sessions: Collection[TerminalSession]) -> set[TerminalSession]:
        if not sessions:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(_CURRENT), {
                "phones": sorted({s.phone for s in sessions})}).all()
        current = {TerminalSession(r[0], r[1], r[2]) for r in rows}
        return {s for s in sessions if s in current}


# ---- the operator's side (`cityops terminals`) ---------------------------------------------

def _key(phone: str) -> str:
    try:
        return phone_key(phone.strip())
    except ValueError:
        raise InvalidInput(f"{phone!r} is not a terminal phone number: give 1-20 digits, "
                           "e.g. 013912345678") from None


def list_terminals(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every vehicle carrying a terminal, with its registration state."""
    rows = conn.execute(sa.text("""
SELECT v.terminal_phone, v.vehicle_id, v.plate, v.terminal_id, v.active,
  CASE WHEN a.revoked_at IS NOT NULL THEN 'revoked'
       WHEN a.code_sha256 IS NOT NULL THEN 'registered' ELSE 'not registered' END AS state,
  a.registered_at, a.registered_from, a.revoked_at, a.revoked_by
FROM vehicles v LEFT JOIN terminal_auth a ON a.terminal_phone = v.terminal_phone
WHERE v.terminal_phone IS NOT NULL ORDER BY v.terminal_phone"""))
    return [dict(r._mapping) for r in rows]


def enrol(conn: sa.Connection, phone: str, *, actor: str, vehicle_id: str | None = None,
          plate: str | None = None, terminal_id: str | None = None, line_code: str | None = None,
          label: str | None = None) -> str:
    """Put a vehicle and its terminal in the fleet register (or give a registered vehicle its
    terminal), so that the terminal may register. Returns the vehicle id."""
    from backend.ingest.validate import VEHICLE_ID_RULE, vehicle_id_ok
    from backend.vehicles.fleet import register_vehicles

    key = _key(phone)
    vid = vehicle_id or phone.strip()
    if not vehicle_id_ok(vid):
        raise InvalidInput(f"--vehicle-id: a vehicle id is {VEHICLE_ID_RULE}")
    if terminal_id is not None and not re.fullmatch(r"[0-9A-Za-z-]{1,30}", terminal_id):
        raise InvalidInput("--terminal-id: 1-30 letters, digits or -, as the terminal sends it")
    if line_code is not None and conn.execute(sa.text(
            "SELECT id FROM bus_lines WHERE code = :c"), {"c": line_code}).scalar() is None:
        raise NotFound(f"No bus line {line_code!r}")
    other = conn.execute(sa.text(
        "SELECT vehicle_id FROM vehicles WHERE terminal_phone = :p AND vehicle_id <> :v"),
        {"p": key, "v": vid}).scalar()
    if other is not None:
        raise InvalidInput(f"Terminal {key} is already carried by vehicle {other!r}")
    exists = conn.execute(sa.text("SELECT 1 FROM vehicles WHERE vehicle_id = :v"),
                          {"v": vid}).scalar()
    if exists:  # keep what the register has unless it is given anew
        conn.execute(sa.text("""
UPDATE vehicles SET terminal_phone = :p, terminal_id = COALESCE(:tid, terminal_id),
  plate = COALESCE(:plate, plate), label = COALESCE(:label, label),
  line_id = COALESCE((SELECT id FROM bus_lines WHERE code = :line), line_id),
  active = true, updated_at = now()
WHERE vehicle_id = :v"""), {"p": key, "tid": terminal_id, "plate": plate, "label": label,
                            "line": line_code, "v": vid})
    else:
        register_vehicles(conn, [{"vehicle_id": vid, "label": label, "plate": plate,
                                  "line_code": line_code, "terminal_phone": key,
                                  "terminal_id": terminal_id}])
    append(conn, actor, "terminal.enrol", "terminal", key,
           {"vehicle_id": vid, "plate": plate, "terminal_id": terminal_id, "line": line_code})
    return vid


def revoke(conn: sa.Connection, phone: str, *, actor: str) -> None:
    """No code any more (live connections on it are closed by the gateway within its recheck
    interval) and no new registration until `allow`."""
    key = _key(phone)
    vehicle_id = conn.execute(sa.text("SELECT vehicle_id FROM vehicles WHERE terminal_phone = :p"),
                              {"p": key}).scalar()
    if vehicle_id is None:
        raise NotFound(f"No terminal {key} in the fleet register "
                       "(`cityops terminals list` shows the known ones)")
    conn.execute(sa.text("""
INSERT INTO terminal_auth AS a (terminal_phone, vehicle_id, code_sha256, revoked_at, revoked_by)
VALUES (:p, :vid, NULL, now(), :actor)
ON CONFLICT (terminal_phone) DO UPDATE SET code_sha256 = NULL, revoked_at = now(),
  revoked_by = EXCLUDED.revoked_by, generation = a.generation + 1"""),
                 {"p": key, "vid": vehicle_id, "actor": actor})
    append(conn, actor, "terminal.revoke", "terminal", key, {"vehicle_id": vehicle_id})


def allow(conn: sa.Connection, phone: str, *, actor: str) -> None:
    """Lift a revocation: the terminal may register again (and gets a new code then)."""
    key = _key(phone)
    done = conn.execute(sa.text(
        "UPDATE terminal_auth SET revoked_at = NULL, revoked_by = NULL "
        "WHERE terminal_phone = :p AND revoked_at IS NOT NULL RETURNING vehicle_id"),
        {"p": key}).scalar()
    if done is None:
        raise NotFound(f"Terminal {key} is not revoked "
                       "(`cityops terminals list` shows the revoked ones)")
    append(conn, actor, "terminal.allow", "terminal", key, {"vehicle_id": done})
