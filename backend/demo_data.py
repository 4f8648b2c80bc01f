"""The demo's data catalog (issue 12): the catalog synced, the layers loaded before it existed
recorded as their datasets' first versions, the ~30 content datasets generated (示意/synthetic,
about a million rows), the 19 domain datasets of issue 14 uploaded as files, every quality rule
run, the scores and tasks made, and a few requests
between departments at each step of the share flow, so that the data center has something to
show on first login. Each step runs once: a later `make demo` finds it done."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from backend.catalog.layers import LayerCatalog
from backend.settings import Settings


def prepare_demo_data(settings: Settings, engine: sa.Engine, layers: LayerCatalog) -> None:
    from backend.datasets.sync import sync_from

    started = time.perf_counter()
    result = sync_from(settings, engine, layers)
    _record_layer_loads(engine, layers)
    _population(settings, engine)
    generated = _generate(engine)
    if (line := domain_datasets(settings, engine)) is not None:
        print(line, flush=True)
    runs = _quality(settings, engine, layers)
    made = _requests(settings, engine)
    print(f"data catalog (示意/synthetic metadata): {result.datasets} datasets, "
          f"{generated:,} rows generated, {runs} quality runs, {made} demo requests in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def _record_layer_loads(engine: sa.Engine, layers: LayerCatalog) -> None:
    """The demo county's layers were loaded before their catalog records existed: each gets
    its first version now (counted from its table)."""
    from backend.datasets.store import record_layer_load

    with engine.begin() as conn:
        waiting = set(conn.execute(sa.text(
            "SELECT layer_id FROM datasets WHERE storage = 'layer' AND latest_seq = 0"))
            .scalars())
        cur = conn.connection.dbapi_connection.cursor()
        for spec in layers.layers:
            if spec.id in waiting and spec.source.kind == "table":
                record_layer_load(cur, layer_id=spec.id, table=spec.source.table,
                                  source="demo", actor="demo")


def _population(settings: Settings, engine: sa.Engine) -> None:
    """The demo population (示意/synthetic, 763,310 current residents) written as the two
    source datasets and loaded into the base, before the content that links to it."""
    from backend.simulation.population import generate_population

    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM persons WHERE source_version IS "
                                "NOT NULL)")).scalar_one():
            return
    print("population: generating and loading the demo population (示意, 763,310 residents)...",
          flush=True)
    print(generate_population(engine, stats_k=settings.population_k).line(), flush=True)


def _generate(engine: sa.Engine) -> int:
    from backend.catalog.dataset_content import load_content
    from backend.simulation.dataset_content import POPULATION, generate_content

    with engine.connect() as conn:
        done = conn.execute(sa.text(
            "SELECT count(*) FROM dataset_versions WHERE arrival = 'generator' AND "
            "NOT (dataset_id = ANY(:p))"), {"p": list(POPULATION)}).scalar_one()
    if done:
        return 0
    print("data catalog: generating the content datasets (示意, about 1 M rows, a minute)...",
          flush=True)
    only = [e.id for e in load_content() if e.id not in POPULATION]
    outcomes = generate_content(engine, only=only)
    return sum(o.rows_total for o in outcomes.values())


def domain_datasets(settings: Settings, engine: sa.Engine, *, scale: float = 1.0
                    ) -> str | None:
    """The 19 domain datasets (示意) not loaded yet, generated for now and uploaded as files
    (var/domains_data/); their summary line, None when every one already has a version."""
    from backend.simulation.domain_data import generate_domains, missing_domains

    missing = missing_domains(engine)
    if not missing:
        return None
    return generate_domains(engine, settings.var_dir / "domains_data", scale=scale,
                            only=missing).line()


def _quality(settings: Settings, engine: sa.Engine, layers: LayerCatalog) -> int:
    from backend.incidents.calendar import WorkCalendar
    from backend.quality.rules import sync_rules
    from backend.quality.runner import run_all

    sync_rules(engine, settings.catalog_dir)
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT count(*) FROM quality_runs")).scalar_one():
            return 0
    calendar = WorkCalendar.load(*settings.work_calendars)
    return len(run_all(engine, calendar, layers=layers, trigger="manual",
                       catalog_dir=settings.catalog_dir))


# (requester, dataset, purpose, fields, what follows: bureau pass, provider approve)
DEMO_REQUESTS = (
    ("viewer", "enterprises", "大屏展示全县市场主体分布（示意）", ["uscc", "name", "industry"],
     ("review_pass",)),
    ("dispatcher", "household_population", "核对网格内实有人口，辅助案件处置（示意）",
     ["name", "birth_date", "township_code"], ("review_pass",)),
    ("commander", "sx273", "指挥中心掌握城区停车泊位，研判交通拥堵（示意）", [], ("review_pass",)),
    ("dispatcher", "petitions", "了解信访热点区域（示意）", [], ()),
)


def _requests(settings: Settings, engine: sa.Engine) -> int:
    """Requests at each step: one approved (无条件共享, granted), one waiting for 公安局 and
    one for 城管局 (the demo steward answers it), one refused at once (不予共享)."""
    from backend.auth.permissions import principal_for
    from backend.incidents.calendar import WorkCalendar
    from backend.sharing.service import act, create_request

    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT count(*) FROM data_requests")).scalar_one():
            return 0
        users = {r.username: r for r in conn.execute(sa.text(
            "SELECT id, username, display_name, roles, department FROM users"))}
    if "bureau" not in users:
        return 0
    calendar = WorkCalendar.load(*settings.work_calendars)

    def who(name: str):  # noqa: ANN202
        u = users[name]
        return principal_for(u.id, u.username, u.display_name, u.roles, u.department)

    made = 0
    with engine.begin() as conn:
        for requester, dataset, purpose, fields, steps in DEMO_REQUESTS:
            if requester not in users:
                continue
            request = create_request(conn, dataset_id=dataset, principal=who(requester),
                                     purpose=purpose, fields=fields, period_days=180,
                                     calendar=calendar, now=datetime.now(UTC))
            for action in steps:
                act(conn, request_id=request["id"], action=action, reason=None,
                    principal=who("bureau"), calendar=calendar)
            made += 1
    return made
