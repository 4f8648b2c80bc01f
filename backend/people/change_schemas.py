"""The shapes of changes from the field (issue 13 part 8, common brief): the body a grid worker
sends, its payload checked per kind, the decision, and the answer. Pure: no database."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.people.models import CHANGE_KINDS, RELATIONS

Text = Annotated[str, Field(max_length=2000)]
Relation = Literal[RELATIONS]  # type: ignore[valid-type]  (the tuple of the Core module)
Kind = Literal[CHANGE_KINDS]  # type: ignore[valid-type]
GridCode = Annotated[str, Field(pattern=r"^[0-9]{15}$", description="the 15-digit grid code")]
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VisitPayload(Body):
    """A visit records nothing but that it happened (the note says what was seen)."""


class MoveOutPayload(Body):
    to: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class MoveInPayload(Body):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    citizen_id: Annotated[str, Field(pattern=r"^[0-9]{17}[0-9Xx]$",
                                     description="18 characters: 17 digits and a check digit")]
    sex: Literal["男", "女"]
    birth_date: Date
    relation: Relation
    household_id: DbId


class CorrectionPayload(Body):
    field: Literal["name", "phone", "ethnicity", "relation"]
    value: Annotated[str, Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _value_fits(self) -> CorrectionPayload:
        if self.field == "relation" and self.value not in RELATIONS:
            raise ValueError(f"a relation is one of {', '.join(RELATIONS)}")
        if self.field == "phone" and not all(c.isdigit() or c in "+- " for c in self.value):
            raise ValueError("a phone number has digits (and + - or spaces) only")
        return self


class DeathPayload(Body):
    date: Date

    @model_validator(mode="after")
    def _not_future(self) -> DeathPayload:
        if self.date > Date.today():
            raise ValueError("the date of death is in the future: give the day it happened")
        return self


PAYLOADS: dict[str, type[Body]] = {
    "visit": VisitPayload, "move_out": MoveOutPayload, "move_in": MoveInPayload,
    "correction": CorrectionPayload, "death": DeathPayload,
}
NEEDS_PERSON = ("move_out", "correction", "death")


def _summary(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"payload{'.' + where if where else ''}: {e.get('msg', '')}")
    return "; ".join(parts)


class ChangeIn(Body):
    client_id: UUID = Field(description="the draft's uuid: a second send answers the first row")
    kind: Kind
    grid_code: GridCode
    person_id: DbId | None = None
    household_id: DbId | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    note: Text | None = None

    @model_validator(mode="after")
    def _payload_fits_kind(self) -> ChangeIn:
        """The payload is checked by its kind's model; the message names what to fix."""
        try:
            checked = PAYLOADS[self.kind].model_validate(self.payload)
        except ValidationError as exc:
            raise ValueError(f"a {self.kind} change: {_summary(exc)}") from None
        if self.kind in NEEDS_PERSON and self.person_id is None:
            raise ValueError(f"a {self.kind} change needs person_id: the person it is about")
        if self.kind == "move_in":
            assert isinstance(checked, MoveInPayload)
            if self.person_id is not None:
                raise ValueError("a move_in is a new resident: leave person_id out")
            if self.household_id not in (None, checked.household_id):
                raise ValueError("household_id and payload.household_id differ: send one")
            self.household_id = checked.household_id
        self.payload = checked.model_dump(mode="json", exclude_none=True)
        return self


class DecisionIn(Body):
    decision: Literal["accept", "reject"]
    note: Text | None = None

    @model_validator(mode="after")
    def _reject_has_note(self) -> DecisionIn:
        if self.decision == "reject" and not (self.note or "").strip():
            raise ValueError("a rejection needs a note: tell the grid worker what to fix")
        return self


class ChangeRead(BaseModel):
    id: int
    client_id: UUID | None
    kind: str
    status: str
    grid_code: str
    person_id: int | None
    person_name: str | None = Field(description="masked")
    household_id: int | None
    household_no: str | None
    payload: dict[str, Any] = Field(description="the citizen ID and name masked")
    note: str | None
    department_code: str
    reported_by: str
    reported_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    person_version: int | None
