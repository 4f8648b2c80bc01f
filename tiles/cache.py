"""Tile cache and ETags, both keyed by the data versions of the tables a tile reads.

A change of any table (from this process or another: versions live in the database)
changes the key, so stale tiles are never served; old entries age out of the LRU.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

CacheKey = tuple[Any, ...]


def make_etag(layer_ids: Iterable[str], versions: Iterable[int], z: int, x: int, y: int) -> str:
    raw = f"{','.join(layer_ids)}|{','.join(map(str, versions))}|{z}/{x}/{y}"
    return '"' + hashlib.blake2b(raw.encode(), digest_size=10).hexdigest() + '"'


class TileCache:
    """A thread-safe LRU bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: CacheKey, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes held now (at most max_bytes)."""
        return self._bytes


VERSIONS_SQL = "SELECT table_name, version FROM layer_versions"


class DataVersions:
    """Reads the data versions (key -> version; by default layer_versions: table -> version),
    trusting a read for `ttl` seconds. `query` returns (key, version) rows: the application
    may add keys of its own (e.g. a dataset's current version)."""

    def __init__(
        self, connect: Callable[[], AbstractContextManager[Any]], ttl: float = 1.0,
        query: str = VERSIONS_SQL,
    ) -> None:
        self._connect = connect
        self._ttl = ttl
        self._query = query
        self._versions: dict[str, int] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> dict[str, int]:
        with self._connect() as conn:
            with conn.cursor() as cur:
                cur.execute(self._query)
                rows = cur.fetchall()
            conn.rollback()
        return {name: int(version) for name, version in rows}

    def fresh(self) -> bool:
        """True when `get` can answer without asking the database."""
        return time.monotonic() - self._read_at < self._ttl

    def get(self, tables: Iterable[str]) -> tuple[int, ...]:
        now = time.monotonic()
        if now - self._read_at >= self._ttl:
            fresh = self._refresh()
            with self._lock:
                self._versions, self._read_at = fresh, now
        versions = self._versions
        return tuple(versions.get(t, 0) for t in tables)
