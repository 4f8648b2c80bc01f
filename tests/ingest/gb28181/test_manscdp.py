"""MANSCDP bodies: GB2312 on the wire, parsed back; hostile XML refused; bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.ingest.gb28181 import manscdp
from backend.ingest.gb28181.manscdp import BodyError, CatalogItem

NVR = "34132400001180000001"
CAM = "34132400001320000002"


def test_keepalive_is_gb2312() -> None:
    body = manscdp.keepalive(7, NVR)
    assert body.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    assert manscdp.parse(body) == manscdp.Keepalive(7, NVR, "OK")


def test_catalog_response_with_chinese_names() -> None:
    item = CatalogItem(CAM, name="泗州大道与汴河路交叉口（天网）", owner="泗县公安局",
                       civil_code="341324", parent_id=NVR, status="OFF", longitude=117.91,
                       latitude=33.48, ptz_type=1)
    body = manscdp.catalog_response(3, NVR, 9, [item])
    assert "泗州大道".encode("gb2312") in body  # GB2312 bytes on the wire, not UTF-8
    parsed = manscdp.parse(body)
    assert isinstance(parsed, manscdp.CatalogResponse)
    assert (parsed.sn, parsed.device_id, parsed.sum_num) == (3, NVR, 9)
    assert parsed.items == (item,)


def test_a_hand_written_gbk_body() -> None:
    text = ('<?xml version="1.0" encoding="GB2312"?>\n<Response><CmdType>Catalog</CmdType>'
            f'<SN>1</SN><DeviceID>{NVR}</DeviceID><SumNum>1</SumNum><DeviceList Num="1">'
            f'<Item><DeviceID>{CAM}</DeviceID><Name>东关路口</Name><Status>on</Status>'
            '<Longitude>0</Longitude><Latitude>0</Latitude></Item></DeviceList></Response>')
    parsed = manscdp.parse(text.encode("gbk"))
    assert isinstance(parsed, manscdp.CatalogResponse)
    (item,) = parsed.items
    assert (item.name, item.status, item.longitude) == ("东关路口", "ON", None)
    # devices that declare GB2312 and send UTF-8 are read too
    assert manscdp.parse(text.encode("utf-8")).items[0].name == "东关路口"


def test_alarm_round_trip_and_kind() -> None:
    at = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
    body = manscdp.alarm(4, CAM, kind="intrusion", time=at, priority=1, description="区域入侵")
    parsed = manscdp.parse(body)
    assert isinstance(parsed, manscdp.AlarmNotify)
    assert (parsed.method, parsed.alarm_type, parsed.kind) == (5, 6, "intrusion")
    assert parsed.time == at and parsed.priority == 1 and parsed.description == "区域入侵"
    for kind in manscdp.KIND_CODES:
        got = manscdp.parse(manscdp.alarm(1, CAM, kind=kind, time=at))
        assert got.kind == kind


@pytest.mark.parametrize(("body", "reason"), [
    (b"<Notify><CmdType>Keepalive</CmdType></Notify>", "missing_field"),
    (b"<Notify><CmdType>Keepalive", "bad_xml"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Notify>&a;</Notify>',
     "forbidden_xml"),
    (b"<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>",
     "bad_field"),
    (b"<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>1</DeviceID>"
     b"<SumNum>99999999</SumNum></Response>", "bad_sum_num"),
    (b"<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>1</DeviceID>"
     b"<Longitude>500</Longitude></Notify>", "bad_field"),
])
def test_refused_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as caught:
        manscdp.parse(body)
    assert caught.value.reason == reason


def test_item_count_is_bounded() -> None:
    items = [CatalogItem(f"341324000013200{n:05d}") for n in range(300)]
    with pytest.raises(BodyError, match="too_many_items"):
        manscdp.parse(manscdp.catalog_response(1, NVR, 300, items))
    assert len(manscdp.parse(manscdp.catalog_response(1, NVR, 300, items[:200])).items) == 200


def test_other_commands_are_recognised_not_acted_on() -> None:
    body = (f"<Query><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceID>{NVR}</DeviceID>"
            "</Query>").encode()
    assert manscdp.parse(body) == manscdp.Other("Query", "DeviceInfo")
