"""Traffic alerts as OASIS CAP 1.2 messages and an Atom 1.0 feed of the current ones (pure:
a mapping in, UTF-8 XML bytes out; no database, no clock).

The alert mapping is an item of `GET /api/traffic/alerts` (id, kind, segment, pilot_code, name,
status, level, speed_kmh, typical_kmh, started_at, updated_at, cleared_at, lon, lat,
headline_zh, headline_en; optional `revision`, the count of changes since it was raised) plus
`polygon`: the segment's buffer as (lon, lat) pairs.

Each CAP message has its own identifier (`<prefix><alert id>.<revision>`): the first is sent as
`Alert` when the alert is raised, a change as `Update`, the end (cleared or closed) as
`Cancel`; an Update or Cancel references the first message (CAP `references`: "sender,
identifier,sent" separated by spaces). Times are written in China Standard Time with an
explicit offset, as the schema's pattern requires (no `Z`). The area is the segment's buffer
polygon in CAP's `lat,lon` order, a closed ring of at least four points; without a polygon,
a small circle around the alert's point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from xml.etree import ElementTree as ET

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
GEORSS_NS = "http://www.georss.org/georss"
CST = timezone(timedelta(hours=8), "CST")   # China Standard Time, no daylight saving
ID_PREFIX = "SX-TRAFFIC-"
SENDER_NAME = {"zh-CN": "泗县城市运行管理中心（交通）",
               "en-US": "Sixian City Operations Center (traffic)"}
POINT_RADIUS_KM = 0.2   # the circle drawn when an alert has no polygon

MsgType = Literal["Alert", "Update", "Cancel"]
LEVELS = {0: ("未知", "unknown"), 1: ("畅通", "free flow"), 2: ("基本畅通", "mostly free"),
          3: ("轻度拥堵", "light congestion"), 4: ("中度拥堵", "moderate congestion"),
          5: ("严重拥堵", "severe congestion")}
EVENTS = {"congestion": ("交通拥堵", "Traffic congestion"),
          "slow": ("路段车速异常偏低", "Abnormally slow traffic"),
          "accident": ("交通事故", "Traffic accident")}



class CapError(ValueError):
    """The alert mapping lacks what a CAP message needs (named in the message)."""


def _time(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CapError(f"a time must be an aware datetime or ISO 8601 text, got {value!r}")
    return value


def cap_time(value: datetime | str) -> str:
    """CAP's dateTime: seconds, an explicit offset (+08:00), never `Z`."""
    return _time(value).astimezone(CST).replace(microsecond=0).isoformat()


def message_id(alert_id: int | str, msg_type: MsgType = "Alert", revision: int = 0) -> str:
    """The identifier of one message about an alert: the first (Alert), the change number
    `revision` (Update), the end (Cancel)."""
    if msg_type == "Alert":
        return f"{ID_PREFIX}{alert_id}"
    if msg_type == "Update":
        return f"{ID_PREFIX}{alert_id}.u{revision}"
    return f"{ID_PREFIX}{alert_id}.cancel"


def reference(sender: str, identifier: str, sent: datetime | str) -> str:
    """One entry of CAP `references`."""
    return f"{sender},{identifier},{cap_time(sent)}"


def msg_type_of(alert: Mapping[str, Any]) -> MsgType:
    """Alert when just raised, Update after a change, Cancel once cleared or closed."""
    if alert.get("status") in ("cleared", "closed"):
        return "Cancel"
    if int(alert.get("revision") or 0) > 0 or alert.get("status") == "acknowledged":
        return "Update"
    return "Alert"


def _sent(alert: Mapping[str, Any], msg_type: MsgType) -> datetime:
    if msg_type == "Alert":
        return _time(alert["started_at"])
    if msg_type == "Cancel" and alert.get("cleared_at"):
        return _time(alert["cleared_at"])
    return _time(alert.get("updated_at") or alert["started_at"])


