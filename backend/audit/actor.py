"""Who an audit row names: the authenticated caller, never a value a caller passes along.

The auth dependency binds the caller's name for the rest of the request (a context variable:
it follows the request into the threadpool, and never leaks into another request's task);
`append` then records that name whatever its `actor` argument says. Work outside a request
(background loops, the demo, tests) has nothing bound and names itself ("system", "demo");
CLI commands bind "cli:<os user>" around their work.
"""

from __future__ import annotations

import getpass
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)
_bound: ContextVar[str | None] = ContextVar("cityops_audit_actor", default=None)
# Read by /metrics: `overridden` counts appends whose actor argument differed from the bound
# caller (a defect in the calling code, recorded correctly anyway).
ACTOR_COUNTS: Counter[str] = Counter()


def bind(name: str | None) -> None:
    """Bind the authenticated caller for the rest of this request (the auth dependency)."""
    _bound.set(name)


def bound_actor() -> str | None:
    return _bound.get()


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Bind `name` for the duration of a block (CLI commands, scripted jobs)."""
    token = _bound.set(name)
    try:
        yield
    finally:
        _bound.reset(token)


def resolve(claimed: str | None) -> str:
    """The actor to record: the bound caller when there is one, else `claimed`."""
    bound = _bound.get()
    if bound is None:
        return claimed or "system"
    if claimed is not None and claimed != bound:
        ACTOR_COUNTS["overridden"] += 1
        log.warning("audit actor %r passed by code ignored: the authenticated caller is %r",
                    claimed, bound)
    return bound


def cli_actor() -> str:
    """Who ran a command: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
