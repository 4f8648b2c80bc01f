"""The redis:// backplane: several server processes share numbering, history and delivery.

Per channel: `<prefix>seq:<channel>` (INCR gives the seq) and a stream `<prefix>stream:<channel>`
(the last `history` frames, stream id = seq). One Lua script numbers, stores and PUBLISHes each
event atomically, so every process sees events in seq order per channel. The frame is built in
the script from the JSON data encoded once by the publisher; subscribers parse it for filtering
and send the same text to their clients.

URL: redis://host:port/db, optionally `?prefix=name:` to separate deployments sharing a Redis.
An event published while a process is disconnected from Redis is not delivered to it live;
its clients can still resume from the stream. Revocations (ended sessions) are PUBLISHed on
`<prefix>revocations`, outside the numbering; `publish_revocation` sends one from a process
without a hub (the `cityops users` command).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import redis as syncredis
import redis.asyncio as aioredis

from backend.realtime.backplane import Backplane, Deliver, Revoked, covers
from backend.realtime.messages import Event, Revocation

log = logging.getLogger(__name__)

PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local frame = '{"type":"event","channel":' .. ARGV[1] .. ',"seq":' .. seq
    .. ',"data":' .. ARGV[2] .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'f', frame)
redis.call('PUBLISH', KEYS[3], frame)
return seq
"""


def split_prefix(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), "cityops:hub:")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisBackplane(Backplane):
    def __init__(self, url: str, *, history: int) -> None:
        self._url, self._prefix = split_prefix(url)
        self._size = history
        self._redis: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._events_key = f"{self._prefix}events"
        self._revocations_key = revocations_key(self._prefix)

    def _keys(self, channel: str) -> tuple[str, str]:
        return f"{self._prefix}seq:{channel}", f"{self._prefix}stream:{channel}"

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the redis backplane is not started")
        return self._redis

    async def start(self, deliver: Deliver, revoked: Revoked | None = None) -> None:
        self._redis = aioredis.from_url(self._url)
        self._script = self._redis.register_script(PUBLISH)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._events_key, self._revocations_key)
        # Wait for the confirmations: what is published after start() must reach this process.
        confirmed = 0
        async with asyncio.timeout(5):
            while confirmed < 2:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is not None and msg["type"] == "subscribe":
                    confirmed += 1
        self._listener = asyncio.create_task(self._listen(pubsub, deliver, revoked))

    async def _listen(self, pubsub: aioredis.client.PubSub, deliver: Deliver,
                      revoked: Revoked | None) -> None:
        revocations = self._revocations_key.encode()
        try:
            while True:
                try:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                    log.warning("hub backplane: redis connection lost (%s); retrying", exc)
                    await asyncio.sleep(0.5)
                    continue
                if msg is None or msg["type"] != "message":
                    continue
                try:
                    if msg["channel"] == revocations:
                        if revoked is not None:
                            revoked(Revocation.decode(msg["data"]))
                        continue
                    deliver(Event.from_frame(msg["data"].decode()))
                except Exception:  # one bad frame or client must not stop delivery
                    log.exception("hub backplane: delivering an event failed")
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def publish(self, channel: str, data: dict) -> int:
        seq_key, stream_key = self._keys(channel)
        args = [orjson.dumps(channel), orjson.dumps(data), self._size]
        self.serialised += 1
        seq = await self._script(keys=[seq_key, stream_key, self._events_key], args=args)
        return int(seq)

    async def revoke(self, revocation: Revocation) -> None:
        await self.redis.publish(self._revocations_key, revocation.encode())

    async def history(self, channel: str, since: int) -> list[Event] | None:
        seq_key, stream_key = self._keys(channel)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(seq_key).xrange(stream_key, "-", "+", count=1)
            pipe.xrange(stream_key, f"{since + 1}-0", "+")
            last, first, entries = await pipe.execute()
        first_kept = int(first[0][0].split(b"-")[0]) if first else None
        if not covers(first_kept, int(last or 0), since):
            return None
        return [Event.from_frame(fields[b"f"].decode()) for _, fields in entries]

    async def last_seq(self, channel: str) -> int:
        return int(await self.redis.get(self._keys(channel)[0]) or 0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()


def revocations_key(prefix: str) -> str:
    return f"{prefix}revocations"


def publish_revocation(url: str, revocation: Revocation) -> int:
    """Announce ended sessions from a process without a hub (blocking); returns how many
    server processes received it."""
    plain, prefix = split_prefix(url)
    client = syncredis.Redis.from_url(plain, socket_timeout=5)
    try:
        return int(client.publish(revocations_key(prefix), revocation.encode()))
    finally:
        client.close()
