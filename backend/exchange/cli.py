"""`cityops datasets push-key|exchange|generate|generate-domains` and the dataset branch of
`cityops ingest FILE --dataset ID`; backend/cli.py registers them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from backend.settings import Settings


def _engine(settings: Settings) -> sa.Engine:
    from backend.db.engine import create_engine, ensure_database, resolve_urls
    from backend.db.migrate import upgrade

    upgrade(ensure_database(settings))
    return create_engine(resolve_urls(settings).app, pool_size=2)


def _summary(outcome: object) -> dict[str, object]:
    keys = ("version_id", "dataset_id", "seq", "status", "rows_total", "rows_added",
            "rows_changed", "rows_removed", "rows_rejected")
    return {k: getattr(outcome, k) for k in keys}


def ingest_dataset(args: argparse.Namespace, settings: Settings) -> int:
    """`cityops ingest FILE --dataset ID`: 0 accepted, 1 refused (the report on stderr)."""
    from backend.audit.actor import cli_actor
    from backend.errors import Unprocessable
    from backend.exchange.service import Limits, upload_file

    engine = _engine(settings)
    try:
        path = Path(args.file)
        if path.stat().st_size > settings.dataset_upload_max_bytes:
            print(f"cityops: {path.name} is larger than CITYOPS_DATASET_UPLOAD_MAX_BYTES",
                  file=sys.stderr)
            return 1
        outcome = upload_file(engine, dataset_id=args.dataset, path=path, filename=path.name,
                              actor=cli_actor(), check=False,
                              limits=Limits(settings.dataset_report_rows))
    except Unprocessable as exc:
        print(f"cityops: {exc.message}", file=sys.stderr)
        print(json.dumps(exc.detail.get("report"), ensure_ascii=False, indent=1, default=str),
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(json.dumps({**_summary(outcome), "report": outcome.report}, ensure_ascii=False,
                     default=str))
    return 0 if outcome.status == "accepted" else 1


def _push_key(args: argparse.Namespace, settings: Settings) -> int:
    from backend.audit.actor import cli_actor
    from backend.exchange.credentials import list_push_keys, new_push_key, revoke_push_key

    engine = _engine(settings)
    try:
        if args.revoke is not None:
            revoke_push_key(engine, key_id=args.revoke, actor=cli_actor())
            print(f"push credential {args.revoke} revoked")
        elif args.department:
            key_id, token = new_push_key(engine, department=args.department, label=args.label,
                                         actor=cli_actor())
            print(f"push credential {key_id} for {args.department}; the token (shown once, "
                  f"send it as 'Authorization: Bearer ...'):\n{token}")
        else:
            for key in list_push_keys(engine):
                print(json.dumps(key, ensure_ascii=False, default=str))
    finally:
        engine.dispose()
    return 0


def _exchange(args: argparse.Namespace, settings: Settings) -> int:
    from backend.audit.actor import cli_actor
    from backend.exchange import tables

    engine = _engine(settings)
    try:
        if args.op == "add":
            if not (args.dsn and args.table and args.key and args.updated):
                print("cityops: exchange add needs --dsn, --table, --key and --updated",
                      file=sys.stderr)
                return 2
            link = tables.add_link(engine, dataset_id=args.dataset, dsn=args.dsn,
                                   source_table=args.table, key=args.key, updated=args.updated,
                                   geometry=args.geometry, every_s=args.every, actor=cli_actor())
            print(json.dumps(link, ensure_ascii=False, default=str))
            return 0
        outcome = tables.run_link(engine, args.dataset, actor=cli_actor(), full=args.full)
        link = tables.link_state(engine, args.dataset)
        print(json.dumps({"version": None if outcome is None else _summary(outcome),
                          "link": link}, ensure_ascii=False, default=str))
        return 0 if link["last_status"] and not link["last_status"].startswith("error") else 1
    finally:
        engine.dispose()


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from backend.simulation.dataset_content import generate_content

    engine = _engine(settings)
    try:
        started = time.perf_counter()
        made = generate_content(engine, scale=args.scale, seed=args.seed,
                                only=args.only or None)
        rows = sum(o.rows_total for o in made.values())
        print(f"{len(made)} datasets, {rows} rows in {time.perf_counter() - started:.1f} s")
    finally:
        engine.dispose()
    return 0


def _generate_domains(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime

    from backend.simulation.domain_data import generate_domains

    only = [d.strip() for part in args.only or [] for d in part.split(",") if d.strip()]
    engine = _engine(settings)
    try:
        made = generate_domains(engine, Path(args.folder or settings.var_dir / "domains_data"),
                                seed=args.seed, scale=args.scale, only=only or None,
                                now=datetime.fromisoformat(args.now) if args.now else None)
    finally:
        engine.dispose()
    print(made.line())
    bad = {k: v for k, v in made.loaded.items() if v["status"] not in ("accepted", "empty")}
    for dataset_id, info in bad.items():
        print(f"cityops: {dataset_id}: version {info['version']} {info['status']}",
              file=sys.stderr)
    return 1 if bad else 0


def add_actions(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The arrival commands of the `cityops datasets` group (backend/datasets/cli.py makes the
    group): push keys, the table exchange, the demo's content."""
    key = actions.add_parser("push-key", help="make a department's push credential (the token "
                                              "is printed once), list them, or --revoke ID")
    key.add_argument("department", nargs="?", help="department code, e.g. CGJ")
    key.add_argument("--label", help="what system uses it")
    key.add_argument("--revoke", type=int, metavar="ID", help="revoke credential ID")
    key.set_defaults(handler=_push_key)
    ex = actions.add_parser("exchange", help="库表交换: add a link to a department's table, or "
                                             "run it now")
    ex.add_argument("op", choices=["add", "run"])
    ex.add_argument("dataset")
    ex.add_argument("--dsn", help="libpq DSN of a read-only role on the department's database")
    ex.add_argument("--table", help="schema.table")
    ex.add_argument("--key", help="the key column")
    ex.add_argument("--updated", help="the update column (timestamp or increasing number)")
    ex.add_argument("--geometry", help="the geometry column, if any")
    ex.add_argument("--every", type=int, default=3600, help="seconds between pulls")
    ex.add_argument("--full", action="store_true", help="run: pull the whole table as a full "
                    "version (sees rows deleted upstream)")
    ex.set_defaults(handler=_exchange)
    gen = actions.add_parser("generate", help="the demo's synthetic content (示意) of the "
                                              "datasets declared in content.yaml")
    gen.add_argument("--scale", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=20201)
    gen.add_argument("--only", action="append", help="dataset id (repeatable)")
    gen.set_defaults(handler=_generate)
    dom = actions.add_parser("generate-domains", help="the demo content (示意) of the eight key "
                             "domains, the weather and the duty roster: files written, then "
                             "uploaded as new versions (e.g. --only weather_conditions,"
                             "weather_warnings for fresh weather now)")
    dom.add_argument("--only", action="append", help="dataset ids, comma separated "
                     "(repeatable); default all 19")
    dom.add_argument("--scale", type=float, default=1.0)
    dom.add_argument("--seed", type=int, default=20214)
    dom.add_argument("--now", help="the clock, ISO 8601 with offset (default: now)")
    dom.add_argument("--folder", help="where the files go (default var/domains_data)")
    dom.set_defaults(handler=_generate_domains)
