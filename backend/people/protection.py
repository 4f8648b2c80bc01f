"""The audit that closes what the rules of backend.people.suppression leave open.

Rules per relation are not enough: relations combine (two partitions of one cell and the age
bands of its community, say, can leave a + c = 2 for two suppressed figures, so both are 1).
So after the rules the published table is attacked the way an attacker would (integer programs
over every published figure and relation, scipy's HiGHS), and while a suppressed figure can be
solved for, one more figure next to it is suppressed and the rules run again.

What "protected" means here: a primary figure (under k) can reach k in some table consistent
with everything published (so it cannot be shown to be small), and every other suppressed
figure has at least two feasible values. Few programs are solved: one solution that lifts many
primaries to k certifies them all at once, and every solution seen shows which figures vary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from backend.people.suppression import FIELDS, SUBSETS, Key, Relation, Unit

MAX_ROUNDS = 500


class System:
    """The attacker's constraints on the suppressed figures (each an integer >= 1)."""

    def __init__(self, units: Sequence[Unit], rels: Sequence[Relation],
                 value: Mapping[Key, int], hidden: set[Key]) -> None:
        self.keys = sorted(hidden)
        self.rows: list[tuple[dict[int, float], float, float]] = []
        self.index = {key: i for i, key in enumerate(self.keys)}
        rows = self.rows

        def linear(terms: Sequence[tuple[Key, float]], low: float, high: float) -> None:
            row: dict[int, float] = {}
            const = 0.0
            for key, coef in terms:
                if key in self.index:
                    row[self.index[key]] = row.get(self.index[key], 0.0) + coef
                else:
                    const += coef * value[key]
            if any(row.values()):
                rows.append((row, low - const, high - const))

        for rel in rels:
            linear([(rel.total, 1.0)] + [(p, -1.0) for p in rel.parts], 0.0, 0.0)
        for u in units:
            for small, big in SUBSETS:
                linear([((u.code, small), 1.0), ((u.code, big), -1.0)], -np.inf, 0.0)
            linear([((u.code, "children"), 1.0), ((u.code, "age_0_14"), -1.0),
                    ((u.code, "age_15_59"), -1.0)], -np.inf, 0.0)
        n = len(self.keys)
        matrix = lil_matrix((max(len(rows), 1), n))
        for r, (row, _, _) in enumerate(rows):
            for i, coef in row.items():
                matrix[r, i] = coef
        lo = np.array([r[1] for r in rows] or [0.0])
        hi = np.array([r[2] for r in rows] or [0.0])
        self.constraints = LinearConstraint(matrix.tocsr(), lo, hi)
        self.bounds = Bounds(np.ones(n), np.full(n, float(max(value.values(), default=0) + 1)))

    def solve(self, weights: Mapping[int, float], *, integral: bool = True) -> np.ndarray:
        """A feasible table maximising sum(weight * figure); `integral=False` solves the
        relaxation (its optimum bounds the integer one: enough to see a figure vary)."""
        c = np.zeros(len(self.keys))
        for i, w in weights.items():
            c[i] = -w
        res = milp(c, constraints=self.constraints,
                   integrality=np.ones(len(self.keys)) if integral else None,
                   bounds=self.bounds)
        if res.x is None:
            raise RuntimeError(f"the published table has no solution: {res.message}")
        return np.asarray(res.x) if not integral else np.rint(res.x)


