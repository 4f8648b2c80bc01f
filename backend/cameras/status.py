"""Camera status from GB/T 28181 signalling: the SIP listener's sink over the database, and the
keepalive watchdog.

A device (an IPC registering with its own id, or an NVR for its channels, the cameras whose
`parent_code` is the device) is a `camera_devices` row. Status changes of its cameras are
stored in `camera_status_changes`, written on `cameras` and pushed on `cameras.status`; catalog
items update the registry; alarms go through `alarms.store_alarm` and are pushed on
`cameras.alarms`. Database work runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from backend.cameras import rules
from backend.cameras.alarms import KINDS, NewCameraAlarm, alarm_event, store_alarm
from backend.cameras.device_id import CHANNEL_TYPES, DEVICE_TYPES, DeviceIdError, decode
from backend.cameras.schemas import CameraAlarmRead, StatusEvent
from backend.errors import NotFound
from backend.ingest.gb28181.manscdp import AlarmNotify, CatalogItem
from backend.ingest.gb28181.sink import DeviceSecret, Registration
from backend.realtime.hub import Hub
from backend.realtime.messages import CAMERA_ALARMS, CAMERA_STATUS

log = logging.getLogger(__name__)

SOURCE = "sip"
# cameras.last_seen_at moves at most this often on keepalives alone: every write to `cameras`
# bumps its data version and so the map's tile cache; status changes write at once.
SEEN_EVERY = timedelta(minutes=5)
KIND_OF_INDUSTRY = {"04": "traffic", "05": "traffic", "06": "traffic", "07": "traffic",
                    "01": "xueliang"}  # else tianwang (GB/T 28181 industry codes)
CATALOG_STATUS = {"ON": "online", "OFF": "offline"}

# `cameras` has a statement-level trigger bumping its layer version (the tile cache), which
# fires even for an UPDATE of no rows and holds that version row until commit: every write is
# preceded by a read that says whether there is anything to write.
_ANY_CHANGE_SQL = sa.text("""
SELECT EXISTS (SELECT 1 FROM cameras WHERE (code = :device OR parent_code = :device)
  AND status <> :status AND (CAST(:only AS text) IS NULL OR code = :only))""")
_ANY_STALE_SQL = sa.text("""
SELECT EXISTS (SELECT 1 FROM cameras WHERE (code = :c OR parent_code = :c) AND status = 'online'
  AND (last_seen_at IS NULL OR last_seen_at < :stale))""")
_SEEN_SQL = sa.text("""
UPDATE cameras SET last_seen_at = :at WHERE (code = :c OR parent_code = :c) AND status = 'online'
  AND (last_seen_at IS NULL OR last_seen_at < :stale)""")
_CHANGE_SQL = sa.text("""
WITH targets AS (
  SELECT id, status FROM cameras WHERE (code = :device OR parent_code = :device)
    AND status <> :status AND (CAST(:only AS text) IS NULL OR code = :only)
  FOR UPDATE
), changed AS (
  UPDATE cameras c SET status = :status, status_changed_at = :at,
    last_seen_at = CASE WHEN :seen THEN :at ELSE c.last_seen_at END
  FROM targets t WHERE c.id = t.id
  RETURNING c.id, c.code, c.name, t.status AS previous, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
), logged AS (
  INSERT INTO camera_status_changes (camera_id, time, status, previous, reason)
  SELECT id, :at, :status, previous, :reason FROM changed
)
SELECT code, name, previous, lon, lat FROM changed ORDER BY code""")


class CameraStatus:
    """The `DeviceSink` of backend.ingest.gb28181, and the watchdog."""

    def __init__(self, engine: sa.Engine, hub: Hub, *, counties: set[str],
                 keepalive_s: int, misses: int) -> None:
        self.engine, self.hub = engine, hub
        self.counties = counties
        self.keepalive_s, self.misses = keepalive_s, misses
        self.counters: Counter[str] = Counter()  # catalog and alarm outcomes (/metrics)

    # ---- DeviceSink --------------------------------------------------------------------------

    async def device_secret(self, device_id: str) -> DeviceSecret | None:
        return await asyncio.to_thread(self._secret, device_id)

    async def registered(self, registration: Registration) -> None:
        await self._publish(await asyncio.to_thread(self._registered, registration))

    async def unregistered(self, device_id: str, at: datetime) -> None:
        await self._publish(await asyncio.to_thread(self._offline, device_id, at, "unregister"))

    async def keepalive(self, device_id: str, at: datetime) -> None:
        await self._publish(await asyncio.to_thread(self._keepalive, device_id, at))

    async def catalog(self, device_id: str, items: Sequence[CatalogItem], sum_num: int) -> int:
        applied, events = await asyncio.to_thread(self._catalog, device_id, items)
        await self._publish(events)
        return applied

    async def alarm(self, device_id: str, alarm: AlarmNotify) -> bool:
        stored = await asyncio.to_thread(self._alarm, device_id, alarm)
        if stored is None:
            return False
        await self.hub.publish(CAMERA_ALARMS, alarm_event("raised", stored))
        return True

    # ---- the watchdog ------------------------------------------------------------------------

    async def check(self, now: datetime | None = None) -> int:
        """Mark offline every device the rules say is; returns how many."""
        now = now or datetime.now(UTC)
        states = await asyncio.to_thread(self._online_devices)
        gone = rules.overdue(states, now, interval_s=self.keepalive_s, misses=self.misses)
        for event in gone:
            await self._publish(await asyncio.to_thread(self._offline, event.code, now,
                                                        "timeout"))
        return len(gone)

    async def watch(self, period_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.check()
            except Exception:  # the database away: try again next period
                log.exception("cameras: the keepalive watchdog failed")

    # ---- database work (threads) -------------------------------------------------------------

    def _secret(self, device_id: str) -> DeviceSecret | None:
        try:
            decoded = decode(device_id, self.counties)
        except DeviceIdError:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT ha1 FROM camera_devices WHERE code = :c"),
                               {"c": device_id}).first()
            if row is not None:
                return DeviceSecret(row.ha1)
            # A camera of the registry may register with its own id under the realm secret.
            known = conn.execute(sa.text("SELECT 1 FROM cameras WHERE code = :c"),
                                 {"c": device_id}).first()
        return DeviceSecret(None) if known and decoded.type_code in DEVICE_TYPES else None

    def _registered(self, reg: Registration) -> list[StatusEvent]:
        with self.engine.begin() as conn:
            conn.execute(sa.text("""