def polygon_text(ring: Sequence[Sequence[float]]) -> str:
    """(lon, lat) pairs as CAP's `lat,lon lat,lon ...`, closed."""
    points = [(float(p[0]), float(p[1])) for p in ring]
    if len(points) >= 1 and points[0] != points[-1]:
        points.append(points[0])
    if len(points) < 4:
        raise CapError("polygon: a CAP polygon needs at least 3 distinct points")
    for lon, lat in points:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise CapError(f"polygon: ({lon}, {lat}) is not a WGS-84 longitude, latitude")
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in points)


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _kmh(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0f}"


def _texts(alert: Mapping[str, Any], kind: str, msg_type: MsgType
           ) -> dict[str, tuple[str, str, str]]:
    """(headline, description, instruction) per language."""
    name = alert.get("name") or f"路段 {alert.get('segment')}"
    level_zh, level_en = LEVELS.get(int(alert.get("level") or 0), LEVELS[0])
    started = _time(alert["started_at"]).astimezone(CST).strftime("%H:%M")
    speed, typical = _kmh(alert.get("speed_kmh")), _kmh(alert.get("typical_kmh"))
    event_zh, event_en = EVENTS[kind]
    head_zh = alert.get("headline_zh") or f"{name}{event_zh}"
    head_en = alert.get("headline_en") or f"{event_en} on segment {alert.get('segment')}"
    if msg_type == "Cancel":
        return {"zh-CN": (f"{head_zh}（已解除）", f"{name}{event_zh}已解除，交通恢复正常。",
                          "可正常通行。"),
                "en-US": (f"{head_en} (ended)", f"The {event_en.lower()} has ended.",
                          "Traffic may proceed normally.")}
    if kind == "accident":
        zh = (f"{name}发生交通事故（{started}起），当前平均车速{speed}公里/小时，"
              f"常态{typical}公里/小时。")
        en = (f"Traffic accident since {started} (UTC+8); mean speed now {speed} km/h, "
              f"usually {typical} km/h.")
        how = ("请减速慢行，服从现场交警指挥，可提前绕行。",
               "Slow down, follow the officers on site, or take another route.")
    else:
        zh = (f"{name}{event_zh}（{started}起）：当前平均车速{speed}公里/小时，常态{typical}"
              f"公里/小时，运行等级：{level_zh}。")
        en = (f"{event_en} since {started} (UTC+8): mean speed {speed} km/h, usually "
              f"{typical} km/h; level: {level_en}.")
        how = ("请提前绕行或错峰出行。", "Take another route or travel later if you can.")
    return {"zh-CN": (head_zh, zh, how[0]), "en-US": (head_en, en, how[1])}


def _grading(alert: Mapping[str, Any], kind: str, msg_type: MsgType
             ) -> tuple[str, str, str, str]:
    """(responseType, urgency, severity, certainty)."""
    if msg_type == "Cancel":
        return "AllClear", "Past", "Minor", "Observed"
    if kind == "accident":
        return "Avoid", "Immediate", "Severe", "Observed"
    level = int(alert.get("level") or 0)
    severity = "Severe" if level >= 5 else "Moderate" if level >= 4 else "Minor"
    return ("Avoid" if kind == "congestion" else "Monitor"), "Immediate", severity, "Observed"


