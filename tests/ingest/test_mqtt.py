"""GPS over MQTT in the real app against a real Mosquitto: fixes published with aiomqtt are
stored in PostGIS and pushed to /ws consoles; bad payloads are counted and skipped; the
subscriber comes back after the broker restarts."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.mqtt import BrokerAddress, MqttFeed, topic_vehicle_id
from backend.ingest.pipeline import IngestReport
from backend.ingest.position import Position
from backend.settings import Settings
from tests.conftest import console, free_port, next_event

SEAT_BBOX = [117.80, 33.40, 117.95, 33.55]
WAIT_S = 30.0  # a deadline for things that should take well under a second


# ---- the broker ------------------------------------------------------------------------------


def answers(url: str) -> bool:
    """An MQTT broker accepts a connection at `url`."""
    broker = BrokerAddress.from_url(url)

    async def probe() -> bool:
        async with aiomqtt.Client(broker.host, broker.port, timeout=2):
            return True

    try:
        return asyncio.run(probe())
    except aiomqtt.MqttError:
        return False


@dataclass
class Mosquitto:
    """A private `mosquitto` on a loopback port: anonymous, no persistence."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        assert Path(exe).exists(), "mosquitto is required (Debian package mosquitto)"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\n")
        with open(self.workdir / "mosquitto.log", "ab") as out:
            self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while not answers(self.url):
            assert self.proc.poll() is None, (self.workdir / "mosquitto.log").read_text()
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def own_mosquitto(workdir: Path, port: int | None = None) -> Iterator[Mosquitto]:
    broker = Mosquitto(port or free_port(), workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def broker_url(workdir: Path, usual: str = "mqtt://127.0.0.1:1883") -> Iterator[str]:
    """The machine's broker when one answers; otherwise one started here (CI skips nothing)."""
    if answers(usual):
        yield usual
        return
    with own_mosquitto(workdir) as broker:
        yield broker.url


@pytest.fixture(scope="module")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with broker_url(tmp_path_factory.mktemp("mosquitto")) as url:
        yield url


def test_a_mosquitto_is_started_when_none_answers(tmp_path: Path) -> None:
    nobody = f"mqtt://127.0.0.1:{free_port()}"
    with broker_url(tmp_path, nobody) as url:
        assert url != nobody and answers(url)
    assert not answers(url)


# ---- helpers ---------------------------------------------------------------------------------


def publish(url: str, messages: list[tuple[str, Any]]) -> None:
    """Publish (topic, payload) pairs at QoS 1: the broker has them all when this returns.
    A payload that is not bytes is sent as JSON."""
    broker = BrokerAddress.from_url(url)

    async def send() -> None:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            for topic, payload in messages:
                data = payload if isinstance(payload, bytes) else json.dumps(payload)
                await client.publish(topic, data, qos=1)

    asyncio.run(send())


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


@dataclass
class MqttApp:
    client: TestClient
    feed: MqttFeed
    prefix: str  # topics are f"{prefix}/<vehicle_id>"

    def topic(self, vehicle_id: str) -> str:
        return f"{self.prefix}/{vehicle_id}"


@contextmanager
def mqtt_app(settings: Settings, url: str) -> Iterator[MqttApp]:
    """The real app subscribed to a topic tree and with a client id of its own (so tests and
    other runs sharing the machine's broker never see each other's messages)."""
    from backend.main import create_app

    tag = f"cityops-test-{uuid.uuid4().hex[:12]}"
    prefix = f"{tag}/positions"
    app = create_app(settings.model_copy(update={
        "mqtt_url": url, "mqtt_topic": f"{prefix}/#", "mqtt_client_id": tag,
    }))
    with TestClient(app) as client:
        feed = app.state.mqtt
        assert isinstance(feed, MqttFeed)
        wait_for(lambda: feed.subscribed, "the subscription")
        yield MqttApp(client, feed, prefix)


@pytest.fixture()
def vid(engine: sa.Engine) -> Iterator[Callable[[str], str]]:
    """Unique vehicle ids for this test (other tests share the database), deleted afterwards."""
    run = f"mqtt-{uuid.uuid4().hex[:10]}"
    yield lambda name: f"{run}-{name}"
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE :p"),
                         {"p": f"{run}-%"})


def fix(vehicle_id: str | None = None, *, seconds: int = 0, lon: float = 117.88,
        lat: float = 33.48, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    record = {"time": (now + timedelta(seconds=seconds)).isoformat(), "lon": lon, "lat": lat,
              **extra}
    if vehicle_id is not None:
        record["vehicle_id"] = vehicle_id
    return record


def stored_count(engine: sa.Engine, vehicle_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_positions WHERE vehicle_id = :v AND source = 'mqtt'"
        ), {"v": vehicle_id}).scalar_one()


def latest(engine: sa.Engine, vehicle_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT lon, lat, speed_kmh, source, ST_X(geom) AS x FROM vehicle_latest "
            "WHERE vehicle_id = :v"), {"v": vehicle_id}).mappings().first()
    return dict(row) if row else None


