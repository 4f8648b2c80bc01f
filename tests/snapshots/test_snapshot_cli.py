"""`cityops snapshot` as an operator runs it: the same file as the wall's button, kept,
registered and audited as the OS account, copied to --out; a bad view or extent is a message."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from backend.settings import Settings
from tests.test_cli import cityops


def test_the_command_saves_registers_and_copies_a_snapshot(
        tmp_path: Path, settings: Settings, engine: sa.Engine, county: dict[str, int]) -> None:
    out = tmp_path / "overview.html"
    res = cityops(settings, "snapshot", "--view", "overview", "--bbox",
                  "117.80,33.42,117.96,33.54", "--zoom", "12", "--lang", "en", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert str(out) in res.stdout and out.read_text().startswith("<!DOCTYPE html>")
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT s.file_name, s.created_by, a.actor FROM snapshots s JOIN audit_log a "
            "ON a.entity = 'snapshot' AND a.entity_id = s.id::text "
            "ORDER BY s.id DESC LIMIT 1")).one()
    kept = settings.var_dir / "snapshots" / row.file_name
    try:
        assert kept.read_bytes() == out.read_bytes()
        assert row.created_by.startswith("cli:") and row.actor == row.created_by
    finally:
        kept.unlink(missing_ok=True)

    res = cityops(settings, "snapshot", "--bbox", "117.9,33.5,117.8,33.6")
    assert res.returncode == 2 and "west must be less than east" in res.stderr
    res = cityops(settings, "snapshot", "--role", "mayor")
    assert res.returncode == 2 and "not a role" in res.stdout
