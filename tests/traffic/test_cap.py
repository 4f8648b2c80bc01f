"""Traffic alerts as CAP 1.2, validated against the OASIS schema (tests/data/cap, see its
PROVENANCE.md), and the Atom feed of current alerts, parsed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from backend.traffic.cap import (
    CapError,
    alert_cap,
    alerts_atom,
    message_id,
    msg_type_of,
    polygon_text,
    reference,
)

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data/cap/CAP-v1.2.xsd")))
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
ATOM = {"a": "http://www.w3.org/2005/Atom", "georss": "http://www.georss.org/georss"}
SENDER = "cityops@341324.sixian"
T0 = datetime(2026, 3, 2, 10, 13, 20, tzinfo=UTC)
# a buffer around an east-west block of 汴河大道: lon 117.876..117.883, lat 33.479
RING = [(117.876, 33.4787), (117.883, 33.4787), (117.883, 33.4793), (117.876, 33.4793)]


def alert(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 42, "kind": "congestion", "segment": 984, "pilot_code": "SX-JT-01A",
        "name": "汴河大道（清水湾路—解放路）西向东", "status": "active", "level": 5,
        "speed_kmh": 9.6, "typical_kmh": 38.4, "started_at": T0, "updated_at": T0,
        "cleared_at": None, "acknowledged_by": None, "closed_by": None,
        "lon": 117.8795, "lat": 33.479, "headline_zh": "汴河大道西向东严重拥堵",
        "headline_en": "Severe congestion on Bianhe Avenue eastbound", "polygon": RING}
    return base | over


def valid(xml: bytes) -> etree._Element:
    doc = etree.fromstring(xml)
    XSD.assertValid(doc)
    return doc


def texts(doc: etree._Element, path: str) -> list[str]:
    return [e.text for e in doc.xpath(path, namespaces=NS)]


def test_a_raised_alert_is_a_valid_cap_alert_in_chinese_and_english() -> None:
    doc = valid(alert_cap(alert(), sender=SENDER, msg_type="Alert"))
    assert texts(doc, "cap:identifier") == ["SX-TRAFFIC-42"]
    assert texts(doc, "cap:sender") == [SENDER]
    assert texts(doc, "cap:sent") == ["2026-03-02T18:13:20+08:00"]  # local, explicit offset
    assert texts(doc, "cap:status") == ["Actual"] and texts(doc, "cap:msgType") == ["Alert"]
    assert texts(doc, "cap:scope") == ["Public"] and not doc.xpath("cap:references",
                                                                  namespaces=NS)
    assert texts(doc, "cap:info/cap:language") == ["zh-CN", "en-US"]
    assert texts(doc, "cap:info/cap:category") == ["Transport", "Transport"]
    assert texts(doc, "cap:info/cap:event") == ["交通拥堵", "Traffic congestion"]
    assert texts(doc, "cap:info/cap:severity") == ["Severe", "Severe"]  # level 5
    assert texts(doc, "cap:info/cap:urgency") == ["Immediate"] * 2
    assert texts(doc, "cap:info/cap:certainty") == ["Observed"] * 2
    zh = doc.xpath("cap:info[cap:language='zh-CN']", namespaces=NS)[0]
    assert texts(zh, "cap:headline") == ["汴河大道西向东严重拥堵"]
    description = texts(zh, "cap:description")[0]
    assert "10公里/小时" in description and "38公里/小时" in description
    assert "严重拥堵" in description and "18:13起" in description
    assert texts(zh, "cap:area/cap:areaDesc") == ["汴河大道（清水湾路—解放路）西向东"]
    params = dict(zip(texts(zh, "cap:parameter/cap:valueName"),
                      texts(zh, "cap:parameter/cap:value"), strict=True))
    assert params["segment"] == "984" and params["pilot_code"] == "SX-JT-01A"


def test_the_area_polygon_is_lat_lon_pairs_in_a_closed_ring() -> None:
    doc = valid(alert_cap(alert(), sender=SENDER, msg_type="Alert"))
    polygon = texts(doc, "cap:info[1]/cap:area/cap:polygon")[0]
    pairs = [tuple(map(float, p.split(","))) for p in polygon.split(" ")]
    assert len(pairs) == len(RING) + 1 and pairs[0] == pairs[-1]
    # latitude first: every first number is the 33.x latitude, every second the 117.x longitude
    assert all(33 < lat < 34 and 117 < lon < 118 for lat, lon in pairs)
    assert pairs[:4] == [(lat, lon) for lon, lat in RING]
    # an already closed ring is not closed twice; a line is no polygon
    assert polygon_text([*RING, RING[0]]) == polygon
    with pytest.raises(CapError, match="at least 3"):
        polygon_text(RING[:2])
    with pytest.raises(CapError, match="not a WGS-84"):
        polygon_text([(33.47, 117.87), (33.48, 117.87), (33.48, 117.88)])  # swapped


def test_a_change_is_an_update_and_the_end_a_cancel_both_referencing_the_alert() -> None:
    later = T0 + timedelta(minutes=10)
    changed = alert(revision=2, level=4, speed_kmh=17.0, updated_at=later)
    assert msg_type_of(alert()) == "Alert" and msg_type_of(changed) == "Update"
    doc = valid(alert_cap(changed, sender=SENDER, msg_type="Update"))
    assert texts(doc, "cap:msgType") == ["Update"]
    assert texts(doc, "cap:identifier") == [message_id(42, "Update", 2)]
    assert texts(doc, "cap:sent") == ["2026-03-02T18:23:20+08:00"]
    first = reference(SENDER, "SX-TRAFFIC-42", T0)
    assert texts(doc, "cap:references") == [first]
    assert first == f"{SENDER},SX-TRAFFIC-42,2026-03-02T18:13:20+08:00"
    assert texts(doc, "cap:info/cap:severity") == ["Moderate", "Moderate"]  # level 4
    cleared = alert(status="cleared", cleared_at=later + timedelta(minutes=5), revision=3)
    assert msg_type_of(cleared) == "Cancel"
    earlier = [first, reference(SENDER, message_id(42, "Update", 2), later)]
    doc = valid(alert_cap(cleared, sender=SENDER, msg_type="Cancel", references=earlier))
    assert texts(doc, "cap:msgType") == ["Cancel"]
    assert texts(doc, "cap:identifier") == ["SX-TRAFFIC-42.cancel"]
    assert texts(doc, "cap:sent") == ["2026-03-02T18:28:20+08:00"]
    assert texts(doc, "cap:references")[0].split(" ") == earlier
    assert texts(doc, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    assert "已解除" in texts(doc, "cap:info/cap:headline")[0]


def test_an_accident_without_a_polygon_is_a_circle_at_its_point() -> None:
    crash = alert(kind="accident", polygon=None, level=5, speed_kmh=5.0,
                  headline_zh="解放路北向南交通事故", started_at="2026-03-02T10:23:20+00:00")
    doc = valid(alert_cap(crash, sender=SENDER, msg_type="Alert"))
    assert texts(doc, "cap:info/cap:event") == ["交通事故", "Traffic accident"]
    assert texts(doc, "cap:info/cap:responseType") == ["Avoid", "Avoid"]
    assert texts(doc, "cap:info[1]/cap:area/cap:circle") == ["33.479000,117.879500 0.2"]
    assert not doc.xpath("cap:info/cap:area/cap:polygon", namespaces=NS)


@pytest.mark.parametrize(("over", "sender", "problem"), [
    ({"kind": "jam"}, SENDER, "kind: 'jam' is not one of"),
    ({"started_at": None}, SENDER, "started_at: a CAP message needs"),
    ({"started_at": datetime(2026, 3, 2, 10, 0)}, SENDER, "aware datetime"),
    ({"polygon": None, "lon": None}, SENDER, "neither a polygon nor lon, lat"),
    ({}, "city ops", "sender: no spaces"),
])
def test_what_cap_cannot_say_is_refused_naming_the_field(over: dict[str, Any], sender: str,
                                                          problem: str) -> None:
    with pytest.raises(CapError, match=problem):
        alert_cap(alert(**over), sender=sender, msg_type="Alert")


def test_the_atom_feed_lists_current_alerts_linking_their_cap() -> None:
    crash = alert(id=43, kind="accident", headline_zh="解放路北向南交通事故",
                  started_at=T0 + timedelta(minutes=12), updated_at=T0 + timedelta(minutes=12))
    feed = alerts_atom([alert(), crash], base_url="https://ops.example.cn/",
                       updated=T0 + timedelta(minutes=15))
    doc = etree.fromstring(feed)  # well-formed, parsed back
    assert doc.tag == "{http://www.w3.org/2005/Atom}feed"
    assert doc.xpath("a:updated/text()", namespaces=ATOM) == ["2026-03-02T18:28:20+08:00"]
    assert doc.xpath("a:link[@rel='self']/@href", namespaces=ATOM) == [
        "https://ops.example.cn/api/traffic/alerts.atom"]
    entries = doc.xpath("a:entry", namespaces=ATOM)
    assert [e.xpath("a:title/text()", namespaces=ATOM)[0] for e in entries] == [
        "解放路北向南交通事故", "汴河大道西向东严重拥堵"]  # newest first
    assert entries[1].xpath("a:link[@rel='alternate']/@href", namespaces=ATOM) == [
        "https://ops.example.cn/api/traffic/alerts/42.cap"]
    assert entries[1].xpath("a:link/@type", namespaces=ATOM) == ["application/cap+xml"]
    assert entries[1].xpath("georss:point/text()", namespaces=ATOM) == ["33.479000 117.879500"]
    for entry in entries:  # Atom's required elements
        for tag in ("id", "title", "updated"):
            assert entry.xpath(f"a:{tag}/text()", namespaces=ATOM)
    empty = etree.fromstring(alerts_atom([], base_url="http://x", updated=T0))
    assert not empty.xpath("a:entry", namespaces=ATOM) and empty.xpath("a:id", namespaces=ATOM)