INSERT INTO camera_devices (code, transport, remote_addr, keepalive_s, registered_at, expires_at,
  last_keepalive_at, online, updated_at)
VALUES (:code, :transport, :addr, :keepalive, :at, :expires, NULL, true, :at)
ON CONFLICT (code) DO UPDATE SET transport = EXCLUDED.transport,
  remote_addr = EXCLUDED.remote_addr, registered_at = EXCLUDED.registered_at,
  expires_at = EXCLUDED.expires_at, online = true, updated_at = EXCLUDED.updated_at"""),
                {"code": reg.device_id, "transport": reg.transport, "addr": reg.remote_addr,
                 "keepalive": self.keepalive_s, "at": reg.at,
                 "expires": reg.at + timedelta(seconds=reg.expires_s)})
            return self._change(conn, reg.device_id, "online", "register", reg.at)

    def _keepalive(self, device_id: str, at: datetime) -> list[StatusEvent]:
        with self.engine.begin() as conn:
            was = conn.execute(sa.text("""
UPDATE camera_devices d SET last_keepalive_at = :at, online = true, updated_at = :at
FROM (SELECT code, online FROM camera_devices WHERE code = :c FOR UPDATE) old
WHERE d.code = old.code RETURNING old.online"""), {"c": device_id, "at": at}).scalar()
            if was is None:
                return []
            if was:
                params = {"c": device_id, "at": at, "stale": at - SEEN_EVERY}
                if conn.execute(_ANY_STALE_SQL, params).scalar():
                    conn.execute(_SEEN_SQL, params)
                return []
            return self._change(conn, device_id, "online", "keepalive", at)

    def _offline(self, device_id: str, at: datetime, reason: str) -> list[StatusEvent]:
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE camera_devices SET online = false, updated_at = :at WHERE code = :c"),
                {"c": device_id, "at": at})
            return self._change(conn, device_id, "offline", reason, at)

    def _change(self, conn: sa.Connection, device_id: str, status: str, reason: str,
                at: datetime, only: str | None = None) -> list[StatusEvent]:
        params = {"device": device_id, "status": status, "at": at, "reason": reason,
                  "seen": status == "online", "only": only}
        if not conn.execute(_ANY_CHANGE_SQL, params).scalar():
            return []  # no write at all: an UPDATE of no rows still bumps the layer version
        rows = conn.execute(_CHANGE_SQL, params).all()
        return [StatusEvent(code=r.code, name=r.name, status=status, previous=r.previous,
                            reason=reason, time=at, lon=r.lon, lat=r.lat) for r in rows]

    def _online_devices(self) -> list[rules.DeviceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("""
