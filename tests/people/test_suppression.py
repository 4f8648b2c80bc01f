"""Suppression (backend.people.suppression), pure: the rules on small hand-made tables, and the
differencing attack (tests/people/attack.py) over random synthetic populations: it must not pin
down one suppressed figure, nor show a primary one to be under k."""

from __future__ import annotations

import numpy as np
import pytest

from backend.people.suppression import FIELDS, Unit, primary, publish, relations, suppress
from tests.people.attack import intervals

K = 5


def counts(ages: list[int], sexes: list[str], households: list[int]) -> dict[str, int]:
    """The figures of one grid cell from its people (households: each person's household)."""
    size: dict[int, int] = {}
    for h in households:
        size[h] = size.get(h, 0) + 1
    return {
        "population": len(ages),
        "households": len(size),
        "male": sexes.count("男"),
        "female": sexes.count("女"),
        "age_0_14": sum(a <= 14 for a in ages),
        "age_15_59": sum(15 <= a <= 59 for a in ages),
        "age_60_plus": sum(a >= 60 for a in ages),
        "elderly_alone": sum(a >= 60 and size[h] == 1
                             for a, h in zip(ages, households, strict=True)),
        "children": sum(a < 18 for a in ages),
    }


def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {f: a[f] + b[f] for f in FIELDS}


def random_table(seed: int, towns: int = 2, communities: int = 3, cells: int = 4
                 ) -> list[Unit]:
    """A county of random cells: some empty, some tiny, most of a few dozen people."""
    rng = np.random.default_rng(seed)
    zero = dict.fromkeys(FIELDS, 0)
    units: list[Unit] = []
    county = dict(zero)
    for t in range(towns):
        town = dict(zero)
        tcode = f"T{t}"
        for c in range(communities):
            comm = dict(zero)
            ccode = f"{tcode}C{c}"
            for g in range(cells):
                n = int(rng.choice([0, int(rng.integers(1, 5)), int(rng.integers(5, 60))],
                                   p=[0.1, 0.3, 0.6]))
                ages = [int(a) for a in rng.integers(0, 95, n)]
                sexes = [str(s) for s in rng.choice(["男", "女"], n)]
                households: list[int] = []
                h = 0
                while len(households) < n:
                    households += [h] * int(rng.integers(1, 6))
                    h += 1
                figures = counts(ages, sexes, households[:n])
                units.append(Unit(f"{ccode}G{g}", "grid", ccode, figures))
                comm = add(comm, figures)
            units.append(Unit(ccode, "community", tcode, comm))
            town = add(town, comm)
        units.append(Unit(tcode, "township", "X", town))
        county = add(county, town)
    units.append(Unit("X", "county", None, county))
    return units


def test_primary_hides_one_to_four_and_publishes_zeros() -> None:
    units = random_table(1)
    hidden = primary(units, K)
    for u in units:
        for f in FIELDS:
            assert ((u.code, f) in hidden) == (0 < u.values[f] < K)
    assert any(u.values[f] == 0 for u in units for f in FIELDS)


def test_every_relation_holds_in_the_synthetic_tables() -> None:
    units = random_table(2)
    value = {(u.code, f): u.values[f] for u in units for f in FIELDS}
    for rel in relations(units):
        assert value[rel.total] == sum(value[p] for p in rel.parts)


def test_a_single_hidden_part_gets_a_complement() -> None:
    """A published total with one part under k: the smallest other non-zero part goes too,
    and the sum of the hidden parts leaves each at least k."""
    grid = {"population": 40, "households": 12, "male": 38, "female": 2, "age_0_14": 10,
            "age_15_59": 20, "age_60_plus": 10, "elderly_alone": 0, "children": 12}
    other = {"population": 30, "households": 10, "male": 15, "female": 15, "age_0_14": 8,
             "age_15_59": 14, "age_60_plus": 8, "elderly_alone": 5, "children": 9}
    units = [Unit("A", "grid", "C", grid), Unit("B", "grid", "C", other),
             Unit("C", "community", None, add(grid, other))]
    out = suppress(units, K)
    assert "female" in out["A"] and "male" in out["A"]        # the partition
    assert "female" in out["B"]                                # the hierarchy (15 < 17)
    assert publish(grid, out["A"])["female"] is None
    assert out["C"] == []


def test_a_parent_with_one_child_follows_it() -> None:
    cell = {"population": 9, "households": 3, "male": 6, "female": 3, "age_0_14": 3,
            "age_15_59": 6, "age_60_plus": 0, "elderly_alone": 0, "children": 3}
    units = [Unit("G", "grid", "C", cell), Unit("C", "community", None, dict(cell))]
    out = suppress(units, K)
    assert out["G"] == out["C"]
    assert {"female", "male", "age_0_14", "age_15_59", "children"} <= set(out["C"])


def test_deterministic() -> None:
    units = random_table(3)
    assert suppress(units, K) == suppress(list(reversed(units)), K)


@pytest.mark.parametrize("seed", range(8))
def test_differencing_attack_recovers_nothing(seed: int) -> None:
    """From every published figure the attacker solves for each suppressed one: none is pinned
    to one value, and a primary one (under k) is never shown to be under k."""
    units = random_table(seed)
    out = suppress(units, K)
    hidden = primary(units, K)
    got = intervals(units, out)
    assert len(got) >= len(hidden) > 0
    value = {(u.code, f): u.values[f] for u in units for f in FIELDS}
    for key, (lo, hi) in got.items():
        assert lo <= value[key] <= hi, key
        assert hi > lo, f"{key} pinned to {lo}"
        if key in hidden:
            assert hi >= K, f"{key} (true {value[key]}) shown to be at most {hi}"
