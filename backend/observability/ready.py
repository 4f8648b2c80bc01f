"""Readiness: may this process take traffic? `/api/health` stays the cheap liveness probe.

Five checks, each bounded by `CITYOPS_READY_TIMEOUT_S`: the database (`SELECT 1` through the
app's pool), the hub's backplane (a Redis PING when it is redis://), the JT/T 808 gateway
(listening, when enabled), the GB/T 28181 SIP endpoint (listening on UDP and TCP, when
enabled) and the MQTT subscriber (subscribed, when configured). The answer
names each check's state and, on failure, a reason a person can act on; never a URL, a host
or an exception's text (those go to the log, once per change of state).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.exceptions
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("cityops.ready")

OK, FAILED, NOT_USED = "ok", "failed", "not used"


@dataclass(frozen=True)
class CheckResult:
    state: str             # ok | failed | not used
    reason: str | None = None
    ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.reason:
            out["reason"] = self.reason
        if self.ms is not None:
            out["ms"] = self.ms
        return out


class Readiness:
    """The checks of one app. At most one database probe runs at a time: a probe stuck on a
    dead network is shared by the next callers, not multiplied into blocked threads."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._db_probe: asyncio.Future[None] | None = None
        self._last: dict[str, str] = {}

    async def check(self) -> tuple[bool, dict[str, CheckResult]]:
        state = self.app.state
        settings = state.resources.settings
        timeout = settings.ready_timeout_s
        names = ("database", "backplane", "gateway", "sip", "mqtt")
        results = await asyncio.gather(
            self._timed(self._database(state.resources.engine), timeout),
            self._timed(self._backplane(getattr(state, "hub", None)), timeout),
            self._timed(self._gateway(settings.jt808_enabled, getattr(state, "jt808", None)),
                        timeout),
            self._timed(self._sip(settings.sip_enabled, getattr(state, "cameras", None)),
                        timeout),
            self._timed(self._mqtt(settings.mqtt_url, getattr(state, "mqtt", None)), timeout),
        )
        checks = dict(zip(names, results, strict=True))
        for name, result in checks.items():
            if self._last.get(name, OK) != result.state and result.state != NOT_USED:
                level = logging.INFO if result.state == OK else logging.WARNING
                log.log(level, "readiness %s: %s", name, result.state,
                        extra={"kv": {"check": name, "state": result.state,
                                      "reason": result.reason}})
            self._last[name] = result.state
        return all(r.state != FAILED for r in checks.values()), checks

    async def _timed(self, probe: Any, timeout: float) -> CheckResult:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(probe, timeout)
        except TimeoutError:
            return CheckResult(FAILED, f"no answer within {timeout:g} s")
        except Exception as exc:  # the reason for people; the details for the log
            log.debug("readiness probe failed", exc_info=exc)
            return CheckResult(FAILED, _reason(exc))
        if result is not None:
            return result
        return CheckResult(OK, ms=round((time.perf_counter() - started) * 1000, 1))

    async def _database(self, engine: sa.Engine) -> None:
        if self._db_probe is None or self._db_probe.done():
            self._db_probe = asyncio.ensure_future(run_in_threadpool(_select_one, engine))
        await asyncio.shield(self._db_probe)  # a timed-out caller leaves it for the next

    async def _backplane(self, hub: Any) -> CheckResult | None:
        from backend.realtime.backplane_redis import RedisBackplane

        backplane = getattr(hub, "backplane", None)
        if hub is None:
            return CheckResult(FAILED, "the hub is not running")
        if not isinstance(backplane, RedisBackplane):
            return CheckResult(NOT_USED, "memory:// (this process only)")
        await backplane.redis.ping()
        return None

    async def _gateway(self, enabled: bool, gateway: Any) -> CheckResult | None:
        if not enabled:
            return CheckResult(NOT_USED, "CITYOPS_JT808_ENABLED is off")
        if gateway is None or not gateway.listening:
            return CheckResult(FAILED, "the JT/T 808 gateway is not listening")
        return None

    async def _sip(self, enabled: bool, cameras: Any) -> CheckResult | None:
        if not enabled:
            return CheckResult(NOT_USED, "CITYOPS_SIP_ENABLED is off")
        listener = getattr(cameras, "listener", None)
        if listener is None or not listener.listening:
            return CheckResult(FAILED, "the GB/T 28181 SIP endpoint is not listening")
        return None

    async def _mqtt(self, url: str | None, feed: Any) -> CheckResult | None:
        if not url:
            return CheckResult(NOT_USED, "CITYOPS_MQTT_URL is not set")
        if feed is None or not feed.subscribed:
            return CheckResult(FAILED, "not subscribed at the MQTT broker (retrying)")
        return None


def _select_one(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1")).scalar_one()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | ConnectionError
                  | OSError | redis.exceptions.ConnectionError):
        return "unreachable (connection refused or lost)"
    if isinstance(exc, sa.exc.TimeoutError):
        return "no free connection in the pool"
    return f"check failed ({type(exc).__name__})"


def report(ready: bool, checks: dict[str, CheckResult]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ready" if ready else "not ready",
                            "checks": {k: v.as_dict() for k, v in checks.items()}}
    failed = [f"{k} ({v.reason})" for k, v in checks.items() if v.state == FAILED]
    if failed:
        body["detail"] = "Not ready: " + "; ".join(failed)
    return body