# ---- pure parts ------------------------------------------------------------------------------


def test_broker_urls_and_topic_levels() -> None:
    b = BrokerAddress.from_url("mqtt://fleet%40op:p%3Ass@broker.example:1884")
    assert (b.host, b.port, b.username, b.password, b.tls) == (
        "broker.example", 1884, "fleet@op", "p:ss", False)
    assert BrokerAddress.from_url("mqtts://broker.example").port == 8883
    assert "p:ss" not in str(b)
    with pytest.raises(ValueError):
        BrokerAddress.from_url("http://broker.example")
    assert topic_vehicle_id("cityops/positions/bus-7", "cityops/positions/#") == "bus-7"
    assert topic_vehicle_id("cityops/positions", "cityops/positions/#") is None
    assert topic_vehicle_id("cityops/positions/", "cityops/positions/#") is None
    assert topic_vehicle_id("fleet/a/gps/bus-7", "fleet/+/gps/#") == "bus-7"
    assert topic_vehicle_id("cityops/positions/bus-7", "$share/g/cityops/positions/#") == "bus-7"


def test_batches_are_capped_and_a_failing_pipeline_is_survived(mqtt_broker: str) -> None:
    """The feed alone with a sink standing in for the pipeline."""
    prefix = f"cityops-test-{uuid.uuid4().hex[:12]}/positions"
    batches: list[list[Position]] = []

    async def sink(positions: list[Position]) -> IngestReport:
        batches.append(positions)
        if len(batches) == 1:
            raise RuntimeError("database away")
        return IngestReport(received=len(positions), accepted=len(positions))

    async def scenario() -> Counter[str]:
        feed = MqttFeed(mqtt_broker, f"{prefix}/#", sink=sink, client_id=prefix.split("/")[0],
                        session_expiry_s=0)
        async with feed:
            while not feed.subscribed:
                await asyncio.sleep(0.02)
            broker = BrokerAddress.from_url(mqtt_broker)
            async with aiomqtt.Client(broker.host, broker.port) as client:
                await client.publish(f"{prefix}/a", json.dumps(fix()), qos=1)
                while not batches:
                    await asyncio.sleep(0.02)
                many = [fix(f"v{i}") for i in range(1200)]
                await client.publish(f"{prefix}/b", json.dumps(many), qos=1)
            deadline = time.monotonic() + WAIT_S
            while feed.counters["accepted"] < 1200:
                assert time.monotonic() < deadline, f"timed out: {feed.counters}"
                await asyncio.sleep(0.02)
        return feed.counters

    counters = asyncio.run(scenario())
    assert [len(b) for b in batches] == [1, 500, 500, 200]  # one message split at the cap
    assert counters["failed"] == 1 and counters["accepted"] == 1200
    assert batches[0][0].vehicle_id == "a" and batches[0][0].source == "mqtt"


# ---- the real app ----------------------------------------------------------------------------


def test_positions_arrive_in_postgis(
    settings: Settings, engine: sa.Engine, county: dict, mqtt_broker: str, vid: Callable
) -> None:
    one, two = vid("one"), vid("two")
    with mqtt_app(settings, mqtt_broker) as m:
        publish(mqtt_broker, [
            (m.topic(one), fix(one, speed_kmh=31.5)),
            (m.topic(two), [fix(two, seconds=s, lon=117.88 + s / 1e4) for s in range(3)]),
        ])
        wait_for(lambda: stored_count(engine, one) == 1 and stored_count(engine, two) == 3,
                 "four stored fixes")
        counters = m.feed.counters
    assert latest(engine, one) == {"lon": 117.88, "lat": 33.48, "speed_kmh": 31.5,
                                   "source": "mqtt", "x": 117.88}
    assert latest(engine, two)["lon"] == pytest.approx(117.8802)  # the newest of the three
    assert counters["received"] == counters["accepted"] == 4
    assert not [k for k in counters if k.startswith("rejected:")]


def test_a_record_without_vehicle_id_takes_it_from_the_topic(
    settings: Settings, engine: sa.Engine, county: dict, mqtt_broker: str, vid: Callable
) -> None:
    bus, other = vid("bus"), vid("other")
    with mqtt_app(settings, mqtt_broker) as m:
        publish(mqtt_broker, [
            (m.topic(bus), fix()),
            # in an array too; a record's own vehicle_id wins over the topic
            (m.topic(bus), [fix(seconds=1), fix(other, seconds=1)]),
        ])
        wait_for(lambda: stored_count(engine, bus) == 2 and stored_count(engine, other) == 1,
                 "the fixes under the topic's vehicle id")


