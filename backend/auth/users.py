"""Users, their passwords (argon2id) and login sessions.

A session token is 32 random bytes handed to the client once; the database keeps only its
SHA-256, so neither a read of `sessions` nor a log line gives a working token. Resolving a
token is on the path of every request (tiles included), so resolved sessions are cached for
`cache_s`; a revocation (logout, a user disabled, roles or password changed) reaches every
process's cache through the hub's backplane (`SessionStore.forget`, wired in
backend/auth/wiring.py), and live sockets are closed the same way.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.audit.chain import append as audit
from backend.auth.guard import LoginGuard, Refusal
from backend.auth.permissions import Principal, Role, principal_for
from backend.auth.policy import check_password
from backend.errors import Conflict, InvalidInput, NotFound
from backend.realtime.messages import Revocation

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str, username: str | None = None) -> str:
    """The argon2id hash of a password the policy accepts (backend/auth/policy.py)."""
    check_password(password, username)
    return _hasher.hash(password)


def check_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    known = {r.value for r in Role}
    unknown = [r for r in roles if r not in known]
    if not roles or unknown:
        raise InvalidInput(
            f"Unknown role(s) {', '.join(unknown) or '(none given)'}; "
            f"roles are: {', '.join(sorted(known))}")
    return roles


def create_user(conn: sa.Connection, username: str, password: str, roles: Iterable[str], *,
                display_name: str | None = None, phone: str | None = None,
                department: str | None = None, actor: str = "system") -> int:
    """Create a user (audited, as the last statement of the caller's transaction)."""
    if not USERNAME.match(username):
        raise InvalidInput("A user name is 2-64 characters: lower-case letters, digits, "
                           "'_', '.', '-', starting with a letter or digit")
    row = conn.execute(sa.text("""
INSERT INTO users (username, display_name, password_hash, roles, phone, department)
VALUES (:u, :d, :h, :r, :p, :dep) ON CONFLICT (username) DO NOTHING RETURNING id"""),
        {"u": username, "d": display_name or username, "h": hash_password(password, username),
         "r": check_roles(roles), "p": phone, "dep": department}).first()
    if row is None:
        raise Conflict(f"User {username!r} already exists")
    audit(conn, actor, "user.create", "user", username,
          {"roles": check_roles(roles), "department": department})
    return int(row[0])


def update_user(conn: sa.Connection, username: str, *, roles: Iterable[str] | None = None,
                display_name: str | None = None, active: bool | None = None,
                password: str | None = None, actor: str = "system") -> Revocation | None:
    """Change a user (audited; the password itself never is). A password, role or activity
    change also ends their sessions: the Revocation returned is for the caller to publish on
    the hub after commit (their live sockets close, every process forgets the sessions)."""
    row = conn.execute(sa.text("""
UPDATE users SET roles = COALESCE(:r, roles), display_name = COALESCE(:d, display_name),
  active = COALESCE(:a, active), password_hash = COALESCE(:h, password_hash), updated_at = now()
WHERE username = :u RETURNING id"""),
        {"u": username, "r": None if roles is None else check_roles(roles), "d": display_name,
         "a": active, "h": None if password is None else hash_password(password, username)}
    ).first()
    if row is None:
        raise NotFound(f"No user {username!r}")
    reason = ("disabled" if active is False else "password changed" if password is not None
              else "roles changed" if roles is not None else None)
    if reason is not None:
        conn.execute(sa.text("DELETE FROM sessions WHERE user_id = :id"), {"id": row[0]})
    changes: dict[str, object] = {"roles": None if roles is None else check_roles(roles),
                                  "display_name": display_name, "active": active,
                                  "password_changed": password is not None or None}
    audit(conn, actor, "user.update", "user", username,
          {k: v for k, v in changes.items() if v is not None})
    return None if reason is None else Revocation(int(row[0]), None, reason)


def list_users(conn: sa.Connection) -> list[dict[str, object]]:
    return [dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT username, display_name, roles, phone, department, active, created_at "
        "FROM users ORDER BY username"))]


def verify_login(conn: sa.Connection, username: str, password: str) -> Principal | None:
    row = conn.execute(sa.text(
        "SELECT id, username, display_name, roles, password_hash, department FROM users "
        "WHERE username = :u AND active"), {"u": username}).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(sa.text("UPDATE users SET password_hash = :h WHERE id = :id"),
                     {"h": _hasher.hash(password), "id": row.id})
    return principal_for(row.id, row.username, row.display_name, row.roles, row.department)


