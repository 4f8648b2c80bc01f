"""`cityops audit verify | anchor`: the chain checked against itself and against every signed
anchor; an anchor written now. Exit 0 when all agree, 1 naming the first contradiction."""

from __future__ import annotations

import sys

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.audit.anchors import AnchorError, AnchorKey, anchor_paths, read_anchors, write_anchor
from backend.audit.chain import verify
from backend.settings import Settings


def run(action: str, settings: Settings, engine: Engine) -> int:
    anchors_file, key_file = anchor_paths(settings)
    if action == "anchor":
        with engine.connect() as conn:
            written = write_anchor(conn, anchors_file, AnchorKey.load_or_create(key_file))
        if written is None:
            print("the audit log is empty: nothing to anchor")
        else:
            anchor = written[0]
            print(f"anchored {anchor.rows} rows up to row {anchor.last_id} in {anchors_file}")
        return 0
    return _verify(settings, engine)


def _verify(settings: Settings, engine: Engine) -> int:
    anchors_file, key_file = anchor_paths(settings)
    with engine.connect() as conn:
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        reading = None
        if anchors_file.exists():
            try:
                reading = read_anchors(anchors_file, AnchorKey.load(key_file), database)
            except AnchorError as exc:
                print(f"audit anchors cannot be checked: {exc}", file=sys.stderr)
                return 1
        verdict = verify(conn, anchors=reading.anchors if reading else (),
                         anchors_file=anchors_file)
    failed = not verdict.ok
    if reading is None:
        print(f"warning: no anchors file {anchors_file}: the chain was checked only against "
              "itself (the newest rows could have been deleted unnoticed)", file=sys.stderr)
    else:
        for line_no, why in reading.bad:
            failed = True
            print(f"audit anchors broken: line {line_no} of {anchors_file} {why}",
                  file=sys.stderr)
        if reading.other_databases:
            print(f"({reading.other_databases} anchors of other databases skipped)")
    if not verdict.ok:
        print(f"audit log broken: {verdict.problem} ({verdict.rows} rows before it verified)",
              file=sys.stderr)
    if failed:
        return 1
    agreeing = f", agreeing with {verdict.anchors} anchors" if reading is not None else ""
    print(f"audit log intact: {verdict.rows} rows{agreeing}")
    return 0
