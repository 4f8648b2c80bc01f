"""The demo's generated content at a small scale: every dataset of content.yaml gets a version
(the two population sources through the population generator, loaded into the base); every
plant is present at exactly its share and the IDs are valid where nothing was planted; linked
datasets reference the base's people and real keys; the stale dataset is 200 days old; audit
entries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from stdnum.cn import uscc

from backend.catalog.dataset_content import load_content
from backend.catalog.layers import load_catalog
from backend.datasets.store import VersionOutcome
from backend.datasets.sync import sync_from
from backend.people.idcheck import check_ids
from backend.settings import Settings
from backend.simulation.dataset_content import (
    POPULATION,
    Context,
    build,
    generate_content,
    planted,
)
from backend.simulation.population import CENSUS_2020
from tests.exchange.helpers import clear_content

SCALE = 0.02
SEED = 7


@pytest.fixture(scope="module")
def generated(engine: sa.Engine, county: dict[str, int],
              settings: Settings) -> Iterator[dict[str, VersionOutcome]]:
    """The catalog's own records of the content datasets (synced as the server does), emptied,
    then generated; the content stays for the session (small: 2 % of the demo's)."""
    sync_from(settings, engine, load_catalog(settings.layers_dir))
    for entry in load_content():
        clear_content(engine, entry.id)
    yield generate_content(engine, scale=SCALE, seed=SEED)
    with engine.begin() as conn:  # the base's persons go (tests/people counts its own cells)
        remove_generated_persons(conn)


def remove_generated_persons(conn: sa.Connection) -> None:
    """The persons, households and addresses the generator's load made (not the test
    population's: those have no source version), and its quarantine rows."""
    conn.execute(sa.text("""
CREATE TEMP TABLE gone ON COMMIT DROP AS SELECT id FROM persons
WHERE source_dataset = ANY(:d) AND source_version IS NOT NULL;
DELETE FROM person_versions WHERE person_id IN (SELECT id FROM gone);
UPDATE households SET head_person_id = NULL WHERE head_person_id IN (SELECT id FROM gone);
DELETE FROM persons WHERE id IN (SELECT id FROM gone);
DELETE FROM households h WHERE household_no ~ '^[0-9]{9}[0Z][0-9]{7}$'
  AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.household_id = h.id);
DELETE FROM addresses a WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.address_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.address_id = a.id);
DELETE FROM population_quarantine WHERE dataset_id = ANY(:d)"""), {"d": list(POPULATION)})


def n_of(entry_id: str) -> int:
    entry = next(d for d in load_content() if d.id == entry_id)
    return max(1, round(entry.rows * SCALE))


def q(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


CURRENT = ("FROM dataset_rows r WHERE r.dataset_id = :d AND r.last_seq IS NULL")


def values(engine: sa.Engine, dataset: str, field: str) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT r.data->>:f {CURRENT}"),  # noqa: S608
                                 {"d": dataset, "f": field}).scalars())


def test_every_dataset_has_its_rows(generated: dict[str, VersionOutcome],
                                    engine: sa.Engine) -> None:
    assert set(generated) == {d.id for d in load_content() if d.generator == "content"}
    for dataset_id, outcome in generated.items():
        assert outcome.status == "accepted", dataset_id
        if dataset_id not in POPULATION:
            assert outcome.rows_total == n_of(dataset_id), dataset_id
    # the population: census x scale current residents, less the refused rows (each planted
    # row is refused, a duplicate pair losing one)
    versions = [generated[d].version_id for d in POPULATION]
    current = q(engine, "SELECT count(*) FROM persons WHERE source_version = ANY(:v) AND "
                        "status IN ('resident', 'registered_elsewhere')", v=versions)
    refused = q(engine, "SELECT count(*) FROM population_quarantine WHERE version_id = ANY(:v)",
                v=versions)
    assert 0 < round(CENSUS_2020 * SCALE) - current <= refused
    assert q(engine, "SELECT count(*) FROM audit_log WHERE action = 'dataset.version' AND "
                     "data->>'arrival' = 'generator'") >= len(generated)
    assert q(engine, "SELECT count(*) FROM datasets WHERE id = 'gdp_quarterly' AND "
                     "last_updated_at < now() - interval '199 days'") == 1
    assert q(engine, "SELECT count(*) FROM dataset_versions v JOIN datasets d ON "
                     "d.current_version_id = v.id WHERE d.id = 'gdp_quarterly' AND "
                     "v.created_at < now() - interval '199 days'") == 1


