"""Scores from inserted quality results (weights honoured, missing dimensions shared out),
record-based scores for catalogue entries, department means and ranks, the stored trend, and
the tasks failing rules open, update and close."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.catalog.quality_weights import (
    QualityWeights,
    QualityWeightsError,
    load_quality_weights,
    quality_weights,
)
from backend.quality import scores, tasks
from backend.quality.scores import TZ, Score, from_results, score_all, weighted
from backend.settings import Settings
from tests.sharing.conftest import add_dataset, add_run

H = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def weights() -> QualityWeights:
    return quality_weights(Settings().catalog_dir)


def test_missing_dimensions_share_out_their_weight(weights: QualityWeights) -> None:
    score = from_results([("completeness", 100, 10), ("validity", 100, 0),
                          ("validity", 100, 50), ("geometry", 10, 0),
                          ("consistency", 0, 0)], weights)
    assert score is not None
    assert (score.completeness, score.validity, score.geometry) == (90.0, 75.0, 100.0)
    assert score.consistency is None and score.timeliness is None  # no rule checked anything
    # (0.25*90 + 0.25*75 + 0.15*100) / (0.25 + 0.25 + 0.15)
    assert score.total == 86.5
    assert from_results([("validity", 0, 0)], weights) is None


def test_the_weights_file_decides(weights: QualityWeights) -> None:
    heavy = weights.model_copy(update={"weights": weights.weights.model_copy(
        update={"geometry": 3.0})})
    parts = {"completeness": 50.0, "geometry": 100.0}
    assert weighted(parts, weights).total == pytest.approx((0.25 * 50 + 0.15 * 100) / 0.4,
                                                           abs=0.05)
    assert weighted(parts, heavy).total == pytest.approx((0.25 * 50 + 3 * 100) / 3.25,
                                                         abs=0.05)


def _stored(engine: sa.Engine, dataset_id: str) -> Score:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT completeness, validity, consistency, timeliness, geometry, total "
            "FROM quality_scores WHERE dataset_id = :d ORDER BY day DESC LIMIT 1"),
            {"d": dataset_id}).one()
    return Score(*row)


def test_score_all_scores_runs_and_records_and_ranks_departments(
        engine: sa.Engine, anonymous: TestClient, headers: H, weights: QualityWeights) -> None:
    good = add_dataset(engine, "SCA", fields=[("k", "string", None)])
    add_run(engine, good, [("required:k", "completeness", 100, 10),
                           ("type:k", "validity", 100, 0), ("range:k", "validity", 100, 50),
                           ("valid:geom", "geometry", 10, 0)])
    # a catalogue entry: 3 of 8 record items (summary, share_method, update_cycle), never
    # collected (daily): timeliness 0
    meta = add_dataset(engine, "SCB", storage="metadata", fields=[], share_method="接口")
    irregular = add_dataset(engine, "SCB", storage="metadata", fields=[], summary=None,
                            update_cycle="irregular")
    done = score_all(engine, weights=weights)
    assert done["datasets"] >= 3
    assert _stored(engine, good).total == 86.5
    m = _stored(engine, meta)
    assert (m.completeness, m.timeliness, m.validity) == (37.5, 0.0, None)
    assert m.total == round(0.25 * 37.5 / 0.4, 1)
    i = _stored(engine, irregular)
    assert (i.completeness, i.timeliness, i.total) == (12.5, None, 12.5)  # 1 of 8 items
    ranking = anonymous.get("/api/governance/ranking", headers=headers("viewer")).json()
    by_code = {r["code"]: r for r in ranking}
    assert by_code["SCA"]["total"] == 86.5 and by_code["SCA"]["datasets"] == 1
    assert by_code["SCB"]["total"] == pytest.approx((m.total + i.total) / 2, abs=0.06)
    assert by_code["SCA"]["rank"] < by_code["SCB"]["rank"]
    assert by_code["SCB"]["overdue_updates"] == 1  # the daily one; irregular is never overdue
    ranks = [r["rank"] for r in ranking if r["rank"] is not None]
    assert ranks == list(range(1, len(ranks) + 1))
    # the failing rules are listed on the summaries of the department page
    page = anonymous.get("/api/governance/departments/SCA",
                         headers=headers("data_bureau")).json()
    assert page["datasets"][0]["failing"] == 2 and page["datasets"][0]["score"] == 86.5
    assert page["score"]["total"] == 86.5 and page["rank"] == by_code["SCA"]["rank"]


def test_the_trend_is_the_stored_days_only(engine: sa.Engine, anonymous: TestClient,
                                           headers: H, weights: QualityWeights) -> None:
    ds = add_dataset(engine, "SCC")
    add_run(engine, ds, [("required:name", "completeness", 10, 0)])
    today = datetime.now(TZ).date()
    score_all(engine, today - timedelta(days=1), weights)  # the dataset did not exist then
    score_all(engine, today, weights)
    body = anonymous.get(f"/api/datasets/{ds}/scores?days=30", headers=headers("viewer")).json()
    assert [t["day"] for t in body["trend"]] == [today.isoformat()]
    assert body["latest"]["total"] == 100.0 and body["latest"]["completeness"] == 100.0
    assert anonymous.get("/api/datasets/no_such/scores",
                         headers=headers("viewer")).status_code == 404
    assert anonymous.get(f"/api/datasets/{ds}/scores?days=0",
                         headers=headers("viewer")).status_code == 422


def test_failing_rules_open_update_and_close_tasks(engine: sa.Engine, app: object,
                                                   anonymous: TestClient, headers: H,
                                                   weights: QualityWeights) -> None:
    calendar = app.state.resources.calendar  # type: ignore[attr-defined]
    ds = add_dataset(engine, "CGJ")
    friday = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)  # 15:00 in 泗县
    run1 = add_run(engine, ds, [("required:name", "completeness", 100, 10),
                                ("range:x", "validity", 100, 0)])
    with engine.begin() as conn:
        assert tasks.sync_run(conn, run1, calendar, weights, now=friday) == {
            "opened": 1, "updated": 0, "closed": 0}
    [task] = anonymous.get(f"/api/quality/tasks?dataset={ds}", headers=headers("viewer")).json()
    assert task["rule_key"] == "required:name" and task["failed"] == 10
    assert task["department_code"] == "CGJ" and task["status"] == "open"
    # 10 working days from Friday 15:00: two weeks later, Friday 15:00
    assert datetime.fromisoformat(task["due_at"]) == datetime(2026, 12, 18, 7, 0, tzinfo=UTC)
    run2 = add_run(engine, ds, [("required:name", "completeness", 100, 4),
                                ("range:x", "validity", 100, 0)])
    with engine.begin() as conn:
        assert tasks.sync_run(conn, run2, calendar, weights)["updated"] == 1
    run3 = add_run(engine, ds, [("required:name", "completeness", 100, 0)])
    with engine.begin() as conn:
        assert tasks.sync_run(conn, run3, calendar, weights)["closed"] == 1
    closed = anonymous.get(f"/api/quality/tasks?dataset={ds}&status=all",
                           headers=headers("viewer")).json()
    assert [(t["status"], t["failed"], t["overdue"]) for t in closed] == [("fixed", 4, False)]


def test_the_steward_closes_own_tasks_only_with_a_note_to_dismiss(
        engine: sa.Engine, app: object, anonymous: TestClient, headers: H,
        weights: QualityWeights) -> None:
    calendar = app.state.resources.calendar  # type: ignore[attr-defined]
    own = add_dataset(engine, "CGJ")
    other = add_dataset(engine, "GVB")
    ids = []
    for n, ds in enumerate((own, own, other)):
        run = add_run(engine, ds, [(f"required:f{n}", "completeness", 10, 3)])
        with engine.begin() as conn:
            tasks.sync_run(conn, run, calendar, weights)
            ids += [t["id"] for t in tasks.list_tasks(conn, dataset_id=ds)
                    if t["rule_key"] == f"required:f{n}"]
    mine = anonymous.get("/api/quality/tasks?department=CGJ", headers=headers("data_steward"))
    assert {ids[0], ids[1]} <= {t["id"] for t in mine.json()}
    url = "/api/quality/tasks/{}"
    steward = headers("data_steward")
    assert anonymous.post(url.format(ids[2]), headers=steward,
                          json={"status": "fixed"}).status_code == 403
    assert anonymous.post(url.format(ids[0]), headers=steward,
                          json={"status": "dismissed"}).status_code == 422
    ok = anonymous.post(url.format(ids[0]), headers=steward,
                        json={"status": "fixed", "note": "已补录"})
    assert ok.status_code == 200 and ok.json()["status"] == "fixed"
    assert ok.json()["note"] == "已补录" and ok.json()["closed_at"]
    assert anonymous.post(url.format(ids[0]), headers=steward,
                          json={"status": "fixed"}).status_code == 409
    assert anonymous.post(url.format(ids[1]), headers=headers("viewer"),
                          json={"status": "fixed"}).status_code == 403
    with engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT actor, data->>'note' FROM audit_log WHERE action = 'quality.task.fixed' "
            "AND entity_id = :id"), {"id": str(ids[0])}).one()
    assert tuple(audited) == ("data_steward", "已补录")


def test_governance_pages_per_role(engine: sa.Engine, anonymous: TestClient,
                                   headers: H) -> None:
    add_dataset(engine, "CGJ")
    assert anonymous.get("/api/governance/overview", headers=headers("viewer")).status_code == 403
    overview = anonymous.get("/api/governance/overview", headers=headers("data_bureau"))
    assert overview.status_code == 200
    body = overview.json()
    assert body["datasets"] >= 1 and body["departments"] >= 1
    assert isinstance(body["overdue_updates"], list) and isinstance(body["open_tasks"], int)
    assert anonymous.get("/api/governance/departments/CGJ",
                         headers=headers("data_steward")).status_code == 200
    assert anonymous.get("/api/governance/departments/GVB",
                         headers=headers("data_steward")).status_code == 403
    assert anonymous.get("/api/governance/departments/GVB",
                         headers=headers("data_bureau")).status_code == 200
    assert anonymous.get("/api/governance/departments/CGJ",
                         headers=headers("viewer")).status_code == 403
    assert anonymous.get("/api/governance/departments/NOPE",
                         headers=headers("data_bureau")).status_code == 404


def test_scores_module_reads_nothing_but_stored_runs(engine: sa.Engine,
                                                     weights: QualityWeights) -> None:
    """A backfill recomputes past days only from stored runs: no run, no day."""
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(started_at) FROM quality_runs")).scalar()
    written = scores.backfill(engine, 3, weights)
    today = datetime.now(TZ).date()
    assert written == (today - max(today - timedelta(days=3),
                                   first.astimezone(TZ).date())).days + 1


def test_after_a_run_the_tasks_and_todays_scores_follow(engine: sa.Engine, app: object,
                                                        weights: QualityWeights) -> None:
    calendar = app.state.resources.calendar  # type: ignore[attr-defined]
    ds = add_dataset(engine, "SCD")
    run = add_run(engine, ds, [("required:name", "completeness", 20, 5)])
    assert tasks.after_run(engine, run, calendar, weights)["opened"] == 1
    assert _stored(engine, ds).total == 75.0


def test_the_weights_file_is_strict(tmp_path: Path) -> None:
    good = (Settings().catalog_dir / "quality_weights.yaml").read_text("utf-8")
    (tmp_path / "quality_weights.yaml").write_text(good.replace("weights:", "wieghts:", 1))
    with pytest.raises(QualityWeightsError, match="wieghts: unknown key"):
        load_quality_weights(tmp_path)
    (tmp_path / "quality_weights.yaml").write_text(good.replace("  yearly: 366\n", ""))
    with pytest.raises(QualityWeightsError, match="yearly"):
        load_quality_weights(tmp_path)
