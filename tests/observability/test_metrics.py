"""/metrics on the real app: who may read it, requests by route template, GPS rejects by source
and reason (HTTP batches, JT/T 808 frames over real TCP, MQTT through a real Mosquitto), the
hub, the tile cache and the database pools; the text parsed by prometheus_client's parser."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.jt808 import messages as m
from backend.observability.collectors import MAX_LABELS, bounded
from backend.settings import Settings
from tests.conftest import TEST_INGEST_TOKEN, bearer, console
from tests.ingest.jt808.test_gateway import Terminal, fix
from tests.ingest.test_mqtt import mqtt_app, mqtt_broker, publish, wait_for  # noqa: F401
from tests.observability.support import SCRAPER, Samples, scrape, series, value

INGEST = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}"}


def gps(vehicle_id: str, **fields: Any) -> dict[str, Any]:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return {"vehicle_id": vehicle_id, "time": when.isoformat(), "lon": 117.88, "lat": 33.48,
            **fields}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, labels) - value(before, name, labels)


@pytest.fixture()
def vehicle(engine: sa.Engine) -> Iterator[str]:
    """A vehicle id of this test only; its fixes are deleted afterwards."""
    vid = f"metrics-{uuid.uuid4().hex[:10]}"
    yield vid
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE :v"),
                         {"v": f"{vid}%"})


# Who may read it ----------------------------------------------------------------------------

def test_metrics_is_not_public(client: TestClient, anonymous: TestClient) -> None:
    assert anonymous.get("/metrics", headers={"Authorization": ""}).status_code == 401
    for role in ("viewer", "dispatcher", "commander"):  # roles without metrics:read
        denied = anonymous.get("/metrics", headers=bearer(client, role))
        assert denied.status_code == 403 and "metrics:read" in denied.json()["detail"]
    wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    # The ingest credential is a machine right of its own, not a way into /metrics.
    assert anonymous.get("/metrics", headers=INGEST).status_code == 401
    admin = anonymous.get("/metrics", headers=bearer(client, "admin"))
    assert admin.status_code == 200 and "cityops_http_requests_total" in admin.text
    scraper = anonymous.get("/metrics", headers=SCRAPER)
    assert scraper.status_code == 200 and scraper.headers["cache-control"] == "no-store"
    scrape(anonymous)  # the whole text parses, no family or sample twice


# HTTP requests ------------------------------------------------------------------------------

def test_requests_are_counted_by_route_template_not_raw_path(client: TestClient) -> None:
    before = scrape(client)
    for case in (987654321, 987654322):
        assert client.get(f"/api/incidents/{case}").status_code == 404
    assert client.get("/api/health").status_code == 200
    assert client.request("BREW", "/api/health").status_code == 405
    client.get("/no/such/page-5551234")
    after = scrape(client)

    route = "/api/incidents/{incident_id}"
    assert delta(before, after, "cityops_http_requests_total",
                 route=route, method="GET", status="404") == 2
    assert delta(before, after, "cityops_http_request_duration_seconds_count",
                 route=route, method="GET") == 2
    assert delta(before, after, "cityops_http_requests_total",
                 route="/api/health", method="GET", status="200") == 1
    # A made-up method and an unknown path become no new series of their own: the method is
    # "other", the path is the template that answered it (the console's static files).
    others = [labels for labels in series(after, "cityops_http_requests_total")
              if labels["method"] == "other"
              and delta(before, after, "cityops_http_requests_total", **labels) == 1]
    assert len(others) == 1 and others[0]["status"] == "405"
    labels = [v for labels in series(after, "cityops_http_requests_total")
              for v in labels.values()]
    assert not [v for v in labels if "98765432" in v or "5551234" in v or v == "BREW"]
    assert value(after, "cityops_http_requests_in_flight") >= 1  # the scrape itself


# GPS ingest ---------------------------------------------------------------------------------

def http_rejects(before: Samples, after: Samples) -> dict[str, float]:
    deltas = {labels["reason"]: delta(before, after, "cityops_ingest_rejected_total", **labels)
              for labels in series(after, "cityops_ingest_rejected_total")
              if labels["source"] == "http"}
    return {reason: n for reason, n in deltas.items() if n}


def test_a_malformed_gps_batch_shows_its_rejects_by_reason(
    client: TestClient, anonymous: TestClient, vehicle: str
) -> None:
    batch = [
        gps(vehicle),                                         # stored
        gps(vehicle, lat=999.0),                              # coordinates_out_of_range
        {k: v for k, v in gps(vehicle).items() if k != "time"},  # invalid:time
        gps(vehicle, lon=0.0, lat=0.0),                       # no_fix
        gps(vehicle, lon="east"),                             # invalid:lon
    ]
    before = scrape(client)
    answer = anonymous.post("/api/ingest/positions", json={"positions": batch}, headers=INGEST)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1 and len(answer.json()["rejected"]) == 4
    after = scrape(client)
    assert delta(before, after, "cityops_ingest_accepted_total", source="http") == 1
    assert http_rejects(before, after) == {
        "coordinates_out_of_range": 1, "invalid:time": 1, "no_fix": 1, "invalid:lon": 1}
    # each consumer of the pipeline has its failure counter; storage and the rules took time
    assert delta(before, after, "cityops_position_consumer_failures_total",
                 consumer="alarm_rules") == 0
    assert {labels["consumer"] for labels in
            series(after, "cityops_position_consumer_failures_total")} >= {
        "alarm_rules", "hub_positions"}
    assert delta(before, after, "cityops_position_stage_seconds_total", stage="storage") > 0


def test_a_flood_of_made_up_fields_cannot_grow_the_metrics(
    client: TestClient, anonymous: TestClient, vehicle: str
) -> None:
    flood = [gps(vehicle, **{f"evil-{uuid.uuid4().hex[:8]}\n": 1}) for _ in range(300)]
    before = scrape(client)
    answer = anonymous.post("/api/ingest/positions", json={"positions": flood}, headers=INGEST)
    assert answer.status_code == 400 and len(answer.json()["rejected"]) == 300
    after = scrape(client)
    assert sum(http_rejects(before, after).values()) == 300  # every one counted
    reasons = [labels for labels in series(after, "cityops_ingest_rejected_total")
               if labels["source"] == "http"]
    assert len(reasons) <= MAX_LABELS  # however many different keys were sent
    # The reasons counted before the flood keep their own series.
    assert {"source": "http", "reason": "coordinates_out_of_range"} in reasons or not any(
        labels["reason"] == "coordinates_out_of_range"
        for labels in series(before, "cityops_ingest_rejected_total"))


def test_bad_jt808_frames_over_tcp_show_by_reason(gateway_client: TestClient) -> None:
    port = gateway_client.app.state.jt808.port

    async def attack() -> None:
        t = Terminal("013977770001")
        await t.connect(port)
        # a fix before authenticating
        await t.send(m.encode_location(t.phone, t.next_serial(), fix(0)))
        assert (await t.general()).result != 0
        # a guessed auth code
        await t.send(m.encode_authenticate(t.phone, t.next_serial(), m.Authenticate("guess")))
        assert (await t.general()).result != 0
        # a frame with a readable header and a wrong checksum
        bad = bytearray(m.encode_location(t.phone, t.next_serial(), fix(1)))
        bad[-2] ^= 0x55
        await t.send(bytes(bad))
        assert (await t.general()).result != 0
        await t.close()
        noise = Terminal("013977770002")
        await noise.connect(port)
        noise.writer.write(b"\x00" * 20_000)  # nothing but garbage: the gateway hangs up
        assert await asyncio.wait_for(noise.reader.read(), 10) == b""
        noise.writer.close()

    before = scrape(gateway_client)
    asyncio.run(attack())
    gateway = gateway_client.app.state.jt808
    wait_for(lambda: gateway.stats.open_connections == 0, "both connections closed")
    after = scrape(gateway_client)

    name = "cityops_jt808_frames_rejected_total"
    assert delta(before, after, name, reason="not_authenticated") == 1
    assert delta(before, after, name, reason="auth_failed") == 1
    assert delta(before, after, name, reason="bad_checksum") == 1
    assert delta(before, after, "cityops_jt808_connections_total") == 2
    assert delta(before, after, "cityops_jt808_connections_closed_total", reason="garbage") == 1
    assert delta(before, after, "cityops_jt808_connections_closed_total", reason="eof") == 1
    assert value(after, "cityops_jt808_connections_open") == 0
    assert value(after, "cityops_ingest_accepted_total", {"source": "jt808"}) == value(
        before, "cityops_ingest_accepted_total", {"source": "jt808"})  # nothing got through


def test_mqtt_rejects_show_by_reason(settings: Settings, mqtt_broker: str,  # noqa: F811
                                     vehicle: str) -> None:
    with mqtt_app(settings, mqtt_broker) as app:
        publish(mqtt_broker, [
            (app.topic(vehicle), gps(vehicle)),
            (app.topic(vehicle), b"\x00\xff not json {"),
            (app.topic(vehicle), gps(vehicle, lat=999.0)),
        ])
        wait_for(lambda: app.feed.counters["accepted"] + sum(
            n for k, n in app.feed.counters.items() if k.startswith("rejected:")) == 3,
            "three records handled")
        samples = scrape(app.client)
    assert value(samples, "cityops_ingest_accepted_total", {"source": "mqtt"}) == 1
    for reason in ("not_json", "coordinates_out_of_range"):
        assert value(samples, "cityops_ingest_rejected_total",
                     {"source": "mqtt", "reason": reason}) == 1
    assert value(samples, "cityops_mqtt_connected") == 1
    assert value(samples, "cityops_mqtt_messages_total") == 3


def test_reject_reasons_are_capped_per_family() -> None:
    counts = {f"reason-{i}": i + 1 for i in range(200)}
    capped = bounded(counts)
    assert len(capped) == MAX_LABELS and capped[-1][0] == "other"
    assert sum(n for _k, n in capped) == sum(counts.values())  # nothing lost, only merged
    assert capped[0] == ("reason-0", 1)  # first counted, first kept: series stay stable


# The hub, tiles, the pools ------------------------------------------------------------------

def test_hub_clients_and_websocket_connects(client: TestClient) -> None:
    before = scrape(client)
    with console(client, "vehicles.positions"):
        during = scrape(client)
    wait_for(lambda: value(scrape(client), "cityops_hub_clients")
             == value(before, "cityops_hub_clients"), "the console to leave the hub")
    assert value(during, "cityops_hub_clients") == value(before, "cityops_hub_clients") + 1
    assert value(during, "cityops_websockets_open") == value(before, "cityops_websockets_open") + 1
    assert delta(before, during, "cityops_websocket_connects_total",
                 route="/ws", outcome="accepted") == 1
    for name in ("cityops_hub_events_dropped_total", "cityops_hub_resyncs_total",
                 "cityops_hub_events_published_total", "cityops_hub_frames_sent_total"):
        assert (name, frozenset()) in during


def test_tile_cache_hits_and_pools(client: TestClient, settings: Settings) -> None:
    tile = f"/tiles/townships/12/{3400 + int(time.time()) % 50}/1650.mvt"
    before = scrape(client)
    first, again = client.get(tile), client.get(tile)
    assert first.status_code in (200, 204) and again.status_code == first.status_code
    after = scrape(client)
    assert delta(before, after, "cityops_tile_cache_misses_total") >= 1
    assert delta(before, after, "cityops_tile_cache_hits_total") >= 1
    assert 0 <= value(after, "cityops_tile_cache_bytes") <= value(after,
                                                                  "cityops_tile_cache_max_bytes")
    for pool in ("main", "tiles"):
        assert value(after, "cityops_db_pool_size", {"pool": pool}) == settings.db_pool_size
        assert value(after, "cityops_db_pool_checked_out", {"pool": pool}) >= 0


def test_every_family_is_documented_and_named_for_cityops(client: TestClient) -> None:
    text = client.get("/metrics", headers=SCRAPER).text
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    assert helps and all(name.startswith("cityops_") for name in helps)
    assert all(line.split(" ", 3)[3].strip() for line in text.splitlines()
               if line.startswith("# HELP"))



def test_counters_of_other_parts_are_exported_from_the_table() -> None:
    """The table's mechanism on plain counters: an int, str keys, tuple keys, a missing path."""
    from collections import Counter
    from types import SimpleNamespace

    from prometheus_client.parser import text_string_to_metric_families

    from backend.observability.metrics import AppMetrics

    state = SimpleNamespace(
        edge=SimpleNamespace(rejected=Counter({("body_too_large", "json"): 3,
                                               ("control_character", "query"): 2})),
        photo_decoder=SimpleNamespace(counts=Counter({"refused_pixels": 4})),
        revocations=SimpleNamespace(closed=5),
    )
    table = [
        ("cityops_http_rejected", "edge", "edge.rejected", ("reason", "where")),
        ("cityops_photo_decodes", "photos", "photo_decoder.counts", ("outcome",)),
        ("cityops_sockets_revoked", "revoked", "revocations.closed", ()),
        ("cityops_absent", "nothing there", "nobody.counts", ("x",)),
    ]
    from backend.observability import collectors

    saved = list(collectors.COUNTER_TABLE)
    collectors.COUNTER_TABLE[:] = table
    try:
        text = AppMetrics(SimpleNamespace(state=state, routes=[])).render().decode()
    finally:
        collectors.COUNTER_TABLE[:] = saved
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("cityops_http_rejected_total",
                    (("reason", "body_too_large"), ("where", "json")))] == 3
    assert samples[("cityops_http_rejected_total",
                    (("reason", "control_character"), ("where", "query")))] == 2
    assert samples[("cityops_photo_decodes_total", (("outcome", "refused_pixels"),))] == 4
    assert samples[("cityops_sockets_revoked_total", ())] == 5
    assert not [k for k in samples if k[0].startswith("cityops_absent")]


def test_fixes_off_every_road_show_as_unmatched(
    client: TestClient, anonymous: TestClient, vehicle: str
) -> None:
    """The map matcher's refusals are counted where an operator can see them."""
    before = scrape(client)
    far = gps(vehicle, lon=116.5, lat=33.0)  # valid, but kilometres from any road
    answer = anonymous.post("/api/ingest/positions", json={"positions": [far]}, headers=INGEST)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    after = scrape(client)
    assert delta(before, after, "cityops_traffic_probe_fixes_total",
                 outcome="unmatched:off_road") == 1