def test_ids_valid_except_the_planted(generated: dict[str, VersionOutcome],
                                      engine: sa.Engine) -> None:
    ids = values(engine, "household_population", "citizen_id")
    n = generated["household_population"].rows_total
    checks = [p.check for _, p in check_ids(ids, values(engine, "household_population",
                                                        "gender"))]
    assert checks.count("check_digit") == planted(0.0006, n)
    assert checks.count("region") == planted(0.0003, n)
    assert checks.count("birth_date") == planted(0.0004, n)
    # sex_mismatch, plus copied IDs that do not match their row's sex
    assert planted(0.0003, n) <= checks.count("sex") <= planted(0.0003, n) + planted(0.0004, n)
    assert len(ids) - len(set(ids)) == planted(0.0004, n)           # duplicate_key
    assert values(engine, "household_population", "phone").count(None) == planted(0.2, n)
    quarantined = q(engine, "SELECT count(*) FROM population_quarantine WHERE version_id = :v",
                    v=generated["household_population"].version_id)
    assert quarantined == planted(0.0006, n) + planted(0.0003, n) * 2 + planted(0.0004, n) * 2
    firms = values(engine, "enterprises", "uscc")
    assert len([x for x in firms if not uscc.is_valid(x)]) == planted(0.002, n_of("enterprises"))
    orgs = values(engine, "social_organisations", "uscc")
    assert len([x for x in orgs if not uscc.is_valid(x)]) == planted(
        0.01, n_of("social_organisations"))
    employers = [x for x in values(engine, "employment_registrations", "employer_uscc") if x]
    assert len([x for x in employers if not uscc.is_valid(x)]) == planted(
        0.004, n_of("employment_registrations"))


def test_links_and_authority_conflicts(generated: dict[str, VersionOutcome],
                                       engine: sa.Engine) -> None:
    def conflicts(dataset: str) -> int:
        return q(engine, """
            SELECT count(*) FROM dataset_rows r JOIN dataset_rows p
              ON p.dataset_id = 'household_population' AND p.last_seq IS NULL
             AND p.data->>'citizen_id' = r.data->>'citizen_id'
            WHERE r.dataset_id = :d AND r.last_seq IS NULL AND (p.data->>'name' <>
              r.data->>'name' OR p.data->>'birth_date' <> coalesce(r.data->>'birth_date',
              p.data->>'birth_date'))""", d=dataset)

    def orphans(dataset: str, field: str, target: str, key: str) -> int:
        return q(engine, f"""
            SELECT count(*) {CURRENT} AND r.data->>:f IS NOT NULL AND NOT EXISTS (
              SELECT 1 FROM dataset_rows t WHERE t.dataset_id = :t AND t.last_seq IS NULL
              AND t.data->>:k = r.data->>:f)""", d=dataset, f=field, t=target, k=key)  # noqa: S608

    assert conflicts("health_records") == planted(0.004, n_of("health_records"))
    assert conflicts("minimum_living_allowance") == planted(0.01, n_of("minimum_living_allowance"))
    assert orphans("minimum_living_allowance", "citizen_id", "household_population",
                   "citizen_id") == planted(0.003, n_of("minimum_living_allowance"))
    # health records: the planted invalid IDs are not in the population either
    assert orphans("health_records", "citizen_id", "household_population",
                   "citizen_id") == planted(0.001, n_of("health_records"))
    assert orphans("taxpayers", "uscc", "enterprises", "uscc") == planted(
        0.002, n_of("taxpayers"))
    assert orphans("employer_insurance", "uscc", "enterprises", "uscc") == 0
    names = q(engine, """SELECT count(*) FROM dataset_rows r JOIN dataset_rows e
        ON e.dataset_id = 'enterprises' AND e.last_seq IS NULL AND e.data->>'uscc' =
        r.data->>'uscc' WHERE r.dataset_id = 'taxpayers' AND r.last_seq IS NULL
        AND e.data->>'name' <> r.data->>'name'""")
    assert names == planted(0.005, n_of("taxpayers"))


