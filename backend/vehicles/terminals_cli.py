"""`cityops terminals list | add PHONE ... | revoke PHONE | allow PHONE`: the fleet's JT/T 808
terminals and their registration state. `add` puts a vehicle and its terminal in the fleet
register (only such terminals may register); revoking ends a terminal's auth code (the gateway
closes a live connection on it within CITYOPS_JT808_RECHECK_S) and refuses it until `allow`."""

from __future__ import annotations

import argparse

import sqlalchemy as sa


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "add", "revoke", "allow"])
    parser.add_argument("phone", nargs="?", help="the terminal's phone number (SIM)")
    parser.add_argument("--vehicle-id", help="add: the vehicle's id (default: the phone)")
    parser.add_argument("--plate", help="add: the plate the terminal sends, e.g. 皖L12345")
    parser.add_argument("--terminal-id", help="add: the terminal id it sends (checked if given)")
    parser.add_argument("--line", help="add: the bus line code, e.g. 1路")
    parser.add_argument("--label", help="add: the operator's own number, e.g. 1路#3")


def run_cli(action: str, phone: str | None, engine: sa.Engine, *, actor: str,
            args: argparse.Namespace | None = None) -> int:
    from backend.vehicles import terminals

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
        elif action == "add":
            assert phone is not None
            a = args or argparse.Namespace()
            vid = terminals.enrol(
                conn, phone, actor=actor, vehicle_id=getattr(a, "vehicle_id", None),
                plate=getattr(a, "plate", None), terminal_id=getattr(a, "terminal_id", None),
                line_code=getattr(a, "line", None), label=getattr(a, "label", None))
            print(f"terminal {phone} enrolled on vehicle {vid}: it may register now")
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
