"""Video points (天网 / 雪亮 / traffic cameras): the registry (migrations 0001, 0018).

`Camera` is a GB/T 28181 channel keyed by its 20-digit id (`code`); the other tables are
described here for queries only (the migration makes them)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns


class Camera(FeatureMixin, Base):
    __tablename__ = "cameras"
    __table_args__ = (
        FeatureMixin.source_unique("cameras"),
        sa.CheckConstraint("kind IN ('tianwang','xueliang','traffic')", name="kind"),
        sa.CheckConstraint("status IN ('online','offline','fault')", name="status"),
        sa.CheckConstraint("code ~ '^[0-9]{20}$'", name="code"),  # GB/T 28181 id (0018)
    )
    code: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)  # GB/T 28181 id
    name: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    direction_deg: Mapped[float | None] = mapped_column(sa.Float)  # 0 = north, clockwise
    fov_deg: Mapped[float | None] = mapped_column(sa.Float)  # horizontal field of view
    status: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="online")
    stream_url: Mapped[str | None] = mapped_column(sa.Text)  # the device's own (RTSP) source
    township_code: Mapped[str | None] = mapped_column(sa.String(9))
    # GB/T 28181 catalog fields (DOMAIN.md §8)
    manufacturer: Mapped[str | None] = mapped_column(sa.Text)
    model: Mapped[str | None] = mapped_column(sa.Text)
    owner: Mapped[str | None] = mapped_column(sa.Text)
    civil_code: Mapped[str | None] = mapped_column(sa.String(12))
    address: Mapped[str | None] = mapped_column(sa.Text)
    parent_code: Mapped[str | None] = mapped_column(sa.String(20))  # the registering device
    ptz_type: Mapped[int | None] = mapped_column(sa.SmallInteger)
    position_type: Mapped[int | None] = mapped_column(sa.SmallInteger)
    use_type: Mapped[int | None] = mapped_column(sa.SmallInteger)
    room_type: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # what a map needs and the standard lacks
    height_m: Mapped[float | None] = mapped_column(sa.REAL)
    range_m: Mapped[float | None] = mapped_column(sa.REAL)
    tilt_deg: Mapped[float | None] = mapped_column(sa.REAL)
    status_changed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    geom, geom_3857 = geometry_columns("POINT")


_TS = sa.DateTime(timezone=True)
metadata = Base.metadata

camera_devices = sa.Table(
    "camera_devices", metadata,
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("ha1", sa.Text),  # MD5(code:realm:password); null: the realm secret applies
    sa.Column("transport", sa.Text),
    sa.Column("remote_addr", sa.Text),
    sa.Column("keepalive_s", sa.Integer, nullable=False, server_default="60"),
    sa.Column("registered_at", _TS),
    sa.Column("expires_at", _TS),
    sa.Column("last_keepalive_at", _TS),
    sa.Column("online", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
)

camera_presets = sa.Table(
    "camera_presets", metadata,
    sa.Column("camera_id", sa.BigInteger, sa.ForeignKey("cameras.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("preset_no", sa.SmallInteger, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("heading_deg", sa.REAL, nullable=False),
    sa.Column("fov_deg", sa.REAL, nullable=False),
    sa.Column("range_m", sa.REAL),
    sa.Column("tilt_deg", sa.REAL),
)

camera_views = sa.Table(
    "camera_views", metadata,
    sa.Column("camera_id", sa.BigInteger, sa.ForeignKey("cameras.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("view_no", sa.SmallInteger, primary_key=True),  # 0 own heading, n preset n
    sa.Column("heading_deg", sa.REAL, nullable=False),
    sa.Column("fov_deg", sa.REAL, nullable=False),
    sa.Column("range_m", sa.REAL, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # ok | inside_building | no_heading | empty
    sa.Column("area_m2", sa.Float),
    sa.Column("visible_share", sa.REAL),
    sa.Column("computed_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("geom", Geometry("MULTIPOLYGON", 4326, spatial_index=False)),
    sa.Column("geom_3857", Geometry("MULTIPOLYGON", 3857, spatial_index=False),
              sa.Computed("ST_Transform(geom, 3857)", persisted=True)),
)

camera_status_changes = sa.Table(
    "camera_status_changes", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("camera_id", sa.BigInteger, sa.ForeignKey("cameras.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("time", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("previous", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
)

camera_alarms = sa.Table(
    "camera_alarms", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("camera_id", sa.BigInteger, sa.ForeignKey("cameras.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("time", _TS, nullable=False),
    sa.Column("received_at", _TS, nullable=False, server_default=sa.func.now()),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="3"),
    sa.Column("description", sa.Text),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("external_key", sa.Text),
    sa.Column("state", sa.Text, nullable=False, server_default="open"),
    sa.Column("acknowledged_by", sa.Text),
    sa.Column("acknowledged_at", _TS),
    sa.Column("incident_id", sa.BigInteger),  # the case it became (FK in the migration)
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
)

camera_coverage = sa.Table(
    "camera_coverage", metadata,
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Column("road_m", sa.Float, nullable=False),
    sa.Column("covered_m", sa.Float, nullable=False),
    sa.Column("share", sa.REAL),
    sa.Column("cameras", sa.Integer, nullable=False),
    sa.Column("computed_at", _TS, nullable=False, server_default=sa.func.now()),
)
