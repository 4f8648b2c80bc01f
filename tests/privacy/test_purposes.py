"""The purposes list: allowed per role, and the refusal that names what the caller may use."""

from __future__ import annotations

import pytest

from backend.errors import Forbidden
from backend.privacy.purposes import allowed_purposes, check_purpose, purposes


def test_every_purpose_names_known_roles_and_both_languages() -> None:
    from backend.auth.permissions import Role

    known = {r.value for r in Role}
    assert len(purposes()) >= 4
    for p in purposes().values():
        assert p.zh and p.en and set(p.roles) <= known, p.id


def test_a_stated_allowed_purpose_passes() -> None:
    assert check_purpose("social_assistance", ["population_officer"]).zh == "社会救助"


@pytest.mark.parametrize(("purpose", "roles"), [
    (None, ["population_officer"]), ("", ["population_officer"]),
    ("curiosity", ["population_officer"]), ("social_assistance", ["commander"]),
])
def test_a_missing_or_foreign_purpose_is_refused_with_the_allowed_list(
        purpose: str | None, roles: list[str]) -> None:
    with pytest.raises(Forbidden) as caught:
        check_purpose(purpose, roles)
    allowed = caught.value.detail["allowed_purposes"]
    assert [p["id"] for p in allowed] == [p.id for p in allowed_purposes(roles)]
    assert ("none for your role" in caught.value.message) == (not allowed)
