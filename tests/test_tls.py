"""HTTPS for the intranet (phones give GPS and the camera only to HTTPS pages): the server
serves TLS with a configured certificate; half a configuration is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from backend.settings import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is required (Debian package openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_half_a_tls_configuration_is_refused(certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    with pytest.raises(ValidationError, match="both CITYOPS_TLS_CERTFILE"):
        Settings(env="test", tls_certfile=cert)
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(env="test", tls_certfile=cert, tls_keyfile=cert.parent / "missing.pem")


def test_the_server_speaks_https_with_the_configured_certificate(
    certificate: tuple[Path, Path], settings: Settings, county: dict[str, int]
) -> None:
    from backend.main import create_app

    cert, key = certificate
    settings = settings.model_copy(update={"tls_certfile": cert, "tls_keyfile": key})
    app = create_app(settings)  # its own app: never a second lifespan over the session app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning",
        ssl_certfile=str(settings.tls_certfile), ssl_keyfile=str(settings.tls_keyfile)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        trust = ssl.create_default_context(cafile=str(cert))
        answer = httpx.get(f"https://127.0.0.1:{port}/api/health", verify=trust)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        assert answer.url.scheme == "https"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