def components(units: Sequence[Unit], rels: Sequence[Relation], value: Mapping[Key, int],
               hidden: set[Key]) -> list[set[Key]]:
    """The suppressed figures split into groups no published relation links: the attacker's
    system is block-diagonal, so each group is attacked (and stays safe) on its own."""
    system = System(units, rels, value, hidden)
    parent = list(range(len(system.keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row, _, _ in system.rows:
        first, *rest = row
        for j in rest:
            parent[find(j)] = find(first)
    groups: dict[int, set[Key]] = {}
    for i, key in enumerate(system.keys):
        groups.setdefault(find(i), set()).add(key)
    return sorted(groups.values(), key=min)


def leak(units: Sequence[Unit], rels: Sequence[Relation], value: Mapping[Key, int],
         hidden: set[Key], k: int, excused: set[Key],
         safe: set[frozenset[Key]] | None = None) -> Key | None:
    """A suppressed figure the attacker can pin down (or show under k, unless `excused`:
    nothing is left to suppress near it), or None. The groups not yet known safe are attacked
    together first (one system: cheapest when they are safe, the usual case); when that finds
    a leak, group by group, so that `safe` remembers every group found safe (a group with the
    same figures has the same constraints) and later rounds attack only what changed."""
    safe = set() if safe is None else safe
    open_groups = [g for g in components(units, rels, value, hidden) if frozenset(g) not in safe]
    if not open_groups:
        return None
    if len(open_groups) > 1:
        everything = set().union(*open_groups)
        if _leak_in(units, rels, value, everything, k, excused) is None:
            safe.update(frozenset(g) for g in open_groups)
            return None
    for group in open_groups:
        found = _leak_in(units, rels, value, group, k, excused)
        if found is not None:
            return found
        safe.add(frozenset(group))
    return None


def _leak_in(units: Sequence[Unit], rels: Sequence[Relation], value: Mapping[Key, int],
             hidden: set[Key], k: int, excused: set[Key]) -> Key | None:
    if not hidden:
        return None
    system = System(units, rels, value, hidden)
    seen: list[np.ndarray] = [system.solve({i: 1.0 for i in range(len(system.keys))}),
                              system.solve({i: -1.0 for i in range(len(system.keys))})]
    small = {system.index[key] for key in hidden if value[key] < k and key not in excused}
    open_ = {i for i in small if max(s[i] for s in seen) < k}
    while open_:
        got = system.solve(dict.fromkeys(open_, 1.0))
        seen.append(got)
        lifted = {i for i in open_ if got[i] >= k}
        if not lifted:
            for i in sorted(open_):
                one = system.solve({i: 1.0})
                seen.append(one)
                if one[i] < k:
                    return system.keys[i]
            break
        open_ -= lifted
    stack = np.vstack(seen)
    fixed = [i for i in range(len(system.keys)) if stack[:, i].min() == stack[:, i].max()]
    for i in fixed:
        top = system.solve({i: 1.0}, integral=False)[i]
        low = system.solve({i: -1.0}, integral=False)[i]
        if top - low < 1e-6:
            return system.keys[i]
    return None


def neighbour(key: Key, rels: Sequence[Relation], value: Mapping[Key, int],
              hidden: set[Key]) -> Key | None:
    """The smallest published non-zero figure nearest `key` in the graph of relations: the
    members of its relations first, then theirs."""
    members: dict[Key, list[Relation]] = {}
    for rel in rels:
        for m in (rel.total, *rel.parts):
            members.setdefault(m, []).append(rel)
    frontier, visited = [key], {key}
    while frontier:
        ring: list[Key] = []
        for k_ in frontier:
            for rel in members.get(k_, ()):
                for m in (rel.total, *rel.parts):
                    if m not in visited:
                        visited.add(m)
                        ring.append(m)
        pick = [m for m in ring if m not in hidden and value[m] > 0]
        if pick:
            return min(pick, key=lambda m: (value[m], m[0], FIELDS.index(m[1])))
        frontier = ring
    return None


def protect(units: Sequence[Unit], rels: Sequence[Relation], value: Mapping[Key, int],
            hidden: set[Key], k: int, complete: Callable[[set[Key]], set[Key]]) -> set[Key]:
    """`hidden` grown until the audit finds no leak (deterministic: the programs' optima are
    only used to find a leak, and the figure added is chosen by value and code)."""
    excused: set[Key] = set()
    safe: set[frozenset[Key]] = set()
    for _ in range(MAX_ROUNDS):
        found = leak(units, rels, value, hidden, k, excused, safe)
        if found is None:
            return hidden
        more = neighbour(found, rels, value, hidden)
        if more is None:
            if found in excused or value[found] >= k:
                raise RuntimeError(f"cannot protect {found}: nothing left to suppress near it")
            excused.add(found)  # kept from being pinned, though it may be shown under k
            continue
        hidden = complete(hidden | {more})
    raise RuntimeError("suppression did not settle")