SELECT code, online, GREATEST(registered_at, last_keepalive_at) AS last_seen, expires_at,
  keepalive_s FROM camera_devices WHERE online""")).all()
        return [rules.DeviceState(r.code, r.online, r.last_seen, r.expires_at, r.keepalive_s)
                for r in rows]

    def _catalog(self, device_id: str, items: Sequence[CatalogItem]
                 ) -> tuple[int, list[StatusEvent]]:
        applied, events = 0, []
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for item in items:
                outcome = self._catalog_item(conn, device_id, item)
                self.counters[f"catalog_{outcome}"] += 1
                if outcome not in ("updated", "added"):
                    continue
                applied += 1
                status = CATALOG_STATUS.get(item.status or "")
                if status is not None:
                    events += self._change(conn, device_id, status, "catalog", now,
                                           only=item.device_id)
        return applied, events

    def _catalog_item(self, conn: sa.Connection, device_id: str, item: CatalogItem) -> str:
        try:
            decoded = decode(item.device_id, self.counties)
        except DeviceIdError as exc:
            return f"refused_{exc.part.replace(' ', '_')}"
        parent = None if item.device_id == device_id else device_id
        row = conn.execute(sa.text("SELECT parent_code FROM cameras WHERE code = :c"),
                           {"c": item.device_id}).first()
        values = {"code": item.device_id, "name": item.name, "manufacturer": item.manufacturer,
                  "model": item.model, "owner": item.owner, "civil": item.civil_code,
                  "address": item.address, "parent": parent, "lon": item.longitude,
                  "lat": item.latitude, "ptz": item.ptz_type
                  if item.ptz_type is not None and 1 <= item.ptz_type <= 9 else None}
        if row is not None:
            if row.parent_code not in (None, parent):
                return "refused_other_device"  # a device may not rewrite another's channels
            conn.execute(sa.text("""
UPDATE cameras SET name = COALESCE(:name, name), manufacturer = COALESCE(:manufacturer,
  manufacturer), model = COALESCE(:model, model), owner = COALESCE(:owner, owner),
  civil_code = COALESCE(:civil, civil_code), address = COALESCE(:address, address),
  parent_code = COALESCE(:parent, parent_code), ptz_type = COALESCE(:ptz, ptz_type),
  geom = CASE WHEN :lon IS NOT NULL AND :lat IS NOT NULL
              THEN ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) ELSE geom END,
  updated_at = now()
WHERE code = :code"""), values)
            return "updated"
        if decoded.type_code not in CHANNEL_TYPES:
            return "refused_not_a_camera"
        if item.longitude is None or item.latitude is None:
            return "refused_no_place"
        conn.execute(sa.text("""
INSERT INTO cameras (source, source_key, code, name, kind, status, manufacturer, model, owner,
  civil_code, address, parent_code, ptz_type, geom)
VALUES (:source, :code, :code, :name, :kind, 'offline', :manufacturer, :model, :owner, :civil,
  :address, :parent, :ptz, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"""),
                     {**values, "source": f"{SOURCE}:{device_id}",
                      "kind": KIND_OF_INDUSTRY.get(decoded.industry, "tianwang")})
        return "added"

    def _alarm(self, device_id: str, alarm: AlarmNotify) -> CameraAlarmRead | None:
        kind = alarm.kind if alarm.kind in KINDS else "other"
        at = alarm.time or datetime.now(UTC)
        key = f"{alarm.device_id}:{at.isoformat()}:{alarm.method}/{alarm.alarm_type}"
        with self.engine.begin() as conn:
            own = conn.execute(sa.text(
                "SELECT 1 FROM cameras WHERE code = :c AND (code = :d OR parent_code = :d)"),
                {"c": alarm.device_id, "d": device_id}).first()
            if own is None:
                self.counters["alarm_refused_unknown_camera"] += 1
                return None
            try:
                stored = store_alarm(conn, NewCameraAlarm(
                    camera=alarm.device_id, time=at, kind=kind, source=SOURCE,
                    priority=alarm.priority, description=(alarm.description or None),
                    external_key=key))
            except NotFound:
                self.counters["alarm_refused_unknown_camera"] += 1
                return None
        self.counters["alarm_stored" if stored else "alarm_repeat"] += 1
        return stored

    async def _publish(self, events: list[StatusEvent]) -> None:
        for event in events:
            await self.hub.publish(CAMERA_STATUS, event.model_dump(mode="json"))
