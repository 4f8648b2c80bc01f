"""`cityops terminals list | revoke PHONE | allow PHONE`: the fleet's JT/T 808 terminals and
their registration state; revoking ends a terminal's auth code (the gateway closes a live
connection on it within CITYOPS_JT808_RECHECK_S) and refuses it until `allow`."""

from __future__ import annotations

import sqlalchemy as sa

from backend.vehicles import terminals


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"


def run_cli(action: str, phone: str | None, engine: sa.Engine, *, actor: str) -> int:
    if action != "list" and not phone:
        raise SystemExit(f"cityops: `terminals {action}` needs the terminal's phone number")
    with engine.begin() as conn:
        if action == "list":
            rows = terminals.list_terminals(conn)
            for t in rows:
                state = t["state"] if t["active"] else f"{t['state']}, vehicle inactive"
                since = t["revoked_at"] if t["state"] == "revoked" else t["registered_at"]
                print(f"{t['terminal_phone']:<20} {t['vehicle_id']:<20} {t['plate'] or '-':<12} "
                      f"{t['terminal_id'] or '-':<10} {state:<16} {_when(since)} "
                      f"{t['registered_from'] or ''}")
            print(f"{len(rows)} terminals")
        elif action == "revoke":
            assert phone is not None
            terminals.revoke(conn, phone, actor=actor)
            print(f"terminal {phone} revoked: its code no longer authenticates and it may not "
                  f"register until `cityops terminals allow {phone}`")
        elif action == "allow":
            assert phone is not None
            terminals.allow(conn, phone, actor=actor)
            print(f"terminal {phone} may register again")
    return 0
