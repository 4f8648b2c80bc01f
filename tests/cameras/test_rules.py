"""The keepalive watchdog's rule, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.cameras.rules import DeviceState, WentOffline, overdue

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def s(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_three_missed_keepalives_at_the_default_interval() -> None:
    devices = [DeviceState("a", True, s(179), LATER), DeviceState("b", True, s(181), LATER)]
    assert overdue(devices, NOW, interval_s=60, misses=3) == [
        WentOffline("b", "keepalive", s(181))]


def test_a_device_own_interval_wins() -> None:
    devices = [DeviceState("fast", True, s(3.5), LATER, keepalive_s=1),
               DeviceState("slow", True, s(500), LATER, keepalive_s=200)]
    assert [e.code for e in overdue(devices, NOW, interval_s=60, misses=3)] == ["fast"]


def test_expired_registration_and_offline_devices() -> None:
    devices = [DeviceState("expired", True, s(1), s(0)),
               DeviceState("already", False, s(9999), s(9999)),
               DeviceState("never", True, None, LATER)]
    assert overdue(devices, NOW, interval_s=60, misses=3) == [
        WentOffline("expired", "expired", s(1)), WentOffline("never", "keepalive", None)]