def alert_cap(alert: Mapping[str, Any], *, sender: str, msg_type: MsgType,
              references: Sequence[str] = (), status: str = "Actual") -> bytes:
    """The CAP 1.2 `alert` of a traffic alert. `references` default, for an Update or Cancel,
    to the alert's first message."""
    for key in ("id", "kind", "started_at"):
        if alert.get(key) is None:
            raise CapError(f"{key}: a CAP message needs the alert's {key}")
    kind = str(alert["kind"])
    if kind not in EVENTS:
        raise CapError(f"kind: {kind!r} is not one of {', '.join(EVENTS)}")
    if any(c in sender for c in " ,<&"):
        raise CapError("sender: no spaces, commas, '<' or '&' (CAP 1.2 section 3.2.1)")
    revision = int(alert.get("revision") or 0)
    if msg_type != "Alert" and not references:
        references = [reference(sender, message_id(alert["id"]), alert["started_at"])]
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", message_id(alert["id"], msg_type, revision))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(_sent(alert, msg_type)))
    _sub(root, "status", status)
    _sub(root, "msgType", msg_type)
    _sub(root, "scope", "Public")
    if references:
        _sub(root, "references", " ".join(references))
    _sub(root, "incidents", message_id(alert["id"]))
    response, urgency, severity, certainty = _grading(alert, kind, msg_type)
    for language, (headline, description, instruction) in _texts(alert, kind, msg_type).items():
        info = _sub(root, "info")
        _sub(info, "language", language)
        _sub(info, "category", "Transport")
        _sub(info, "event", EVENTS[kind][0 if language == "zh-CN" else 1])
        _sub(info, "responseType", response)
        _sub(info, "urgency", urgency)
        _sub(info, "severity", severity)
        _sub(info, "certainty", certainty)
        _sub(info, "onset", cap_time(alert["started_at"]))
        _sub(info, "senderName", SENDER_NAME[language])
        _sub(info, "headline", headline)
        _sub(info, "description", description)
        _sub(info, "instruction", instruction)
        for name in ("segment", "pilot_code", "level", "speed_kmh", "typical_kmh"):
            if alert.get(name) is not None:
                param = _sub(info, "parameter")
                _sub(param, "valueName", name)
                _sub(param, "value", alert[name])
        area = _sub(info, "area")
        _sub(area, "areaDesc", alert.get("name") or f"segment {alert.get('segment')}")
        if alert.get("polygon"):
            _sub(area, "polygon", polygon_text(alert["polygon"]))
        elif alert.get("lon") is not None and alert.get("lat") is not None:
            _sub(area, "circle", f"{float(alert['lat']):.6f},{float(alert['lon']):.6f} "
                                 f"{POINT_RADIUS_KM}")
        else:
            raise CapError("polygon: the alert has neither a polygon nor lon, lat")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)


def _atom(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def alerts_atom(alerts: Iterable[Mapping[str, Any]], *, base_url: str, updated: datetime
                ) -> bytes:
    """An Atom 1.0 feed of `alerts` (the current ones), newest first, each entry linking its
    CAP message at `<base_url>/api/traffic/alerts/<id>.cap`."""
    base = base_url.rstrip("/")
    # Atom's elements are written unprefixed under xmlns on the root (ElementTree's
    # default_namespace refuses the unqualified attributes that Atom's links need)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xmlns:georss": GEORSS_NS, "xml:lang": "zh-CN"})
    _atom(feed, "id", f"{base}/api/traffic/alerts.atom")
    _atom(feed, "title", "泗县交通预警 · Sixian traffic alerts")
    _atom(feed, "updated", cap_time(updated))
    _atom(_atom(feed, "author"), "name", SENDER_NAME["zh-CN"])
    _atom(feed, "link", rel="self", type="application/atom+xml",
          href=f"{base}/api/traffic/alerts.atom")
    ordered = sorted(alerts, key=lambda a: _time(a.get("updated_at") or a["started_at"]),
                     reverse=True)
    for alert in ordered:
        kind = str(alert.get("kind"))
        texts = _texts(alert, kind if kind in EVENTS else "congestion", msg_type_of(alert))
        entry = _atom(feed, "entry")
        _atom(entry, "id", f"{base}/api/traffic/alerts/{alert['id']}")
        _atom(entry, "title", texts["zh-CN"][0])
        _atom(entry, "updated", cap_time(alert.get("updated_at") or alert["started_at"]))
        _atom(entry, "published", cap_time(alert["started_at"]))
        _atom(entry, "summary", texts["zh-CN"][1])
        _atom(entry, "category", term=kind)
        _atom(entry, "link", rel="alternate", type="application/cap+xml",
              href=f"{base}/api/traffic/alerts/{alert['id']}.cap")
        if alert.get("lat") is not None and alert.get("lon") is not None:
            point = ET.SubElement(entry, "georss:point")
            point.text = f"{float(alert['lat']):.6f} {float(alert['lon']):.6f}"
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
