"""Cell suppression for the population counts: pure, no database.

The published table: for every unit (grid cell -> community -> township -> county) the counts
of FIELDS. Every published figure is additive: a parent's figure is the sum of its children's,
male + female = population and the three age bands sum to the population. Children (< 18),
elderly living alone and households are bounded by other figures (SUBSETS, and children lie
between age_0_14 and age_0_14 + age_15_59).

The attacker: knows every published number at every level and every breakdown, knows these
relations and these rules (zeros are published, so a suppressed figure is at least 1), and
solves the linear system for a suppressed figure; they know no individual. The rules below make
every suppressed figure keep an interval of feasible values instead of one (tests/people/
test_suppression.py plays the attack with an integer program over random tables).

Primary suppression: a count with 0 < value < k. Zeros are published: a zero says that nobody
in the unit has the attribute, which discloses nothing about a person (and suppressing every
zero would hide most of a sparse table for nothing).

Complementary suppression, to a fixed point, over every additive relation `total = sum(parts)`
(a parent and its children for one field; a unit's partitions):
- the total suppressed and no part suppressed: the parts would give it back, so the smallest
  non-zero part is suppressed too;
- the total published: the suppressed parts' sum is known, so there must be at least two of
  them and their sum must leave each at least k (sum - (n - 1) >= k, each of the others being at
  least 1); otherwise the smallest published non-zero part is added.
- bounds that collapse: children suppressed while age_0_14 and age_15_59 = 0 are published
  (children = age_0_14 then) suppresses age_0_14.
Ties are broken by unit code then field order: the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FIELDS = ("population", "households", "male", "female", "age_0_14", "age_15_59", "age_60_plus",
          "elderly_alone", "children")
# A unit's partitions of its population.
PARTITIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("population", ("male", "female")),
    ("population", ("age_0_14", "age_15_59", "age_60_plus")),
)
# small <= big, in every unit.
SUBSETS: tuple[tuple[str, str], ...] = (
    ("households", "population"), ("children", "population"), ("age_0_14", "children"),
    ("elderly_alone", "age_60_plus"), ("elderly_alone", "households"),
)
LEVELS = ("grid", "community", "township", "county")

Key = tuple[str, str]  # (unit code, field)


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    parent: str | None          # the code of the unit one level up (None for the county)
    values: Mapping[str, int]


@dataclass(frozen=True)
class Relation:
    """total = sum(parts), for one field between levels or one partition within a unit."""

    total: Key
    parts: tuple[Key, ...]


def relations(units: Sequence[Unit]) -> list[Relation]:
    """Every additive relation the published table satisfies, in a fixed order."""
    children: dict[str, list[str]] = {}
    for u in units:
        if u.parent is not None:
            children.setdefault(u.parent, []).append(u.code)
    out: list[Relation] = []
    for u in sorted(units, key=lambda u: (LEVELS.index(u.level), u.code)):
        for total, parts in PARTITIONS:
            out.append(Relation((u.code, total), tuple((u.code, p) for p in parts)))
        kids = sorted(children.get(u.code, ()))
        if kids:
            for f in FIELDS:
                out.append(Relation((u.code, f), tuple((c, f) for c in kids)))
    return out


def primary(units: Iterable[Unit], k: int) -> set[Key]:
    return {(u.code, f) for u in units for f in FIELDS if 0 < u.values[f] < k}


def suppress(units: Sequence[Unit], k: int) -> dict[str, list[str]]:
    """The suppressed fields of each unit (FIELDS order), every unit present (maybe []):
    primary, the rules to a fixed point, then the audit (backend.people.protection) adds
    figures until no suppressed one can be solved for."""
    from backend.people.protection import protect  # scipy, loaded only when suppressing

    value = values_of(units)
    rels = relations(units)
    hidden = protect(units, rels, value, complete(units, rels, value, primary(units, k), k), k,
                     lambda h: complete(units, rels, value, h, k))
    return {u.code: [f for f in FIELDS if (u.code, f) in hidden] for u in units}


def values_of(units: Iterable[Unit]) -> dict[Key, int]:
    return {(u.code, f): int(u.values[f]) for u in units for f in FIELDS}


def complete(units: Sequence[Unit], rels: Sequence[Relation], value: Mapping[Key, int],
             hidden: set[Key], k: int) -> set[Key]:
    """The complementary rules applied to `hidden` until none adds a figure."""
    hidden = set(hidden)
    changed = True
    while changed:
        changed = False
        for rel in rels:
            add = _needed(rel, value, hidden, k)
            if add is not None:
                hidden.add(add)
                changed = True
        for u in units:
            code = u.code
            if ((code, "children") in hidden and (code, "age_0_14") not in hidden
                    and value[(code, "age_0_14")] > 0
                    and (code, "age_15_59") not in hidden and value[(code, "age_15_59")] == 0):
                hidden.add((code, "age_0_14"))
                changed = True
    return hidden


def _needed(rel: Relation, value: Mapping[Key, int], hidden: set[Key], k: int) -> Key | None:
    """The part to suppress next for this relation to hold no suppressed figure exactly, or
    None when it is safe as it stands."""
    hid_parts = [p for p in rel.parts if p in hidden]
    if rel.total in hidden:
        if hid_parts:
            return None
    elif not hid_parts:
        return None
    else:
        n = len(hid_parts)
        if n >= 2 and sum(value[p] for p in hid_parts) - (n - 1) >= k:
            return None
    candidates = [p for p in rel.parts if p not in hidden and value[p] > 0]
    if not candidates:
        # every non-zero part is hidden already (a parent with one child, say): the total
        # would give them back, so it goes too
        return None if rel.total in hidden else rel.total
    return min(candidates, key=lambda p: (value[p], p[0], FIELDS.index(p[1])))


def publish(values: Mapping[str, int], suppressed: Iterable[str]) -> dict[str, int | None]:
    """The figures as published: a suppressed one is None."""
    gone = set(suppressed)
    return {f: (None if f in gone else int(values[f])) for f in FIELDS}
