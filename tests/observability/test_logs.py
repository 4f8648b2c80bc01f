"""Logs: one structured line per event (key=value or JSON), levels per logger, an access line
per request with the route template, status, duration and who called (never a token); and
`cityops serve` configuring all of it, uvicorn's own lines included."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.observability.logs import configure_logging
from backend.settings import Settings
from tests.conftest import ROOT, free_port
from tests.observability.support import SCRAPER

KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


Configure = Callable[..., io.StringIO]


def parse_kv(line: str) -> dict[str, str]:
    """A key=value line back into fields (quoted values are JSON strings)."""
    fields = {k: json.loads(v) if v.startswith('"') else v for k, v in KV.findall(line)}
    assert fields and line.startswith("ts="), line
    return fields


@pytest.fixture()
def captured(settings: Settings) -> Iterator[Configure]:
    """configure_logging into a buffer; the process's logging is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {n: (logging.getLogger(n).level, logging.getLogger(n).disabled,
                  logging.getLogger(n).propagate, list(logging.getLogger(n).handlers))
              for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi",
                        "cityops.access", "cityops")})
    buffer = io.StringIO()

    def configure(**overrides: object) -> io.StringIO:
        buffer.seek(0)
        buffer.truncate()
        configure_logging(settings.model_copy(update=overrides), stream=buffer)
        return buffer

    yield configure
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (level, disabled, propagate, handlers) in saved[2].items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.disabled, logger.propagate, logger.handlers[:] = disabled, propagate, handlers


def lines(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if line]


def test_access_lines_are_key_value_with_route_status_and_who(
    client: TestClient, anonymous: TestClient, captured: Configure
) -> None:
    buffer = captured(log_format="kv")
    token = client.headers["Authorization"].split()[1]
    assert client.get("/api/incidents/987654321").status_code == 404
    assert anonymous.get("/api/health", headers={"Authorization": ""}).status_code == 200
    assert anonymous.get("/metrics", headers=SCRAPER).status_code == 200
    access = [parse_kv(line) for line in lines(buffer) if "logger=cityops.access" in line]
    by_route = {a["route"]: a for a in access}
    case = by_route["/api/incidents/{incident_id}"]
    assert (case["level"], case["msg"], case["method"], case["status"], case["who"]) == (
        "info", "request", "GET", "404", "admin")
    assert float(case["duration_ms"]) >= 0 and case["client"]
    assert by_route["/api/health"]["who"] == "-"
    assert by_route["/metrics"]["who"] == "metrics"
    text = "\n".join(line for line in lines(buffer) if "logger=cityops.access" in line)
    assert token not in text and "test-metrics-token" not in text  # never a credential
    assert "987654321" not in text  # the template, not the raw path


def test_json_lines_and_a_traceback_stays_on_its_line(captured: Configure) -> None:
    buffer = captured(log_format="json")
    log = logging.getLogger("cityops.test")
    log.info("plain %s message", "old-style", extra={"kv": {"vehicle": "bus\t7"}})
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("it failed")
    events = [json.loads(line) for line in lines(buffer)]  # every line is one JSON object
    assert len(events) == 2
    assert events[0]["msg"] == "plain old-style message" and events[0]["vehicle"] == "bus\t7"
    assert events[0]["level"] == "info" and events[0]["logger"] == "cityops.test"
    assert "ValueError: boom" in events[1]["exc"] and events[1]["level"] == "error"

    buffer = captured(log_format="kv")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("it failed")
    (line,) = lines(buffer)
    assert "Traceback" in parse_kv(line)["exc"]


def test_levels_per_logger(client: TestClient, captured: Configure) -> None:
    buffer = captured(log_levels="cityops.access=WARNING, cityops.test=DEBUG")
    client.get("/api/health")
    logging.getLogger("cityops.test").debug("shown")
    logging.getLogger("cityops.other").debug("hidden")  # the root stays at INFO
    text = buffer.getvalue()
    assert "logger=cityops.access" not in text
    assert "msg=shown" in text and "hidden" not in text
    with pytest.raises(ValueError, match="CITYOPS_LOG_LEVEL: 'LOUD'"):
        Settings(log_level="loud")
    with pytest.raises(ValueError, match="not name=LEVEL"):
        Settings(log_levels="cityops.access")


def test_a_flood_of_one_kind_of_line_is_thinned_and_summed(
    client: TestClient, captured: Configure
) -> None:
    buffer = captured(log_repeats_per_minute=3)
    log = logging.getLogger("cityops.test")
    for i in range(50):  # e.g. a rejected frame an attacker sends as fast as they can
        log.info("rejected frame %d from %s", i, "peer")
    log.info("another kind of line")
    assert [parse_kv(line)["msg"] for line in lines(buffer)] == [
        "rejected frame 0 from peer", "rejected frame 1 from peer", "rejected frame 2 from peer",
        "another kind of line"]
    later = log.makeRecord("cityops.test", logging.INFO, __file__, 0, "rejected frame %d from %s",
                           (50, "peer"), None)
    later.created += 61  # the next minute
    log.handle(later)
    summary = parse_kv(lines(buffer)[-1])
    assert summary["msg"] == "rejected frame 50 from peer" and summary["suppressed"] == "47"
    for _ in range(10):  # the access log is one line per request: never thinned
        client.get("/api/health")
    assert sum("logger=cityops.access" in line for line in lines(buffer)) == 10


def test_cityops_serve_writes_json_lines(settings: Settings, county: dict, users: dict) -> None:
    port = free_port()
    env = {**os.environ, "CITYOPS_ENV": "test", "CITYOPS_DATABASE_NAME": settings.database_name,
           "CITYOPS_LOG_FORMAT": "json", "CITYOPS_TRANSIT_MONITOR_INTERVAL_S": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "cityops serve did not start"
            time.sleep(0.3)
        httpx.get(f"http://127.0.0.1:{port}/api/incidents/5", timeout=10)
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    events = [json.loads(line) for line in err.splitlines() if line.strip()]
    loggers = {e["logger"] for e in events}
    assert "uvicorn.error" in loggers  # uvicorn's own startup lines, in the same format
    access = [e for e in events if e["logger"] == "cityops.access"]
    assert {(e["route"], e["status"], e["who"]) for e in access} >= {
        ("/api/health", 200, "-"), ("/api/incidents/{incident_id}", 401, "-")}
    assert not [e for e in events if e["logger"] == "uvicorn.access"]  # one line per request


def test_background_writer_freezes_each_event_and_flushes_at_stop(
    settings: Settings, captured: Configure
) -> None:
    from backend.observability import logs

    captured()  # saves and restores the process's logging around this test
    buffer = io.StringIO()
    configure_logging(settings, stream=buffer, background=True)
    log = logging.getLogger("cityops.test")
    counts = {"rejected": 1}
    log.info("counts %s", counts)
    counts["rejected"] = 99  # changed after the call: the line says what was true then
    try:
        raise RuntimeError("in the writer's thread, the traceback is long gone")
    except RuntimeError:
        log.exception("failed")
    logs._stop_listener()  # what `cityops serve` does at exit
    events = [parse_kv(line) for line in lines(buffer)]
    assert [e["msg"] for e in events] == ["counts {'rejected': 1}", "failed"]
    assert "RuntimeError: in the writer's thread" in events[1]["exc"]
