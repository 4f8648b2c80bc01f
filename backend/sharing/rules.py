"""The data request flow as a pure state machine, with its clocks. No database, no clock of its
own: the service passes `now` and the county's work calendar.

    无条件共享 (unconditional): bureau_review (2 working days) --pass--> approved (the platform
        grants)
    有条件共享 (conditional):   bureau_review (2 wd) --pass--> provider_review (5 wd; 10
        when the data is not yet on the platform)
        --approve--> approved | --refuse (reason)--> refused
    不予共享 (none):            refused at once, the share condition cited; the bureau may
        escalate (reason) --> provider_review (5 wd)
    the bureau may refuse at its step (reason); the requester may withdraw while open.

An open step past its due time is overdue; the sweep records an 'overdue' step once per step
and escalates an overdue provider step to the bureau ('escalated').
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.errors import Conflict, Unprocessable
from backend.incidents.calendar import WorkCalendar

BUREAU_DAYS = 2
PROVIDER_DAYS = 5
PROVIDER_DAYS_OFF_PLATFORM = 10  # the data is not yet on the platform (DOMAIN.md §10)
OPEN = ("bureau_review", "provider_review")
SHARE_TYPES = ("unconditional", "conditional", "none")
# action -> the statuses it may start from
ACTIONS: dict[str, tuple[str, ...]] = {
    "review_pass": ("bureau_review",),
    "review_refuse": ("bureau_review",),
    "approve": ("provider_review",),
    "answer_refuse": ("provider_review",),
    "escalate": ("refused",),
    "withdraw": OPEN,
}
NEEDS_REASON = frozenset({"review_refuse", "answer_refuse", "escalate"})
STEP_NAMES = {"review_pass": "bureau_passed", "review_refuse": "bureau_refused",
              "approve": "approved", "answer_refuse": "provider_refused",
              "escalate": "escalated", "withdraw": "withdrawn"}


@dataclass(frozen=True, slots=True)
class State:
    status: str
    share_type: str
    escalated: bool = False       # escalated_at is set
    refused_by_rule: bool = False  # refused at creation (不予共享), not by a person


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    step: str                     # the data_request_steps action
    note: str | None = None
    grant: bool = False           # make the requester's grant
    provider_clock: bool = False  # provider_due_at = now + PROVIDER_DAYS
    decided: bool = False         # decided_at, decided_by, reason
    escalated: bool = False       # escalated_at = now


def due(calendar: WorkCalendar, start: datetime, working_days: int) -> datetime:
    return calendar.add_working_days(start, working_days)


def provider_days(on_platform: bool) -> int:
    """The provider's working days: 5, or 10 when the data is not yet on the platform (a
    catalogue entry whose content was never collected)."""
    return PROVIDER_DAYS if on_platform else PROVIDER_DAYS_OFF_PLATFORM


def on_create(share_type: str, share_condition: str | None) -> Outcome:
    """A new request: to the bureau, or refused at once for 不予共享 with the rule cited."""
    if share_type not in SHARE_TYPES:
        raise Unprocessable(f"unknown share type {share_type!r}")
    if share_type == "none":
        rule = (share_condition or "").strip() or "该数据资源在目录中标为不予共享"
        return Outcome("refused", "refused", note=f"不予共享 (not shared): {rule}", decided=True)
    return Outcome("bureau_review", "created")


def step(state: State, action: str, reason: str | None) -> Outcome:
    """The outcome of `action` on a request in `state`; Conflict when the state does not allow
    it, Unprocessable when a reason is required and blank."""
    if action not in ACTIONS:
        raise Unprocessable(f"unknown action {action!r}")
    reason = (reason or "").strip() or None
    if state.status not in ACTIONS[action]:
        raise Conflict(f"the request is {state.status}: it cannot be "
                       f"{STEP_NAMES[action].replace('_', ' ')} now")
    if action in NEEDS_REASON and reason is None:
        raise Unprocessable(f"{STEP_NAMES[action].replace('_', ' ')} needs a reason (reason)")
    name = STEP_NAMES[action]
    if action == "review_pass":
        if state.share_type == "unconditional":
            return Outcome("approved", name, reason, grant=True, decided=True)
        return Outcome("provider_review", name, reason, provider_clock=True)
    if action == "approve":
        return Outcome("approved", name, reason, grant=True, decided=True)
    if action in ("review_refuse", "answer_refuse"):
        return Outcome("refused", name, reason, decided=True)
    if action == "escalate":
        if not (state.share_type == "none" and state.refused_by_rule) or state.escalated:
            raise Conflict("only a request refused by the 不予共享 rule can be escalated, once")
        return Outcome("provider_review", name, reason, provider_clock=True, escalated=True)
    return Outcome("withdrawn", name, reason, decided=True)


def due_of(status: str, bureau_due: datetime | None,
           provider_due: datetime | None) -> datetime | None:
    """The due time of the open step (None when closed)."""
    if status == "bureau_review":
        return bureau_due
    if status == "provider_review":
        return provider_due
    return None


def is_overdue(status: str, bureau_due: datetime | None, provider_due: datetime | None,
               now: datetime) -> bool:
    limit = due_of(status, bureau_due, provider_due)
    return limit is not None and now > limit


def sweep_steps(status: str, overdue: bool, flagged: bool) -> list[str]:
    """Steps the sweep records for one request: 'overdue' once per open step, then, for the
    provider's step, 'escalated' (to the bureau)."""
    if not overdue or flagged:
        return []
    return ["overdue", "escalated"] if status == "provider_review" else ["overdue"]
