"""The masking policy as a pure table: every kind x role, the patterns, and the table checked
against the permission table (a full view needs personal:read)."""

from __future__ import annotations

import re

import pytest

from backend.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from backend.privacy.policy import (
    POLICY,
    PUBLIC,
    Kind,
    Rule,
    View,
    mask,
    mask_phone,
    present,
    rule_for,
)

SAMPLE = {Kind.PHONE: "13912345678", Kind.NAME: "张三丰", Kind.EMAIL: "alice@sx.gov.cn",
          Kind.ID_NUMBER: "340822199001011234", Kind.ADDRESS: "泗县泗城镇汴河路18号3栋"}
MASKED = {Kind.PHONE: "139****5678", Kind.NAME: "张**", Kind.EMAIL: "a***@sx.gov.cn",
          Kind.ID_NUMBER: "340822********1234", Kind.ADDRESS: "泗县泗城镇汴****"}
# The specification, written out independently of the policy's table: per role, for
# phone, name, email, id_number, address: S shown, M masked, H withheld.
EXPECTED = {
    "admin": "SSSSS", "commander": "SSSMS", "supervisor": "SSSMS", "dispatcher": "SSSMS",
    "grid_worker": "MMMMM", "department_handler": "MMMHM", "traffic_police": "MMMMM",
    "data_steward": "MMMHM", "viewer": "MMMHH", "data_bureau": "MMMMM",
    "population_officer": "MMMMM", PUBLIC: "HHHHH",  # in full only for a purpose (below)
}
KINDS = [Kind.PHONE, Kind.NAME, Kind.EMAIL, Kind.ID_NUMBER, Kind.ADDRESS]


def test_the_table_covers_every_kind_and_role() -> None:
    roles = {r.value for r in Role} | {PUBLIC}
    assert set(POLICY) == set(Kind)
    for kind, table in POLICY.items():
        assert set(table) == roles, kind


def test_only_roles_with_personal_read_see_anything_in_full() -> None:
    for kind, table in POLICY.items():
        for role, rule in table.items():
            if rule in (Rule.SHOWN, Rule.PURPOSE):
                assert Permission.PERSONAL_DATA in ROLE_PERMISSIONS[Role(role)], (kind, role)


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_for_every_role(kind: Kind, role: str) -> None:
    expected = EXPECTED[role][KINDS.index(kind)]
    record = {"f": SAMPLE[kind]}
    shown = present(record, {"f": kind}, [role] if role != PUBLIC else [])
    want = {"S": SAMPLE[kind], "M": MASKED[kind], "H": None}[expected]
    assert record["f"] == want
    assert shown == (["f"] if expected == "S" else [])
    # A list never shows a person in full.
    listed = {"f": SAMPLE[kind]}
    assert present(listed, {"f": kind}, [role], View.LIST) == []
    assert listed["f"] == (MASKED[kind] if expected in "SM" else None)


@pytest.mark.parametrize(("given", "masked"), [
    ("13912345678", "139****5678"),
    ("+86 139 1234 5678", "+86 139****5678"),
    ("8613912345678", "+86 139****5678"),
    ("0557-1234567", "0557-***4567"),      # the issue: 7 of 8 digits were left
    ("0557 12345678", "0557 ****5678"),
    ("05571234567", "0557***4567"),
    ("010-12345678", "010-****5678"),
    ("01012345678", "010****5678"),
    ("1234567", "***4567"),
    ("12345", "***45"),
])
def test_phone_patterns_keep_at_most_the_last_four_digits(given: str, masked: str) -> None:
    out = mask_phone(given)
    assert out == masked
    if not re.fullmatch(r"(\+86 )?1\d\d\*{4}\d{4}", out):  # a mobile keeps 3 + 4 digits
        subscriber = re.sub(r"^0(1\d|2\d|\d{3})[-\s]?", "", out) if out[0] == "0" else out
        assert len(re.findall(r"\d", subscriber)) <= 4, out

@pytest.mark.parametrize(("kind", "given", "masked"), [
    (Kind.NAME, "张三", "张*"), (Kind.NAME, "欧阳娜娜", "欧***"), (Kind.NAME, "John Smith", "J***"),
    (Kind.NAME, "12345热线市民", "1***"),
    (Kind.EMAIL, "bob@example.com", "b***@example.com"), (Kind.EMAIL, "nobody", "***"),
    (Kind.ID_NUMBER, "34082219900101123X", "340822********123X"),
    (Kind.ID_NUMBER, "12345", "*****"),
    (Kind.ADDRESS, "汴河路8号", "汴河****"),
    (Kind.PHONE, None, None), (Kind.NAME, "", ""),
])
def test_patterns(kind: Kind, given: str | None, masked: str | None) -> None:
    assert mask(kind, given) == masked


def test_several_roles_get_the_most_revealing_rule_and_unknown_roles_nothing() -> None:
    assert rule_for(Kind.ID_NUMBER, ["viewer", "traffic_police"]) is Rule.MASKED
    assert rule_for(Kind.PHONE, ["grid_worker", "dispatcher"]) is Rule.SHOWN
    assert rule_for(Kind.PHONE, ["grid_worker", "dispatcher"], View.LIST) is Rule.MASKED
    assert rule_for(Kind.PHONE, ["machine:ingest"]) is Rule.HIDDEN
    assert rule_for(Kind.PHONE, []) is Rule.HIDDEN


def test_a_purpose_opens_the_population_officers_view_and_nothing_else() -> None:
    for kind in KINDS:
        record = {"f": SAMPLE[kind]}
        assert present(record, {"f": kind}, ["population_officer"], purposeful=True) == ["f"]
        assert record["f"] == SAMPLE[kind]
        # A list stays masked even for a purpose; a purpose changes nothing for other roles.
        assert rule_for(kind, ["population_officer"], View.LIST, purposeful=True) is Rule.MASKED
        assert rule_for(kind, ["viewer"], purposeful=True) is not Rule.SHOWN


def test_an_address_is_masked_to_its_building() -> None:
    building = "泗城镇汴河社区汴河大道12号楼"
    assert mask(Kind.ADDRESS, building + "3单元502室") == building + "****"
    assert mask(Kind.ADDRESS, "大庄镇前进村3组18号院东屋") == "大庄镇前进村3组18号院****"
