"""The case flow, exhaustively: every state x action x role, against the flow written out
here as a plain list (independent of the program's table)."""

from __future__ import annotations

import itertools

import pytest

from backend.auth.permissions import Role
from backend.incidents.flow import (
    Action,
    CaseStatus,
    FlowError,
    State,
    allowed_actions,
    step,
)

# action: from states -> to state (or "same"), by roles (admin may always act).
SPEC = """
file:              reported -> filed                       | supervisor
void:              reported -> voided                      | supervisor
dispatch:          filed returned -> dispatched            | commander dispatcher
accept:            dispatched -> accepted                  | department_handler grid_worker
return:            dispatched accepted -> returned         | department_handler grid_worker
start:             accepted -> in_progress                 | department_handler grid_worker
request_extension: accepted in_progress -> same            | department_handler grid_worker
grant_extension:   accepted in_progress -> same            | commander dispatcher
deny_extension:    accepted in_progress -> same            | commander dispatcher
park:              accepted in_progress -> parked          | commander
unpark:            parked -> in_progress                   | commander
handle:            in_progress -> handled                  | department_handler grid_worker
send_to_verify:    handled -> verifying                    | supervisor
confirm:           verifying -> closed                     | supervisor grid_worker
rework:            verifying -> in_progress                | supervisor grid_worker
supervise:         dispatched accepted in_progress handled verifying returned parked -> same
                                                           | commander supervisor system
"""
# What each needs besides state and role: (extension pending before, supervised before).
NEEDS = {
    Action.GRANT_EXTENSION: (True, False), Action.DENY_EXTENSION: (True, False),
    Action.REQUEST_EXTENSION: (False, False), Action.SUPERVISE: (False, False),
}
ROLES = [r.value for r in Role] + ["system"]


def spec() -> dict[Action, tuple[set[str], str, set[str]]]:
    out = {}
    for line in SPEC.replace("\n" + " " * 59 + "|", " |").strip().splitlines():
        name, rest = line.split(":", 1)
        moves, roles = rest.split("|")
        sources, target = moves.split("->")
        out[Action(name.strip())] = (set(sources.split()), target.strip(), set(roles.split()))
    return out


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, Action)))
def test_every_state_action_role(state: State, action: Action) -> None:
    sources, target, roles = spec()[action]
    pending, supervised = NEEDS.get(action, (False, False))
    for role in ROLES:
        status = CaseStatus(state, extension_pending=pending, supervised=supervised)
        legal = state.value in sources and (role in roles or role == "admin")
        if legal:
            after = step(status, action, frozenset({role}), note="原因说明")
            expected = state.value if target == "same" else target
            assert after.state.value == expected, (state, action, role)
        else:
            with pytest.raises(FlowError) as err:
                step(status, action, frozenset({role}), note="原因说明")
            assert err.value.reason in ("role", "state")
            assert err.value.message


def test_notes_are_required_where_a_reason_is_owed() -> None:
    for action, state in [(Action.VOID, State.REPORTED), (Action.RETURN, State.DISPATCHED),
                          (Action.HANDLE, State.IN_PROGRESS), (Action.REWORK, State.VERIFYING),
                          (Action.PARK, State.IN_PROGRESS)]:
        with pytest.raises(FlowError) as err:
            step(CaseStatus(state), action, frozenset({"admin"}), note="  ")
        assert err.value.reason == "note"


def test_extension_requests_wait_for_one_decision() -> None:
    handler = frozenset({"department_handler"})
    asked = step(CaseStatus(State.IN_PROGRESS), Action.REQUEST_EXTENSION, handler, note="缺材料")
    assert asked.extension_pending
    with pytest.raises(FlowError, match="already waiting"):
        step(asked, Action.REQUEST_EXTENSION, handler, note="again")
    granted = step(asked, Action.GRANT_EXTENSION, frozenset({"dispatcher"}))
    assert not granted.extension_pending
    with pytest.raises(FlowError, match="no extension request"):
        step(granted, Action.GRANT_EXTENSION, frozenset({"dispatcher"}))
    # Handling the case ends a pending request; starting work keeps it.
    assert step(asked, Action.HANDLE, handler, note="已处理").extension_pending is False
    accepted = CaseStatus(State.ACCEPTED, extension_pending=True)
    assert step(accepted, Action.START, handler).extension_pending is True


def test_supervision_is_a_flag_set_once() -> None:
    s = step(CaseStatus(State.IN_PROGRESS), Action.SUPERVISE, frozenset({"system"}))
    assert s.supervised and s.state is State.IN_PROGRESS
    with pytest.raises(FlowError, match="already supervised"):
        step(s, Action.SUPERVISE, frozenset({"commander"}))
    assert step(s, Action.HANDLE, frozenset({"grid_worker"}), note="ok").supervised


def test_allowed_actions_drive_the_buttons() -> None:
    assert allowed_actions(CaseStatus(State.REPORTED), frozenset({"supervisor"})) == [
        Action.FILE, Action.VOID]
    assert allowed_actions(CaseStatus(State.CLOSED), frozenset({"admin"})) == []
    assert Action.DISPATCH in allowed_actions(CaseStatus(State.FILED), frozenset({"dispatcher"}))
