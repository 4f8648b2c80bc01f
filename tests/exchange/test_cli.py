"""The commands: `cityops ingest FILE --dataset ID`, `cityops datasets push-key` (the token
works on the push API, then is revoked), `cityops datasets exchange add|run` errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.cli import build_parser
from backend.settings import Settings
from tests.exchange.helpers import content_of, drop_dataset, make_dataset

DATASET = "test_cli_toilets"


@pytest.fixture()
def toilets(engine: sa.Engine) -> Iterator[str]:
    yield make_dataset(engine, "public_toilets", dataset_id=DATASET, department="CGJ")
    drop_dataset(engine, DATASET)


def run(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return args.handler(args, settings)


def test_ingest_a_file_as_a_version(settings: Settings, toilets: str, engine: sa.Engine,
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "公厕.csv"
    good.write_text("toilet_id,name,lon,lat\nK1,北门公厕,117.9,33.5\n", encoding="utf-8")
    assert run(settings, "ingest", str(good), "--dataset", toilets) == 0
    assert '"status": "accepted"' in capsys.readouterr().out
    assert content_of(engine, toilets)["K1"]["name"] == "北门公厕"
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,name\nK1,x\n", encoding="utf-8")
    assert run(settings, "ingest", str(bad), "--dataset", toilets) == 1
    assert "unknown column(s) 编号" in capsys.readouterr().err


def test_push_key_made_used_and_revoked(settings: Settings, toilets: str,
                                        anonymous: TestClient,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "datasets", "push-key", "CGJ", "--label", "数字城管") == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    key_id = int(out.split()[2])
    body = {"mode": "full", "rows": [{"toilet_id": "Q1", "name": "q"}]}
    url = f"/api/datasets/{toilets}/versions"
    auth = {"Authorization": f"Bearer {token}"}
    assert anonymous.post(url, headers=auth, json=body).status_code == 201
    assert run(settings, "datasets", "push-key", "--revoke", str(key_id)) == 0
    assert anonymous.post(url, headers=auth, json=body).status_code == 401


def test_exchange_add_and_a_failing_run(settings: Settings, toilets: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "datasets", "exchange", "add", toilets, "--dsn",
               "host=127.0.0.1 port=1 dbname=x user=y password=z connect_timeout=2",
               "--table", "s.t", "--key", "toilet_id", "--updated", "updated_at") == 0
    capsys.readouterr()
    assert run(settings, "datasets", "exchange", "run", toilets) == 1
    assert "OperationalError" in capsys.readouterr().out


def test_the_scheduler_runs_due_links_and_survives_errors(settings: Settings, toilets: str,
                                                          engine: sa.Engine) -> None:
    import asyncio

    from backend.exchange import tables

    tables.add_link(engine, dataset_id=toilets, dsn="host=127.0.0.1 port=1 dbname=x user=y",
                    source_table="s.t", key="toilet_id", updated="updated_at", actor="tester")
    assert toilets in tables.due_links(engine)
    asyncio.run(tables.run_due(engine, None))
    assert tables.link_state(engine, toilets)["last_status"] == "error"
    assert toilets not in tables.due_links(engine)  # next due after its interval