def test_malformed_payloads_are_counted_and_the_good_records_stored(
    settings: Settings, engine: sa.Engine, county: dict, mqtt_broker: str, vid: Callable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = vid("good"), vid("bad")
    caplog.set_level(logging.INFO, logger="backend.ingest.mqtt")
    with mqtt_app(settings, mqtt_broker) as m:
        publish(mqtt_broker, [
            (m.topic(good), fix(good)),
            (m.topic(bad), b"\x00\xff not json {"),
            (m.topic(bad), "a JSON string"),
            (m.topic(bad), 42),
            (m.topic(bad), [fix(bad, lat=999), fix(good, seconds=1), "not a record",
                            fix(good, seconds=2, time="yesterday")]),
            (m.topic(good), fix(good, seconds=3)),
        ])
        counters = m.feed.counters
        # Everything received is accounted for: stored, or rejected with a reason.
        wait_for(lambda: counters["received"] == 9 and counters["accepted"]
                 + sum(n for k, n in counters.items() if k.startswith("rejected:")) == 9,
                 "all nine records handled")
        assert m.feed.subscribed  # the subscriber carries on
    assert stored_count(engine, good) == 3 and stored_count(engine, bad) == 0
    assert counters["messages"] == 6 and counters["accepted"] == 3
    assert {k: n for k, n in counters.items() if k.startswith("rejected:")} == {
        "rejected:not_json": 1,
        "rejected:not_a_record": 2,               # a JSON string, a number
        "rejected:invalid:record": 1,             # a string inside the array
        "rejected:invalid:time": 1,
        "rejected:coordinates_out_of_range": 1,   # lat 999: the pipeline's own check
    }
    rejects = [r for r in caplog.records if "reject" in r.getMessage()]
    assert rejects and all(r.levelno == logging.INFO for r in rejects)
    assert len(rejects) <= 6  # at most a line per reject


def test_mqtt_records_are_typed_strictly_and_counted_by_source(
    settings: Settings, engine: sa.Engine, county: dict, mqtt_broker: str, vid: Callable
) -> None:
    """Issue 8, defect 6 on the MQTT feed: booleans and numeric strings are not numbers, a
    vehicle id from the topic with a space or a bidi override is refused, an absurd altitude
    is out of range; the good record in the same array is stored, and the shared
    (source, reason) counter has it."""
    good = vid("strict")
    with mqtt_app(settings, mqtt_broker) as m:
        publish(mqtt_broker, [
            (m.topic(good), [fix(good, lon=True), fix(good, seconds=1, lon="117.88"),
                             fix(good, seconds=2, altitude_m=1e308), fix(good, seconds=3)]),
            (m.topic(f"{good} \u202ex"), fix()),  # (Mosquitto itself refuses control chars)
        ])
        counters = m.feed.counters
        wait_for(lambda: counters["received"] == 5 and counters["accepted"]
                 + sum(n for k, n in counters.items() if k.startswith("rejected:")) == 5,
                 "all five records handled")
        rejects = m.client.app.state.resources.positions.rejects
    assert stored_count(engine, good) == 1
    assert {k: n for k, n in counters.items() if k.startswith("rejected:")} == {
        "rejected:invalid:lon": 2, "rejected:invalid:vehicle_id": 1,
        "rejected:altitude_out_of_range": 1}
    assert rejects[("mqtt", "invalid:lon")] == 2
    assert rejects[("mqtt", "invalid:vehicle_id")] == 1
    assert rejects[("mqtt", "altitude_out_of_range")] == 1  # counted once, by the pipeline


def test_the_subscriber_survives_a_broker_restart(
    settings: Settings, engine: sa.Engine, county: dict, vid: Callable, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = vid("restart")
    caplog.set_level(logging.INFO, logger="backend.ingest.mqtt")
    with own_mosquitto(tmp_path) as broker, mqtt_app(settings, broker.url) as m:
        publish(broker.url, [(m.topic(bus), fix(bus))])
        wait_for(lambda: stored_count(engine, bus) == 1, "the fix before the restart")
        broker.stop()
        wait_for(lambda: not m.feed.subscribed, "the subscriber to notice")
        assert not answers(broker.url)
        broker.start()  # the same port; no persistence, so the subscription must be renewed
        wait_for(lambda: m.feed.subscribed, "the subscriber to come back")
        publish(broker.url, [(m.topic(bus), fix(bus, seconds=5))])
        wait_for(lambda: stored_count(engine, bus) == 2, "the fix after the restart")
        assert m.feed.counters["connections"] == 2 and m.feed.counters["disconnects"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len([s for s in messages if "unavailable" in s]) == 1  # once per outage
    assert len([s for s in messages if "reconnected" in s]) == 1


def test_an_mqtt_position_reaches_the_console(
    settings: Settings, county: dict, mqtt_broker: str, vid: Callable
) -> None:
    bus = vid("console")
    with mqtt_app(settings, mqtt_broker) as m, \
            console(m.client, "vehicles.positions", SEAT_BBOX) as ws:
        publish(mqtt_broker, [(m.topic(bus), fix(speed_kmh=22.0))])
        event = next_event(ws)
        while event["data"]["vehicle_id"] != bus:
            event = next_event(ws)
    assert event["channel"] == "vehicles.positions"
    assert event["data"]["source"] == "mqtt" and event["data"]["speed_kmh"] == 22.0