def attempt_login(engine: sa.Engine, guard: LoginGuard, username: str, password: str,
                  address: str) -> Principal | Refusal | None:
    """One login attempt (blocking: hashes; call holding a slot of `guard.hashing()`).

    The limits are checked again here, inside the hashing slot, so parallel guesses cannot
    all slip past one check. Success and failure are audited with the client's address, the
    password never; a failure's row names the attempted user name (cut to 64 characters)."""
    with engine.begin() as conn:
        refusal = guard.refusal(conn, username, address)
        if refusal is not None:
            return refusal
        principal = verify_login(conn, username, password)
        if principal is None:
            guard.failed(conn, username, address)
            audit(conn, "anonymous", "auth.login_failed", "user", None,
                  {"username": username[:64], "address": address[:64]})
        else:
            guard.succeeded(conn, username)
            audit(conn, principal.username, "auth.login", "user", principal.username,
                  {"address": address[:64]})
    return principal


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    principal: Principal
    expires_at: datetime


class SessionStore:
    def __init__(self, engine: sa.Engine, *, ttl: timedelta, cache_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.ttl = ttl
        self.cache_s = cache_s
        self.clock = clock
        self._cache: dict[bytes, tuple[float, Principal | None, datetime | None]] = {}
        self._lock = threading.Lock()
        # Counts revocations: a resolve that a revocation overtook does not cache its answer.
        self._generation = 0

    def create(self, principal: Principal, user_agent: str | None = None) -> Session:
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + self.ttl
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO sessions (token_sha256, user_id, expires_at, user_agent) "
                "VALUES (:h, :u, :e, :a)"),
                {"h": token_digest(token), "u": principal.user_id, "e": expires,
                 "a": (user_agent or "")[:200] or None})
            conn.execute(sa.text("DELETE FROM sessions WHERE expires_at < now()"))
        return Session(token, principal, expires)

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """(hit, principal) from the cache alone, for callers on the event loop."""
        entry = self._cache.get(token_digest(token))
        if entry is None or self.clock() - entry[0] > self.cache_s:
            return False, None
        principal, expires = entry[1], entry[2]
        if expires is not None and expires <= datetime.now(UTC):
            return True, None
        return True, principal

    def resolve(self, token: str) -> Principal | None:
        """The session's principal, None for an unknown, expired or revoked token (blocking)."""
        hit, principal = self.cached(token)
        if hit:
            return principal
        digest = token_digest(token)
        generation = self._generation
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("""
SELECT u.id, u.username, u.display_name, u.roles, s.expires_at, u.department FROM sessions s
JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = :h AND s.expires_at > now()
  AND u.active"""), {"h": digest}).first()
        found = None if row is None else principal_for(row[0], row[1], row[2], row[3], row[5])
        with self._lock:
            if self._generation != generation:  # read before a revocation: do not keep it
                return found
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (self.clock(), found, None if row is None else row[4])
        return found

    def revoke(self, token: str, principal: Principal, address: str) -> Revocation:
        """End one session (a logout, audited); the Revocation is for the caller to publish
        on the hub."""
        assert principal.user_id is not None
        digest = token_digest(token)
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM sessions WHERE token_sha256 = :h"), {"h": digest})
            audit(conn, principal.username, "auth.logout", "user", principal.username,
                  {"address": address[:64]})
        revocation = Revocation(principal.user_id, digest.hex(), "logout")
        self.forget(revocation)
        return revocation

    def forget(self, revocation: Revocation) -> None:
        """Drop the cached sessions a revocation ended (called for every revocation on the
        backplane, whichever process made it)."""
        with self._lock:
            self._generation += 1
            if revocation.session is not None:
                self._cache.pop(bytes.fromhex(revocation.session), None)
                return
            ended = [d for d, (_, p, _) in self._cache.items()
                     if p is not None and p.user_id == revocation.user_id]
            for digest in ended:
                del self._cache[digest]

    def alive(self, digests: Iterable[bytes]) -> set[bytes]:
        """Which of these sessions are still valid (the hub's periodic check of live sockets:
        expiry, and revocations no backplane message announced)."""
        wanted = list(digests)
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("""
SELECT s.token_sha256 FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_sha256 = ANY(:d) AND s.expires_at > now() AND u.active"""), {"d": wanted})
            return {bytes(r[0]) for r in rows}
