"""The request flow's pure rules and its working-day clocks (the 2026 county calendar)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.errors import Conflict, Unprocessable
from backend.incidents.calendar import WorkCalendar
from backend.settings import Settings
from backend.sharing import rules

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar.load(*Settings().work_calendars)


def test_a_working_day_is_the_office_hours(calendar: WorkCalendar) -> None:
    assert calendar.working_day_s == 7 * 3600


def test_a_request_made_on_friday_afternoon_is_due_on_tuesday(calendar: WorkCalendar) -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=TZ)
    assert rules.due(calendar, friday, rules.BUREAU_DAYS) == datetime(2026, 12, 8, 15, 0,
                                                                        tzinfo=TZ)
    # five working days from Friday 15:00: the next Friday 15:00
    assert rules.due(calendar, friday, rules.PROVIDER_DAYS) == datetime(2026, 12, 11, 15, 0,
                                                                          tzinfo=TZ)


def test_the_national_day_holiday_stops_the_clock(calendar: WorkCalendar) -> None:
    # 30 September 15:00: 2.5 h that day, 1-7 October off, 7 h on the 8th, 4.5 h on the 9th
    assert rules.due(calendar, datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 2) == datetime(
        2026, 10, 9, 15, 0, tzinfo=TZ)
    # a make-up working Saturday (10 October) counts
    assert rules.due(calendar, datetime(2026, 10, 9, 15, 0, tzinfo=TZ), 1) == datetime(
        2026, 10, 10, 15, 0, tzinfo=TZ)
    # a request made on a holiday starts the next working morning
    assert rules.due(calendar, datetime(2026, 10, 3, 10, 0, tzinfo=TZ), 1) == datetime(
        2026, 10, 8, 17, 30, tzinfo=TZ)


@pytest.mark.parametrize(("share", "status"), [("unconditional", "approved"),
                                                ("conditional", "provider_review")])
def test_the_bureau_passes(share: str, status: str) -> None:
    out = rules.step(rules.State("bureau_review", share), "review_pass", None)
    assert out.status == status
    assert out.grant is (share == "unconditional")
    assert out.provider_clock is (share == "conditional")


def test_not_shared_is_refused_at_once_citing_the_rule_and_may_be_escalated() -> None:
    out = rules.on_create("none", "涉及个人隐私，依法不予共享")
    assert (out.status, out.decided) == ("refused", True)
    assert "涉及个人隐私" in out.note
    state = rules.State("refused", "none", refused_by_rule=True)
    with pytest.raises(Unprocessable):
        rules.step(state, "escalate", "  ")
    up = rules.step(state, "escalate", "防汛需要")
    assert (up.status, up.escalated, up.provider_clock) == ("provider_review", True, True)
    with pytest.raises(Conflict):
        rules.step(rules.State("refused", "none", escalated=True, refused_by_rule=True),
                   "escalate", "again")
    with pytest.raises(Conflict):  # a person's refusal is not the rule's
        rules.step(rules.State("refused", "conditional"), "escalate", "why")


def test_refusals_need_reasons_and_closed_requests_do_not_move() -> None:
    for status, action in (("bureau_review", "review_refuse"),
                           ("provider_review", "answer_refuse")):
        with pytest.raises(Unprocessable, match="reason"):
            rules.step(rules.State(status, "conditional"), action, None)
        assert rules.step(rules.State(status, "conditional"), action, "缺少依据").status == \
            "refused"
    for status in ("approved", "refused", "withdrawn"):
        with pytest.raises(Conflict):
            rules.step(rules.State(status, "conditional"), "withdraw", None)
    with pytest.raises(Conflict):
        rules.step(rules.State("bureau_review", "conditional"), "approve", None)


def test_overdue_is_flagged_once_and_the_provider_step_escalates() -> None:
    now = datetime(2026, 12, 9, tzinfo=TZ)
    due = datetime(2026, 12, 8, 15, 0, tzinfo=TZ)
    assert rules.is_overdue("bureau_review", due, None, now)
    assert not rules.is_overdue("approved", due, None, now)
    assert rules.sweep_steps("bureau_review", True, False) == ["overdue"]
    assert rules.sweep_steps("provider_review", True, False) == ["overdue", "escalated"]
    assert rules.sweep_steps("provider_review", True, True) == []
