"""The demo population generator at a small scale on synthetic homes (no database): the current
count is the census x scale, IDs are unique and pass every check, the statuses and the 暂住 share
are there, the output is deterministic, and the planted rows are each refused by a check."""

from __future__ import annotations

from collections import Counter

import numpy as np

from backend.people.idcheck import check_ids
from backend.simulation.population import CENSUS_2020, Homes, generate, plant_bad_rows

SCALE = 0.01


def homes() -> Homes:
    g = np.random.default_rng(3)
    m = 800
    return Homes(np.arange(1, m + 1), g.uniform(50, 3000, m), g.integers(1, 12, m),
                 np.array(["341324100", "341324001"] * (m // 2)),
                 np.array(["汴河社区", "大路口村"] * (m // 2)))


def test_counts_ids_and_statuses() -> None:
    out = generate(7, SCALE, homes())
    hp, tp = out["household_population"], out["temporary_population"]
    statuses = Counter(hp["status"])
    current = statuses["正常"] + len(tp["citizen_id"])
    assert current == round(CENSUS_2020 * SCALE)
    assert statuses["死亡"] > 0 and statuses["人户分离"] + statuses["迁出"] > 0
    assert 0.03 < len(tp["citizen_id"]) / current < 0.07
    ids = hp["citizen_id"] + tp["citizen_id"]
    assert len(set(ids)) == len(ids)
    assert check_ids(ids, hp["gender"] + tp["gender"]) == []
    born_out = sum(not c.startswith(("341324", "342225")) for c in hp["citizen_id"])
    assert 0.02 < born_out / len(hp["citizen_id"]) < 0.08
    assert all(r != "341324" for r in tp["registered_region"])
    assert {b is None for b, s in zip(hp["building_id"], hp["status"], strict=True)
            if s in ("人户分离", "迁出")} == {True}
    assert set(hp["relation"]) <= {"户主", "配偶", "子女", "父母", "孙子女"}
    assert generate(7, SCALE, homes())["household_population"]["citizen_id"] == hp["citizen_id"]


def test_planted_rows_are_refused() -> None:
    """content.yaml's plants of household_population, each at exactly its share and refused by
    its own check (a copied ID keeps its row's own sex and birth date: it may fail those too)."""
    from backend.simulation.dataset_values import planted

    cols = generate(7, SCALE, homes())["household_population"]
    n = len(cols["citizen_id"])
    done = plant_bad_rows("household_population", cols, 7)
    assert {k: len(v) for k, v in done.items()} == {
        "invalid_citizen_id": planted(0.0006, n), "impossible_birth_date": planted(0.0004, n),
        "unknown_region": planted(0.0003, n), "sex_mismatch": planted(0.0003, n),
        "missing:phone": planted(0.2, n), "duplicate_key": planted(0.0004, n)}
    assert cols["phone"].count(None) == planted(0.2, n)
    found = dict(check_ids(cols["citizen_id"], cols["gender"]))
    for defect, check in (("invalid_citizen_id", "check_digit"), ("sex_mismatch", "sex"),
                          ("impossible_birth_date", "birth_date"), ("unknown_region", "region")):
        assert {found[i].check for i in done[defect]} == {check}, defect
    planted_ids = {i for k, v in done.items() if k != "missing:phone" for i in v}
    assert set(found) - planted_ids <= {j for i in done["duplicate_key"] for j in range(n)
                                        if cols["citizen_id"][j] == cols["citizen_id"][i]}
    dupes = n - len(set(cols["citizen_id"]))
    assert dupes == len(done["duplicate_key"])
