"""MANSCDP bodies (GB/T 28181-2016 appendix A, `Application/MANSCDP+xml`), GB2312 encoded.

Parsed with defusedxml (no entities, no DTD: the XML comes from devices and is hostile), after
decoding the bytes ourselves: expat reads no multi-byte encoding such as GB2312, and devices
often declare GB2312 over UTF-8 bytes, so strict UTF-8 is tried first, then GB18030 (a
superset of GB2312 and GBK).
Item counts are bounded; every failure is a `BodyError` with a short reason.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # building only; parsing goes through defusedxml
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

CONTENT_TYPE = "Application/MANSCDP+xml"
ENCODING = "GB2312"
MAX_ITEMS = 256        # items in one Catalog response MESSAGE
MAX_SUM = 10_000       # channels a device may declare in SumNum
MAX_TEXT = 256         # characters kept of any text field
BEIJING = timezone(timedelta(hours=8))  # the standard's times carry no zone: Beijing time

_DECL = re.compile(rb'^\s*<\?xml[^>]*encoding\s*=\s*["\']([A-Za-z0-9_-]{1,20})["\'][^>]*\?>')
_GB = {"gb2312", "gbk", "gb18030", "cp936"}

# AlarmMethod 5 (video analytics) AlarmType -> the console's alarm kinds; method 2 (device)
# and 6 (fault) are device alarms. The reverse table lets the simulated devices speak it.
VIDEO_ALARM_KINDS = {1: "other", 2: "motion", 3: "object", 4: "object", 5: "tripwire",
                     6: "intrusion", 7: "tripwire", 8: "loitering", 9: "crowd", 10: "crowd",
                     11: "tamper", 12: "other"}
DEVICE_METHODS = {2, 6}
KIND_CODES = {"motion": (5, 2), "object": (5, 3), "tripwire": (5, 5), "intrusion": (5, 6),
              "loitering": (5, 8), "crowd": (5, 10), "tamper": (5, 11), "device": (2, 2),
              "other": (7, 0)}


class BodyError(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Keepalive:
    sn: int
    device_id: str
    status: str


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    sn: int
    device_id: str


@dataclass(frozen=True, slots=True)
class CatalogItem:
    device_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    address: str | None = None
    parent_id: str | None = None
    status: str | None = None          # ON | OFF
    longitude: float | None = None
    latitude: float | None = None
    ptz_type: int | None = None


@dataclass(frozen=True, slots=True)
class CatalogResponse:
    sn: int
    device_id: str
    sum_num: int
    items: tuple[CatalogItem, ...]


@dataclass(frozen=True, slots=True)
class AlarmNotify:
    sn: int
    device_id: str
    priority: int
    method: int
    time: datetime | None
    alarm_type: int | None
    description: str | None
    longitude: float | None
    latitude: float | None

    @property
    def kind(self) -> str:
        if self.method == 5 and self.alarm_type in VIDEO_ALARM_KINDS:
            return VIDEO_ALARM_KINDS[self.alarm_type]
        return "device" if self.method in DEVICE_METHODS else "other"


@dataclass(frozen=True, slots=True)
class Other:
    """A well-formed body of a kind this endpoint does not act on (answered 200, counted)."""

    root: str
    cmd_type: str


Body = Keepalive | CatalogQuery | CatalogResponse | AlarmNotify | Other


# ---- parsing -----------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    m = _DECL.match(data)
    declared = m.group(1).decode().lower() if m else "utf-8"
    # UTF-8 first: it validates itself (Chinese GBK bytes are almost never valid UTF-8), while
    # GB18030 decodes nearly any bytes, so it would turn a mislabelled UTF-8 body into garbage.
    order = ["utf-8", "gb18030"] if declared in _GB else ["utf-8", declared, "gb18030"]
    for codec in order:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return text[m.end():] if m else text  # the declaration would name a codec expat lacks
    raise BodyError("bad_encoding", declared)


def parse(data: bytes, *, max_items: int = MAX_ITEMS) -> Body:
    try:
        root = fromstring(decode_text(data))
    except DefusedXmlException as exc:
        raise BodyError("forbidden_xml", type(exc).__name__) from None
    except ET.ParseError as exc:
        raise BodyError("bad_xml", str(exc)[:80]) from None
    cmd = _text(root, "CmdType")
    device = _text(root, "DeviceID")
    sn = _int(root, "SN")
    if cmd is None or device is None or sn is None:
        raise BodyError("missing_field", "CmdType, SN and DeviceID are required")
    if root.tag == "Notify" and cmd == "Keepalive":
        return Keepalive(sn, device, _text(root, "Status") or "OK")
    if root.tag == "Query" and cmd == "Catalog":
        return CatalogQuery(sn, device)
    if root.tag == "Response" and cmd == "Catalog":
        return _catalog(root, sn, device, max_items)
    if root.tag == "Notify" and cmd == "Alarm":
        info = root.find("Info")
        alarm_type = _int(info, "AlarmType") if info is not None else None
        priority = _int(root, "AlarmPriority") or 4
        return AlarmNotify(
            sn, device, min(max(priority, 1), 4), _int(root, "AlarmMethod") or 7,
            _time(_text(root, "AlarmTime")),
            alarm_type if alarm_type is not None else _int(root, "AlarmType"),
            _text(root, "AlarmDescription"), _float(root, "Longitude", 180),
            _float(root, "Latitude", 90))
    return Other(root.tag[:40], cmd[:40])


def _catalog(root: ET.Element, sn: int, device: str, max_items: int) -> CatalogResponse:
    sum_num = _int(root, "SumNum")
    if sum_num is None or not 0 <= sum_num <= MAX_SUM:
        raise BodyError("bad_sum_num", f"SumNum must be 0..{MAX_SUM}")
    listing = root.find("DeviceList")
    elements = [] if listing is None else listing.findall("Item")
    if len(elements) > max_items:
        raise BodyError("too_many_items", f"{len(elements)} > {max_items}")
    items = []
    for el in elements:
        item_id = _text(el, "DeviceID")
        if item_id is None:
            raise BodyError("missing_field", "an Item without DeviceID")
        info = el.find("Info")
        ptz = _int(info, "PTZType") if info is not None else None
        items.append(CatalogItem(
            item_id, _text(el, "Name"), _text(el, "Manufacturer"), _text(el, "Model"),
            _text(el, "Owner"), _text(el, "CivilCode"), _text(el, "Address"),
            _text(el, "ParentID"), (_text(el, "Status") or "").upper() or None,
            _float(el, "Longitude", 180), _float(el, "Latitude", 90), ptz))
    return CatalogResponse(sn, device, sum_num, tuple(items))


def _text(el: ET.Element, tag: str) -> str | None:
    child = el.find(tag)
    if child is None or child.text is None:
        return None
    text = child.text.strip()
    return text[:MAX_TEXT] or None


def _int(el: ET.Element, tag: str) -> int | None:
    text = _text(el, tag)
    if text is None:
        return None
    if not text.isdigit() or len(text) > 9:
        raise BodyError("bad_field", tag)
    return int(text)


def _float(el: ET.Element, tag: str, bound: float) -> float | None:
    text = _text(el, tag)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BodyError("bad_field", tag) from None
    if not -bound <= value <= bound:
        raise BodyError("bad_field", f"{tag} out of range")
    return value or None  # devices send 0 for "unknown place"


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BodyError("bad_field", "AlarmTime") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


# ---- building ----------------------------------------------------------------------------------

def _doc(root: str, cmd: str, sn: int, device_id: str,
         fields: Sequence[tuple[str, object]] = ()) -> ET.Element:
    el = ET.Element(root)
    for tag, value in (("CmdType", cmd), ("SN", sn), ("DeviceID", device_id), *fields):
        if value is not None:
            ET.SubElement(el, tag).text = str(value)
    return el


def _bytes(el: ET.Element) -> bytes:
    body = ET.tostring(el, encoding="unicode")
    return f'<?xml version="1.0" encoding="{ENCODING}"?>\r\n{body}\r\n'.encode("gb18030")


def keepalive(sn: int, device_id: str) -> bytes:
    return _bytes(_doc("Notify", "Keepalive", sn, device_id, [("Status", "OK")]))


def catalog_query(sn: int, device_id: str) -> bytes:
    return _bytes(_doc("Query", "Catalog", sn, device_id))


def catalog_response(sn: int, device_id: str, sum_num: int,
                     items: Sequence[CatalogItem]) -> bytes:
    el = _doc("Response", "Catalog", sn, device_id, [("SumNum", sum_num)])
    listing = ET.SubElement(el, "DeviceList", Num=str(len(items)))
    for item in items:
        node = ET.SubElement(listing, "Item")
        for tag, value in (("DeviceID", item.device_id), ("Name", item.name),
                           ("Manufacturer", item.manufacturer), ("Model", item.model),
                           ("Owner", item.owner), ("CivilCode", item.civil_code),
                           ("Address", item.address), ("ParentID", item.parent_id),
                           ("Status", item.status), ("Longitude", item.longitude),
                           ("Latitude", item.latitude)):
            if value is not None:
                ET.SubElement(node, tag).text = str(value)
        if item.ptz_type is not None:
            ET.SubElement(ET.SubElement(node, "Info"), "PTZType").text = str(item.ptz_type)
    return _bytes(el)


def alarm(sn: int, device_id: str, *, kind: str, time: datetime, priority: int = 3,
          description: str | None = None, longitude: float | None = None,
          latitude: float | None = None) -> bytes:
    method, alarm_type = KIND_CODES[kind]
    el = _doc("Notify", "Alarm", sn, device_id, [
        ("AlarmPriority", priority), ("AlarmMethod", method),
        ("AlarmTime", time.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S")),
        ("AlarmDescription", description),
        ("Longitude", longitude), ("Latitude", latitude)])
    ET.SubElement(ET.SubElement(el, "Info"), "AlarmType").text = str(alarm_type)
    return _bytes(el)
