"""The differencing attack on a published population table: every published figure at every
level and breakdown, every relation between them (backend.people.suppression.relations, the
subset bounds, children between age_0_14 and age_0_14 + age_15_59), integers, each suppressed
figure at least 1 (zeros are published). For each suppressed figure an integer program finds
its least and greatest feasible value (scipy's HiGHS MILP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from backend.people.suppression import FIELDS, SUBSETS, Key, Unit, relations


def intervals(units: Sequence[Unit], suppressed: Mapping[str, Sequence[str]]
              ) -> dict[Key, tuple[int, int]]:
    """The attacker's interval for every suppressed figure, solved from the published ones."""
    unknown = sorted((code, f) for code, fields in suppressed.items() for f in fields)
    if not unknown:
        return {}
    index = {key: i for i, key in enumerate(unknown)}
    value = {(u.code, f): int(u.values[f]) for u in units for f in FIELDS}
    rows: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []

    def linear(terms: list[tuple[Key, float]], low: float, high: float) -> None:
        """sum(coef * figure) in [low, high]; published figures move to the bounds."""
        row = np.zeros(len(unknown))
        const = 0.0
        for key, coef in terms:
            if key in index:
                row[index[key]] += coef
            else:
                const += coef * value[key]
        if row.any():
            rows.append(row)
            lo.append(low - const)
            hi.append(high - const)

    for rel in relations(units):
        linear([(rel.total, 1.0)] + [(p, -1.0) for p in rel.parts], 0, 0)
    for u in units:
        for small, big in SUBSETS:
            linear([((u.code, small), 1.0), ((u.code, big), -1.0)], -np.inf, 0)
        # children <= age_0_14 + age_15_59
        linear([((u.code, "children"), 1.0), ((u.code, "age_0_14"), -1.0),
                ((u.code, "age_15_59"), -1.0)], -np.inf, 0)
    constraints = LinearConstraint(np.array(rows), np.array(lo), np.array(hi)) if rows else None
    n = len(unknown)
    big = float(max(value.values()) + 1)
    out: dict[Key, tuple[int, int]] = {}
    for key, i in index.items():
        found = []
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[i] = sign
            res = milp(c, constraints=constraints, integrality=np.ones(n),
                       bounds=Bounds(np.ones(n), np.full(n, big)))
            assert res.status == 0, f"the published table is infeasible for {key}: {res.message}"
            found.append(round(res.x[i]))
        out[key] = (found[0], found[1])
    return out
