"""The /ws protocol through Starlette's TestClient: auth, subscriptions, order, viewport,
resume, bad messages."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from backend.realtime.messages import CLOSE_TOO_MANY_ERRORS, CLOSE_UNAUTHORIZED
from tests.realtime.conftest import TOKEN, Harness, recv, subscribe

INSIDE = {"lon": 117.9, "lat": 33.5}  # Sixian county town
OUTSIDE = {"lon": 118.6, "lat": 33.9}
COUNTY_TOWN = [117.8, 33.4, 118.0, 33.6]


def closed_with(harness: Harness, *frames: object, path: str = "/ws") -> int:
    with harness.client.websocket_connect(path) as ws:
        for f in frames:
            ws.send_json(f)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    return info.value.code


def test_auth_is_required(harness: Harness) -> None:
    assert closed_with(harness) == CLOSE_UNAUTHORIZED  # nothing sent: auth timeout
    assert closed_with(harness, {"type": "auth", "token": "wrong"}) == CLOSE_UNAUTHORIZED
    assert closed_with(harness, {"type": "auth"}) == CLOSE_UNAUTHORIZED
    first_not_auth = {"type": "subscribe", "channel": "system"}
    assert closed_with(harness, first_not_auth) == CLOSE_UNAUTHORIZED
    assert harness.hub.stats()["clients"] == 0


def test_query_string_token_is_ignored(harness: Harness) -> None:
    path = f"/ws?token={TOKEN}"
    assert closed_with(harness, path=path) == CLOSE_UNAUTHORIZED
    sub = {"type": "subscribe", "channel": "system"}
    assert closed_with(harness, sub, path=path) == CLOSE_UNAUTHORIZED


def test_no_token_configured_admits_nobody() -> None:
    from fastapi.testclient import TestClient

    from tests.realtime.conftest import hub_app, hub_settings

    with TestClient(hub_app(hub_settings(hub_token=None))) as client:
        h = Harness(client)
        assert closed_with(h, {"type": "auth", "token": ""}) == CLOSE_UNAUTHORIZED
        assert closed_with(h, {"type": "auth", "token": "cityops-dev"}) == CLOSE_UNAUTHORIZED


def test_subscribe_receive_in_seq_order_then_unsubscribe(harness: Harness) -> None:
    ws = harness.connect()
    assert subscribe(ws, "system") == {"type": "subscribed", "channel": "system", "seq": 0}
    seqs = [harness.publish("system", {"n": n}) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    got = [recv(ws, "event") for _ in range(5)]
    assert [(e["channel"], e["seq"], e["data"]["n"]) for e in got] == [
        ("system", s, n) for n, s in enumerate(seqs)
    ]
    # Another channel's numbering is its own; unsubscribed channels are not sent.
    harness.publish("incidents.changes", {"id": 1})
    ws.send_json({"type": "unsubscribe", "channel": "system"})
    assert recv(ws, "unsubscribed") == {"type": "unsubscribed", "channel": "system"}
    harness.publish("system", {"n": 99})
    subscribe(ws, "incidents.changes")
    assert harness.publish("incidents.changes", {"id": 2}) == 2
    event = recv(ws, "event")  # the first event after the system ones is this one
    assert (event["channel"], event["seq"], event["data"]) == ("incidents.changes", 2, {"id": 2})
    ws.close()


def test_viewport_filters_and_moves(harness: Harness) -> None:
    ws = harness.connect()
    subscribe(ws, "vehicles.positions", bbox=COUNTY_TOWN, zoom=14)
    subscribe(ws, "vehicles.alarms", bbox=COUNTY_TOWN)
    harness.publish("vehicles.positions", {"vehicle_id": "a", **OUTSIDE})
    harness.publish("vehicles.positions", {"vehicle_id": "b", **INSIDE})
    assert recv(ws, "event")["data"]["vehicle_id"] == "b"
    # An event with a bbox that overlaps the view passes; a disjoint one does not.
    harness.publish("vehicles.alarms", {"id": 1, "bbox": [118.5, 33.8, 118.7, 34.0]})
    harness.publish("vehicles.alarms", {"id": 2, "bbox": [117.95, 33.55, 118.2, 33.7]})
    assert recv(ws, "event")["data"]["id"] == 2
    # Pan to the east: both spatial subscriptions follow.
    ws.send_json({"type": "viewport", "bbox": [118.5, 33.8, 118.7, 34.0], "zoom": 12})
    ws.send_json({"type": "ping"})
    assert recv(ws, "pong") == {"type": "pong"}
    harness.publish("vehicles.positions", {"vehicle_id": "b", **INSIDE})
    harness.publish("vehicles.positions", {"vehicle_id": "a", **OUTSIDE})
    harness.publish("vehicles.alarms", {"id": 3, "lon": 118.6, "lat": 33.9})
    assert recv(ws, "event")["data"]["vehicle_id"] == "a"
    assert recv(ws, "event")["data"]["id"] == 3
    ws.close()


def test_resume_since_and_resync(harness: Harness) -> None:
    for n in range(1, 11):  # seq n: odd ones inside the view
        harness.publish("vehicles.alarms", {"n": n, **(INSIDE if n % 2 else OUTSIDE)})
    ws = harness.connect()
    assert subscribe(ws, "vehicles.alarms", bbox=COUNTY_TOWN, since=4)["seq"] == 10
    harness.publish("vehicles.alarms", {"n": 11, **INSIDE})
    got = [recv(ws, "event")["seq"] for _ in range(4)]
    assert got == [5, 7, 9, 11]  # after 4, matching the view, then live; gaps are normal
    ws.close()

    # The history keeps 50 events: seq 3 is gone after 60 more.
    for n in range(60):
        harness.publish("vehicles.alarms", {"n": 12 + n, **INSIDE})
    ws = harness.connect()
    subscribe(ws, "vehicles.alarms", since=3)
    assert recv(ws, "resync")["channel"] == "vehicles.alarms"
    assert harness.publish("vehicles.alarms", {"n": 72}) == 72
    assert recv(ws, "event")["seq"] == 72  # live events continue after a resync
    # A seq the channel never reached (another epoch of numbering) also means resync.
    subscribe(ws, "system", since=500)
    assert recv(ws, "resync")["channel"] == "system"
    # Caught up: nothing to replay, no resync.
    subscribe(ws, "vehicles.alarms", since=72)
    harness.publish("vehicles.alarms", {"n": 73})
    assert recv(ws, "event")["seq"] == 73
    ws.close()


def test_bad_messages_get_errors_and_the_connection_lives(harness: Harness) -> None:
    ws = harness.connect()
    bad = [
        "not json",
        '{"type": "dance"}',
        '{"type": "subscribe"}',
        '{"type": "subscribe", "channel": "system", "since": -1}',
        '{"type": "viewport", "bbox": [118, 33, 117, 34]}',
        '{"type": "subscribe", "channel": "system", "extra": 1}',
    ]
    for text in bad:
        ws.send_text(text)
        assert recv(ws, "error")["message"].startswith("bad message")
    ws.send_json({"type": "subscribe", "channel": "vehicles.teleports"})
    assert "unknown channel" in recv(ws, "error")["message"]
    ws.send_json({"type": "unsubscribe", "channel": "system"})
    assert "not subscribed" in recv(ws, "error")["message"]
    subscribe(ws, "system")
    harness.publish("system", {"still": "alive"})
    assert recv(ws, "event")["data"] == {"still": "alive"}
    # Too many bad messages: closed with a clear code.
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(30):
            ws.send_text("{")
        while True:
            ws.receive_json()
    assert info.value.code == CLOSE_TOO_MANY_ERRORS


def test_oversized_message_closes(harness: Harness) -> None:
    ws = harness.connect()
    ws.send_text('{"type": "ping", "x": "' + "a" * 10_000 + '"}')
    with pytest.raises(WebSocketDisconnect) as info:
        recv(ws, "never")
    assert info.value.code == 1009


def test_each_event_is_serialised_once(harness: Harness) -> None:
    clients = [harness.connect() for _ in range(5)]
    for ws in clients:
        subscribe(ws, "system")
    before = harness.hub.stats()
    harness.publish("system", {"hello": "all"})
    frames = [recv(ws, "event") for ws in clients]
    assert all(f == frames[0] for f in frames)
    after = harness.hub.stats()
    assert after["serialised"] - before["serialised"] == 1
    assert after["published"] - before["published"] == 1
    assert after["clients"] == 5
    for ws in clients:
        ws.close()
