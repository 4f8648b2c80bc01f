"""Anchors: the audit chain's head, signed outside the database.

The hash chain alone catches a row edited in place, but the database's owner can delete the
newest rows, or edit a row and recompute every later hash, and the chain still verifies. So the
head (row count, last id, its hash) is written now and then to an append-only file, one JSON
line each, signed with HMAC-SHA256 under a key the database never sees. `verify` then checks
the chain against every anchor: a missing anchored row, a different hash or a shorter chain
names the first anchor it contradicts.

Several server processes may anchor the same database: each line is self-contained (database,
host, pid, key id, signature) and written with one write() to a file opened O_APPEND, so lines
never interleave. Keep the key (and a copy of the anchors) off the database host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from backend.settings import Settings

VERSION = 1
KEY_BYTES = 32
HEAD = sa.text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
# One statement, one snapshot: the count and the head agree. Rows become visible in id order
# (cityops_audit_append holds the chain's lock until commit), so the visible rows are a prefix.
COUNTED_HEAD = sa.text("""
SELECT current_database(), h.id, h.hash, (SELECT count(*) FROM audit_log)
FROM (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) h""")


class AnchorError(Exception):
    """The key or the anchors file cannot be used; the message says what to do."""


def anchor_paths(settings: Settings) -> tuple[Path, Path]:
    """(anchors file, key file), by default under var/audit/."""
    base = settings.var_dir / "audit"
    return (settings.audit_anchor_file or base / "anchors.jsonl",
            settings.audit_anchor_key_file or base / "anchor.key")


# The key --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnchorKey:
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """A fingerprint naming the key in each anchor (not the key: it cannot sign)."""
        return hashlib.sha256(b"cityops-anchor-key-id|" + self.secret).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    @classmethod
    def load(cls, path: Path) -> AnchorKey:
        """The key in `path` (hex); AnchorError when missing, unreadable or open to others."""
        try:
            mode = path.stat().st_mode
            text = path.read_text("ascii").strip()
        except FileNotFoundError as exc:
            raise AnchorError(f"The audit anchor key {path} does not exist: copy it from the "
                              "server that writes the anchors (CITYOPS_AUDIT_ANCHOR_KEY_FILE)"
                              ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise AnchorError(f"The audit anchor key {path} cannot be read: {exc}") from exc
        if stat.S_IMODE(mode) & 0o077:
            raise AnchorError(f"The audit anchor key {path} is readable by other users: "
                              f"chmod 600 {path}")
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) < 16:
            raise AnchorError(f"The audit anchor key {path} is not a hex key of at least "
                              "16 bytes")
        return cls(secret)

    @classmethod
    def load_or_create(cls, path: Path) -> AnchorKey:
        """The key, created (0600, random) on first use. Creation is atomic: the new key is
        linked into place, so two processes starting together end up with the same key."""
        if not path.exists():
            try:
                _create_key(path)
            except OSError as exc:
                raise AnchorError(f"The audit anchor key {path} cannot be created ({exc}): "
                                  "set CITYOPS_AUDIT_ANCHOR_KEY_FILE to a writable place"
                                  ) from exc
        return cls.load(path)


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(tmp)


# One anchor ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Anchor:
    """The chain's head as one process saw it, and who wrote it."""

    db: str        # current_database(): anchors of other databases in the same file are skipped
    rows: int      # rows in the chain up to and including last_id
    last_id: int
    hash: str      # hex SHA-256 of row last_id
    at: str        # when it was written (UTC, ISO 8601)
    host: str
    pid: int
    key: str       # the signing key's id
    v: int = VERSION

    def signed_text(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    def line(self, key: AnchorKey) -> bytes:
        body = asdict(self) | {"sig": key.sign(self.signed_text())}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    def describe(self, line_no: int, path: Path) -> str:
        return (f"anchor at line {line_no} of {path} (written {self.at} by {self.host} "
                f"pid {self.pid}: {self.rows} rows up to row {self.last_id})")


@dataclass(frozen=True)
class ReadAnchor:
    line_no: int
    anchor: Anchor


@dataclass
class AnchorReading:
    """What a file holds for one database: good anchors, bad lines, others' anchors."""

    path: Path
    anchors: list[ReadAnchor] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    other_databases: int = 0


def parse_line(raw: bytes, key: AnchorKey) -> Anchor:
    """An anchor from one line; ValueError saying why it cannot be trusted."""
    try:
        body = json.loads(raw)
        sig = body.pop("sig")
        anchor = Anchor(**body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError("is not a signed anchor (damaged or edited)") from exc
    if anchor.key != key.key_id:
        raise ValueError(f"was signed with another key (id {anchor.key}; this key is "
                         f"{key.key_id})")
    if not isinstance(sig, str) or not hmac.compare_digest(sig, key.sign(anchor.signed_text())):
        raise ValueError("has a bad signature: it was edited after it was written")
    return anchor


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if raw.strip():
                yield n, raw


def read_anchors(path: Path, key: AnchorKey, database: str) -> AnchorReading:
    reading = AnchorReading(path)
    if not path.exists():
        return reading
    for n, raw in _lines(path):
        try:
            anchor = parse_line(raw, key)
        except ValueError as exc:
            reading.bad.append((n, str(exc)))
            continue
        if anchor.db != database:
            reading.other_databases += 1
        else:
            reading.anchors.append(ReadAnchor(n, anchor))
    return reading


# Writing ------------------------------------------------------------------------------------

def append_line(path: Path, line: bytes) -> None:
    """One write() to a file opened O_APPEND, then fsync: whole lines, never interleaved."""
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new directory entry must survive a crash too
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def head_id(conn: sa.Connection) -> tuple[int, bytes] | None:
    """(last id, its hash): a cheap look whether the head moved."""
    row = conn.execute(HEAD).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def current_anchor(conn: sa.Connection, key: AnchorKey) -> Anchor | None:
    """The head now, as an unsigned anchor (None for an empty chain)."""
    row = conn.execute(COUNTED_HEAD).first()
    if row is None:
        return None
    database, last_id, digest, rows = row
    return Anchor(db=database, rows=int(rows), last_id=int(last_id), hash=bytes(digest).hex(),
                  at=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                  host=socket.gethostname(), pid=os.getpid(), key=key.key_id)


def write_anchor(conn: sa.Connection, path: Path, key: AnchorKey) -> tuple[Anchor, bytes] | None:
    """Anchor the head now: (the anchor, its line as written); None for an empty chain."""
    anchor = current_anchor(conn, key)
    if anchor is None:
        return None
    line = anchor.line(key)
    append_line(path, line)
    return anchor, line
