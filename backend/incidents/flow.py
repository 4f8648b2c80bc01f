"""The case flow (数字化城市管理 seven steps): which action may move a case from which state,
and for which role. Pure: a table and one function, tested exhaustively (state x action x role).

    reported -> filed | voided -> dispatched -> accepted -> in_progress -> handled
             -> verifying -> closed, or rework back to in_progress.
    Side paths: returned (wrong unit; re-dispatched), parked (挂账; resumed), an extension
    request (延期) pending on accepted/in_progress until granted or denied, and the supervised
    flag (督办), set by hand or automatically when a stage is overdue (a flag, not a state).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class State(StrEnum):
    REPORTED = "reported"        # 信息收集
    FILED = "filed"              # 立案
    VOIDED = "voided"            # 作废
    DISPATCHED = "dispatched"    # 派遣
    ACCEPTED = "accepted"        # 签收
    IN_PROGRESS = "in_progress"  # 处置中
    HANDLED = "handled"          # 处置完毕(反馈)
    VERIFYING = "verifying"      # 核查中
    CLOSED = "closed"            # 结案
    RETURNED = "returned"        # 退回(非本单位)
    PARKED = "parked"            # 挂账


# The states as the county's 数字化城市管理 practice names them (snapshots, exports).
STATE_NAMES: dict[str, dict[str, str]] = {
    "reported": {"zh": "待立案", "en": "Reported"}, "filed": {"zh": "待派遣", "en": "Filed"},
    "voided": {"zh": "已作废", "en": "Voided"}, "dispatched": {"zh": "已派遣", "en": "Dispatched"},
    "accepted": {"zh": "已签收", "en": "Accepted"},
    "in_progress": {"zh": "处置中", "en": "In progress"},
    "handled": {"zh": "已处置", "en": "Handled"}, "verifying": {"zh": "核查中", "en": "Verifying"},
    "closed": {"zh": "已结案", "en": "Closed"}, "returned": {"zh": "已退回", "en": "Returned"},
    "parked": {"zh": "已挂账", "en": "Parked"},
}


class Action(StrEnum):
    FILE = "file"
    VOID = "void"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    DENY_EXTENSION = "deny_extension"
    PARK = "park"
    UNPARK = "unpark"
    HANDLE = "handle"
    SEND_TO_VERIFY = "send_to_verify"
    CONFIRM = "confirm"
    REWORK = "rework"
    SUPERVISE = "supervise"


# The roles that act on cases; "system" is the server itself (overdue supervision).
SYSTEM = "system"
ADMIN = "admin"
S = State
OPEN_STATES = frozenset({S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.HANDLED, S.VERIFYING,
                         S.RETURNED, S.PARKED})
FINAL_STATES = frozenset({S.CLOSED, S.VOIDED})


@dataclass(frozen=True, slots=True)
class Rule:
    sources: frozenset[State]
    target: State | None          # None: the state does not change
    roles: frozenset[str]         # admin may always act besides these
    needs_note: bool = False


def _rule(sources: set[State], target: State | None, *roles: str,
          needs_note: bool = False) -> Rule:
    return Rule(frozenset(sources), target, frozenset(roles), needs_note)


HANDLERS = ("department_handler", "grid_worker")  # a unit's handler, or a worker assigned
TABLE: dict[Action, Rule] = {
    Action.FILE: _rule({S.REPORTED}, S.FILED, "supervisor"),
    Action.VOID: _rule({S.REPORTED}, S.VOIDED, "supervisor", needs_note=True),
    Action.DISPATCH: _rule({S.FILED, S.RETURNED}, S.DISPATCHED, "commander", "dispatcher"),
    Action.ACCEPT: _rule({S.DISPATCHED}, S.ACCEPTED, *HANDLERS),
    Action.RETURN: _rule({S.DISPATCHED, S.ACCEPTED}, S.RETURNED, *HANDLERS, needs_note=True),
    Action.START: _rule({S.ACCEPTED}, S.IN_PROGRESS, *HANDLERS),
    Action.REQUEST_EXTENSION: _rule({S.ACCEPTED, S.IN_PROGRESS}, None, *HANDLERS,
                                    needs_note=True),
    Action.GRANT_EXTENSION: _rule({S.ACCEPTED, S.IN_PROGRESS}, None, "commander", "dispatcher"),
    Action.DENY_EXTENSION: _rule({S.ACCEPTED, S.IN_PROGRESS}, None, "commander", "dispatcher",
                                 needs_note=True),
    Action.PARK: _rule({S.ACCEPTED, S.IN_PROGRESS}, S.PARKED, "commander", needs_note=True),
    Action.UNPARK: _rule({S.PARKED}, S.IN_PROGRESS, "commander"),
    Action.HANDLE: _rule({S.IN_PROGRESS}, S.HANDLED, *HANDLERS, needs_note=True),
    Action.SEND_TO_VERIFY: _rule({S.HANDLED}, S.VERIFYING, "supervisor"),
    Action.CONFIRM: _rule({S.VERIFYING}, S.CLOSED, "supervisor", "grid_worker"),
    Action.REWORK: _rule({S.VERIFYING}, S.IN_PROGRESS, "supervisor", "grid_worker",
                         needs_note=True),
    Action.SUPERVISE: _rule(set(OPEN_STATES), None, "commander", "supervisor", SYSTEM),
}


@dataclass(frozen=True, slots=True)
class CaseStatus:
    state: State
    extension_pending: bool = False
    supervised: bool = False


class FlowError(Exception):
    """An action that the case's state or the caller's role does not allow."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason      # "state" | "role" | "note" | "pending"
        self.message = message


def allowed_actions(status: CaseStatus, roles: frozenset[str]) -> list[Action]:
    """What these roles may do to the case now (for the console's buttons)."""
    out = []
    for action in Action:
        try:
            step(status, action, roles, note="-")
        except FlowError:
            continue
        out.append(action)
    return out


def step(status: CaseStatus, action: Action, roles: frozenset[str], *,
         note: str | None = None) -> CaseStatus:
    """The case's status after `action` by a caller with `roles`, or FlowError."""
    rule = TABLE[action]
    if ADMIN not in roles and not (roles & rule.roles):
        raise FlowError("role", f"{action} is for {', '.join(sorted(rule.roles))}; "
                                f"you are {', '.join(sorted(roles)) or 'nobody'}")
    if status.state not in rule.sources:
        raise FlowError("state", f"a case that is {status.state} cannot be {action}: only from "
                                 f"{', '.join(sorted(rule.sources))}")
    if rule.needs_note and not (note and note.strip()):
        raise FlowError("note", f"{action} needs a note saying why")
    pending = status.extension_pending
    if action is Action.REQUEST_EXTENSION:
        if pending:
            raise FlowError("pending", "an extension request is already waiting for a decision")
        return replace(status, extension_pending=True)
    if action in (Action.GRANT_EXTENSION, Action.DENY_EXTENSION):
        if not pending:
            raise FlowError("pending", "there is no extension request to decide on")
        return replace(status, extension_pending=False)
    if action is Action.SUPERVISE:
        if status.supervised:
            raise FlowError("state", "the case is already supervised (督办)")
        return replace(status, supervised=True)
    assert rule.target is not None
    # Leaving accepted/in_progress ends any pending request: there is no stage left to extend.
    keep = pending and rule.target in (S.ACCEPTED, S.IN_PROGRESS)
    return CaseStatus(rule.target, extension_pending=keep, supervised=status.supervised)
