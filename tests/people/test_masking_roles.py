"""Masking for every role on the population base's answers: who may call (the permission
table) and, for those who may, what they see. Only a population officer with a purpose sees a
person in full; every list is masked; roles without the rights get 403."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from backend.privacy.policy import mask_id_number, mask_name, mask_phone
from tests.conftest import bearer
from tests.people import population as pop


@pytest.fixture(scope="module")
def resident(engine: Engine, population: pop.SamplePopulation) -> sa.Row:
    """A resident of the grid worker's first cell (so every role's scope holds them)."""
    with engine.connect() as conn:
        return conn.execute(sa.text("""
SELECT p.id, p.citizen_id, p.name, p.phone, p.household_id, a.building_label, a.unit
FROM persons p JOIN addresses a ON a.id = p.address_id
WHERE p.grid_code = :g AND p.status = 'resident' AND p.relation = '户主'
ORDER BY p.id LIMIT 1"""), {"g": population.cells[0]}).one()


def _may(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


@pytest.mark.parametrize("role", list(Role))
def test_household_answers_are_masked_for_every_role(client: TestClient, role: Role,
                                                     resident: sa.Row) -> None:
    headers = bearer(client, role.value)
    answer = client.get(f"/api/people/households/{resident.household_id}", headers=headers)
    if not _may(role, Permission.PEOPLE_CELLS):
        assert answer.status_code == 403 and answer.json()["detail"]
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    head = next(m for m in body["members"] if m["id"] == resident.id)
    assert head["citizen_id"] == mask_id_number(resident.citizen_id)
    assert head["name"] == mask_name(resident.name)
    assert body["address"] == resident.building_label + "****"
    listed = client.get("/api/people/households", headers=headers,
                        params={"grid_code": body["grid_code"]}).json()
    mine = next(h for h in listed["items"] if h["id"] == resident.household_id)
    assert mine["head_name"] == mask_name(resident.name)


@pytest.mark.parametrize("role", list(Role))
def test_person_record_for_every_role(client: TestClient, role: Role,
                                      resident: sa.Row) -> None:
    headers = bearer(client, role.value)
    with_purpose = client.get(f"/api/people/{resident.id}", headers=headers,
                              params={"purpose": "social_assistance"})
    without = client.get(f"/api/people/{resident.id}", headers=headers)
    search = client.get("/api/people/search", headers=headers,
                        params={"q": resident.citizen_id, "purpose": "social_assistance"})
    if not _may(role, Permission.PEOPLE_READ):
        # grid workers, the command centre and everyone else: never a person, whatever purpose
        assert {with_purpose.status_code, without.status_code, search.status_code} == {403}
        return
    masked = without.json()
    assert without.status_code == 200 and masked["masked"] is True
    assert masked["citizen_id"] == mask_id_number(resident.citizen_id)
    assert masked["name"] == mask_name(resident.name)
    assert masked["phone"] == mask_phone(resident.phone)
    assert masked["address"] == resident.building_label + "****"
    if role is Role.POPULATION_OFFICER:
        full = with_purpose.json()
        assert with_purpose.status_code == 200 and full["masked"] is False
        assert (full["citizen_id"], full["name"], full["phone"]) == (
            resident.citizen_id, resident.name, resident.phone)
        assert full["address"] == resident.building_label + resident.unit
        assert search.status_code == 200
        assert search.json()["items"][0]["citizen_id"] == mask_id_number(resident.citizen_id)
    else:
        # the admin holds people:read, but no purpose is allowed to the role: masked, and a
        # stated purpose or a search is refused with the (empty) list it may use
        assert with_purpose.status_code == 403
        assert with_purpose.json()["allowed_purposes"] == []
        assert search.status_code == 403 and search.json()["allowed_purposes"] == []


@pytest.mark.parametrize("role", list(Role))
def test_purposes_list_for_every_role(client: TestClient, role: Role) -> None:
    answer = client.get("/api/people/purposes", headers=bearer(client, role.value))
    if not _may(role, Permission.PEOPLE_CELLS):
        assert answer.status_code == 403
        return
    ids = {p["id"] for p in answer.json()}
    assert bool(ids) is (role is Role.POPULATION_OFFICER)