def test_value_plants(generated: dict[str, VersionOutcome], engine: sa.Engine) -> None:
    amounts = [float(x) for x in values(engine, "minimum_living_allowance", "monthly_amount")]
    assert len([a for a in amounts if not 0 <= a <= 3000]) == planted(
        0.002, n_of("minimum_living_allowance"))
    kinds = values(engine, "disabled_persons", "disability_type")
    assert len([k for k in kinds if k not in ("视力", "听力", "言语", "肢体", "智力", "精神",
                                              "多重")]) == planted(0.003, n_of(
                                                  "disabled_persons"))
    import re

    lic = values(engine, "food_business_licences", "licence_no")
    assert len([x for x in lic if not re.match(r"^JY[0-9]{14}$", str(x))]) == planted(
        0.003, n_of("food_business_licences"))
    assert values(engine, "urban_green_space", "name").count(None) == planted(
        0.05, n_of("urban_green_space"))


def test_geometry_plants(generated: dict[str, VersionOutcome], engine: sa.Engine) -> None:
    def count(dataset: str, cond: str) -> int:
        return q(engine, f"SELECT count(*) {CURRENT} AND {cond}", d=dataset)  # noqa: S608

    assert count("traffic_accidents", "ST_IsEmpty(r.geom)") == planted(
        0.003, n_of("traffic_accidents"))
    assert count("highway_projects", "NOT ST_IsValid(r.geom)") == planted(
        0.02, n_of("highway_projects"))
    assert count("rural_water_works", "GeometryType(r.geom) = 'POINT'") == planted(
        0.01, n_of("rural_water_works"))
    outside = "NOT ST_Intersects(r.geom, (SELECT ST_Union(geom) FROM county))"
    assert count("lottery_outlets", outside) == planted(0.02, n_of("lottery_outlets"))
    assert count("enterprises", outside) == planted(0.001, n_of("enterprises"))
    assert count("care_homes", outside) == 0
    parcels = n_of("land_rights_parcels")
    assert count("land_rights_parcels", "NOT ST_IsValid(r.geom)") == planted(0.001, parcels)
    overlapping = q(engine, """SELECT count(*) FROM dataset_rows a JOIN dataset_rows b
        ON b.dataset_id = a.dataset_id AND b.last_seq IS NULL AND a.key < b.key
        AND ST_Overlaps(a.geom, b.geom) WHERE a.dataset_id = 'land_rights_parcels'
        AND a.last_seq IS NULL AND ST_IsValid(a.geom) AND ST_IsValid(b.geom)""")
    assert overlapping == planted(0.002, parcels)
    shrunk = q(engine, f"""SELECT count(*) {CURRENT} AND ST_IsValid(r.geom) AND  -- noqa: S608
        ST_Area(r.geom) < 0.8 * (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY
        ST_Area(geom)) FROM dataset_rows WHERE dataset_id = :d AND last_seq IS NULL)""",
               d="land_rights_parcels")
    assert shrunk == planted(0.002, parcels)  # each leaves a gap to its right neighbour
    toilets = count("public_toilets", "ST_Intersects(r.geom, (SELECT ST_Union(geom) FROM "
                                      "county))")
    assert toilets <= n_of("public_toilets")  # all shifted by GCJ-02 (~500 m): most inside


def test_deterministic(generated: dict[str, VersionOutcome], engine: sa.Engine) -> None:
    from backend.simulation.dataset_values import place_of

    with engine.connect() as conn:
        place = place_of(conn)
    entry = next(d for d in load_content() if d.id == "health_records")
    a, _, pa = build(entry, Context(SEED, 0.005, place, engine))
    b, _, pb = build(entry, Context(SEED, 0.005, place, engine))
    assert a == b and pa == pb
