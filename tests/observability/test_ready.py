"""/api/health/ready on the real app: 200 with each check's state; 503 naming what failed when
the database stops answering (the app reaches PostgreSQL through a TCP relay that the test
cuts, then restores), when the MQTT broker is unreachable, or the gateway is not listening."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from backend.db.engine import DatabaseUrls
from backend.observability.router import ReadyReport
from backend.settings import Settings
from tests.conftest import free_port
from tests.ingest.test_mqtt import wait_for
from tests.realtime.test_redis import answers, backplane_url, redis_server  # noqa: F401


class Relay:
    """A TCP relay on a loopback port to `target`: `cut()` closes the listener and every
    relayed connection (the database is gone, as after a network failure); `start()` opens
    the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        assert self._listener is not None
        with contextlib.suppress(OSError):  # wakes the accepting thread (close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def ready(client: TestClient) -> tuple[int, dict]:
    response = client.get("/api/health/ready")
    assert response.headers["cache-control"] == "no-store"
    ReadyReport.model_validate(response.json())  # what the OpenAPI document promises
    return response.status_code, response.json()


def test_ready_when_everything_answers(anonymous: TestClient) -> None:
    status, body = ready(anonymous)  # public: a load balancer has no credential
    assert status == 200 and body["status"] == "ready", body
    assert body["checks"]["database"]["state"] == "ok"
    assert body["checks"]["backplane"]["state"] == "not used"  # memory://
    assert {body["checks"][c]["state"] for c in ("gateway", "mqtt")} == {"not used"}
    assert anonymous.get("/api/health").json() == {"status": "ok"}  # liveness stays cheap


def test_not_ready_while_the_database_is_unreachable(
    settings: Settings, db_urls: DatabaseUrls, county: dict, users: dict
) -> None:
    from backend.main import create_app

    url = make_url(db_urls.app)
    if url.host not in ("127.0.0.1", "localhost") or url.port is None:
        pytest.skip("the database is not reached over loopback TCP")
    relay = Relay((url.host, url.port))
    relay.start()
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    app = create_app(settings.model_copy(update={"database_url": relayed,
                                                 "ready_timeout_s": 3.0}))
    with TestClient(app) as client:
        assert ready(client)[0] == 200
        relay.cut()
        started = time.monotonic()
        status, body = ready(client)
        assert time.monotonic() - started < 10
        assert status == 503 and body["status"] == "not ready", body
        assert body["checks"]["database"]["state"] == "failed"
        assert "database" in body["detail"] and "unreachable" in body["detail"]
        # Says nothing secret: no address, no role, no password.
        text = str(body)
        assert str(url.port) not in text and str(relay.port) not in text
        assert url.username not in text and (url.password or "secret") not in text
        assert client.get("/api/health").status_code == 200  # alive, only not ready
        relay.start()  # the database is back: ready again without a restart
        deadline = time.monotonic() + 20
        while (status := ready(client)[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200


def test_not_ready_without_the_broker_and_with_the_gateway(
    settings: Settings, county: dict, users: dict
) -> None:
    from backend.main import create_app

    nobody = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    app = create_app(settings.model_copy(update={
        "mqtt_url": nobody, "mqtt_client_id": "cityops-ready-test",
        "jt808_enabled": True, "jt808_port": 0,
    }))
    with TestClient(app) as client:
        status, body = ready(client)
        assert status == 503, body
        assert body["checks"]["mqtt"]["state"] == "failed"
        assert body["checks"]["gateway"]["state"] == "ok"  # listening on its port
        assert body["checks"]["database"]["state"] == "ok"
        assert body["detail"].startswith("Not ready: mqtt (")
        assert nobody.rsplit(":", 1)[1] not in str(body)


def test_the_redis_backplane_is_pinged(settings: Settings, county: dict, users: dict,
                                       backplane_url: str) -> None:  # noqa: F811
    from backend.main import create_app

    app = create_app(settings.model_copy(update={"hub_backplane_url": backplane_url}))
    with TestClient(app) as client:
        status, body = ready(client)
        assert status == 200 and body["checks"]["backplane"]["state"] == "ok", body
        assert "ms" in body["checks"]["backplane"]


def test_not_ready_when_the_redis_backplane_is_gone(settings: Settings, county: dict,
                                                    users: dict) -> None:
    from backend.main import create_app

    exe = shutil.which("redis-server")
    assert exe, "redis-server is required (Debian package redis-server)"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        wait_for(lambda: answers(url), "redis to start")
        app = create_app(settings.model_copy(update={"hub_backplane_url": url}))
        with TestClient(app) as client:
            assert ready(client)[0] == 200
            proc.terminate()
            proc.wait(timeout=10)
            status, body = ready(client)
            assert status == 503 and body["checks"]["backplane"]["state"] == "failed", body
            assert "backplane" in body["detail"] and str(port) not in str(body)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
