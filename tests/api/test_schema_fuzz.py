"""Schemathesis over every operation of the OpenAPI document, against the real server (live
uvicorn, real PostGIS): anonymous and signed in as a dispatcher, a fixed (derandomised) sequence,
a few examples per operation in `make test`; `make fuzz` runs many more
(CITYOPS_FUZZ_EXAMPLES). Every answer must be below 500 and match the document: status,
content type, headers and body schema."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import password_of

EXAMPLES = int(os.environ.get("CITYOPS_FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Operations left out as a signed-in caller: logging out would end the session mid-run.
SIGNED_IN_SKIP = {("POST", "/api/auth/logout")}


@pytest.fixture(scope="module")
def schema(live_server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def run(schema: schemathesis.BaseSchema, base: str, session: requests.Session,
        headers: dict[str, str], skip: set[tuple[str, str]]) -> list[str]:
    """Every operation, both generation modes; a list of what failed (empty when clean)."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base, session=session, headers=headers,
                                       checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                pass  # nothing can be out of schema here (e.g. no parameters): nothing to send
            except (Exception, BaseExceptionGroup) as exc:  # collected: one report for all
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    return failures


def test_anonymous_callers_get_no_server_error_and_documented_answers(
    schema: schemathesis.BaseSchema, live_server: str, session: requests.Session,
) -> None:
    failures = run(schema, live_server, session, {}, set())
    assert not failures, "\n\n".join(failures)


def test_a_dispatcher_gets_no_server_error_and_documented_answers(
    schema: schemathesis.BaseSchema, live_server: str, session: requests.Session,
) -> None:
    login = httpx.post(f"{live_server}/api/auth/login", json={
        "username": "dispatcher", "password": password_of("dispatcher")})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    failures = run(schema, live_server, session, headers, SIGNED_IN_SKIP)
    assert not failures, "\n\n".join(failures)
