"""The published shapes of governance and sharing (issue 12, common brief): bodies in, answers
out. Times are aware datetimes (ISO 8601 with offset in JSON)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(max_length=2000)]
FieldName = Annotated[str, Field(min_length=1, max_length=128)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestIn(Body):
    purpose: Text | None = Field(default=None, description="what the data is for (required)")
    fields: list[FieldName] = Field(default=[], max_length=500,
                                    description="fields needed; empty: every field")
    period_days: int = Field(default=365, ge=1, le=1830)


class ReviewIn(Body):
    decision: Literal["pass", "refuse"]
    reason: Text | None = None


class AnswerIn(Body):
    decision: Literal["approve", "refuse"]
    reason: Text | None = None


class ReasonIn(Body):
    reason: Text | None = None


class TaskIn(Body):
    status: Literal["fixed", "dismissed"]
    note: Text | None = None


class Step(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str | None


class GrantRead(BaseModel):
    valid_from: datetime
    valid_until: datetime


class RequestRead(BaseModel):
    id: int
    dataset_id: str
    dataset_name: str
    provider_department: str
    share_type: str
    requester: str
    requester_department: str | None
    purpose: str
    fields: list[str]
    period_days: int
    status: str
    created_at: datetime
    bureau_due_at: datetime
    provider_due_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    escalated_at: datetime | None
    overdue: bool
    steps: list[Step]
    grant: GrantRead | None


class Score(BaseModel):
    day: date
    completeness: float | None
    validity: float | None
    consistency: float | None
    timeliness: float | None
    geometry: float | None
    total: float


class ScoresRead(BaseModel):
    dataset_id: str
    latest: Score | None
    trend: list[Score]


class RankingRow(BaseModel):
    code: str
    name: str
    rank: int | None
    total: float | None
    completeness: float | None
    validity: float | None
    consistency: float | None
    timeliness: float | None
    geometry: float | None
    datasets: int
    overdue_updates: int
    open_tasks: int
    open_requests: int


class OverdueUpdate(BaseModel):
    dataset_id: str
    name: str
    department_code: str
    due_since: datetime
    update_cycle: str


class Task(BaseModel):
    id: int
    dataset_id: str
    dataset_name: str
    rule_key: str
    kind: str
    department_code: str
    status: str
    failed: int
    opened_at: datetime
    due_at: datetime
    overdue: bool
    closed_at: datetime | None
    note: str | None


class DatasetSummary(BaseModel):
    id: str
    resource_code: str
    name: str
    name_en: str | None
    department_code: str
    department_name: str
    share_type: str
    open_type: str
    update_cycle: str
    layer_id: str | None
    storage: str
    geometry_type: str | None
    synthetic: bool
    last_updated_at: datetime | None
    current_seq: int | None
    score: float | None
    failing: int


class Overview(BaseModel):
    departments: int
    datasets: int
    with_data: int
    average: float | None
    overdue_updates: list[OverdueUpdate]
    open_requests: list[RequestRead]
    overdue_requests: list[RequestRead]
    open_tasks: int


class DepartmentRead(BaseModel):
    code: str
    name: str
    score: Score | None
    rank: int | None
    datasets: list[DatasetSummary]
    tasks: list[Task]
    requests_to_answer: list[RequestRead]
    overdue_updates: list[OverdueUpdate]


class SubscriptionRead(BaseModel):
    dataset_id: str
    dataset_name: str
    department_code: str
    created_at: datetime
    last_seq: int
    last_updated_at: datetime | None


class Change(BaseModel):
    version_id: int
    seq: int
    at: datetime
    arrival: str
    rows_added: int
    rows_changed: int
    rows_removed: int
    rows_total: int


class ChangesRead(BaseModel):
    dataset_id: str
    items: list[Change]
    last_seq: int


class RowsRead(BaseModel):
    total: int
    fields: list[str]
    items: list[dict[str, Any]] = Field(
        description="{key, <field>: value..., geometry?: GeoJSON}; personal fields masked "
                    "by the privacy policy for the caller's roles")
