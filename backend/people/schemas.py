"""The population base's answers (the shapes published in issue 13's common brief). Personal
values arrive here already masked or full by backend.privacy.policy: these models only shape."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class PurposeRead(BaseModel):
    id: str
    zh: str
    en: str


class PersonBase(BaseModel):
    """What a search row and a record both say of a person (masked by the policy)."""

    id: int
    citizen_id: str | None
    name: str | None
    sex: str
    birth_date: date
    age: int
    status: str
    grid_code: str | None
    township_code: str | None


class PersonSummary(PersonBase):
    household_no: str | None


class SearchPage(BaseModel):
    items: list[PersonSummary]
    total: int
    limit: int


class MemberRead(BaseModel):
    id: int
    name: str | None
    relation: str | None
    age: int
    sex: str
    status: str


class PersonHousehold(BaseModel):
    id: int
    household_no: str
    members: list[MemberRead]


class SourceRead(BaseModel):
    dataset_id: str
    dataset_name: str | None
    version_id: int | None
    synthetic: bool = False  # the source dataset is generated demo data (示意)


class VersionRead(BaseModel):
    version: int
    valid_from: datetime
    made_by: str
    change_id: int | None


class PersonRead(PersonBase):
    ethnicity: str | None
    phone: str | None
    registered_region: str | None
    registered_address: str | None
    address: str | None
    address_building: str | None
    grid_name: str | None
    township_name: str | None
    relation: str | None
    household: PersonHousehold | None
    source: SourceRead
    version: int
    updated_at: datetime
    versions: list[VersionRead]
    masked: bool
    purpose: PurposeRead | None


class AccessItem(BaseModel):
    at: datetime
    actor: str
    actor_name: str | None
    purpose: str | None
    purpose_zh: str | None
    purpose_en: str | None
    kind: str
    fields: list[str]


class AccessLog(BaseModel):
    person_id: int
    days: int
    items: list[AccessItem]


class CellRead(BaseModel):
    grid_code: str
    name: str | None
    community: str | None
    township_name: str | None
    households: int
    residents: int


class HouseholdSummary(BaseModel):
    id: int
    household_no: str
    address: str | None
    grid_code: str | None
    head_name: str | None
    members: int      # every person on the household, whatever their status
    residents: int    # the current ones (resident, registered elsewhere)


class HouseholdPage(BaseModel):
    items: list[HouseholdSummary]
    total: int


class HouseholdMember(BaseModel):
    id: int
    citizen_id: str | None
    name: str | None
    relation: str | None
    sex: str
    age: int
    status: str


class HouseholdRead(BaseModel):
    id: int
    household_no: str
    address: str | None
    grid_code: str | None
    members: list[HouseholdMember]   # the current residents
    others: int                      # members moved away or deceased, not listed
