"""HTTP digest authentication as SIP uses it (RFC 2617, RFC 3261 §22.4): MD5, qop=auth optional.

The server's nonces carry their issue time and an HMAC over it with a per-process key, so no
nonce table is kept and an expired or forged nonce is told apart from a wrong password (an
expired one gets `stale=true`, and the device retries without asking its user). Responses are
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

MAX_PARAMS = 16
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]{1,32})\s*=\s*("(?:[^"\\]|\\.){0,512}"|[^\s,"]{1,512})\s*'
                    r'(?:,|$)')

NonceCheck = Literal["ok", "stale", "bad"]


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(user: str, realm: str, password: str) -> str:
    return md5_hex(f"{user}:{realm}:{password}")


def expected(ha1_hex: str, method: str, uri: str, nonce: str, *, qop: str | None = None,
             nc: str | None = None, cnonce: str | None = None) -> str:
    ha2 = md5_hex(f"{method}:{uri}")
    if qop:
        return md5_hex(f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5_hex(f"{ha1_hex}:{nonce}:{ha2}")


class DigestError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None


def parse_authorization(value: str) -> Credentials:
    """`Digest username="..", realm="..", ...` -> Credentials; DigestError naming what is wrong."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError("not_digest")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            raise DigestError("bad_authorization")
        raw = m.group(2)
        params[m.group(1).lower()] = (raw[1:-1].replace('\\"', '"') if raw.startswith('"')
                                      else raw)
        if len(params) > MAX_PARAMS:
            raise DigestError("bad_authorization")
        pos = m.end()
    try:
        creds = Credentials(params["username"], params["realm"], params["nonce"], params["uri"],
                            params["response"], params.get("algorithm", "MD5"),
                            params.get("qop"), params.get("nc"), params.get("cnonce"))
    except KeyError as exc:
        raise DigestError(f"missing_{exc.args[0]}") from None
    if creds.algorithm.upper() != "MD5":
        raise DigestError("unsupported_algorithm")
    if creds.qop is not None and (creds.qop != "auth" or not creds.nc or not creds.cnonce):
        raise DigestError("bad_qop")
    return creds


class Nonces:
    """Stateless server nonces: `<issued, hex>.<hmac>`, valid for `ttl_s`."""

    def __init__(self, ttl_s: float = 300.0, key: bytes | None = None) -> None:
        self.ttl_s = ttl_s
        self._key = key or secrets.token_bytes(32)

    def issue(self, now: float | None = None) -> str:
        stamp = f"{int(now if now is not None else time.time()):x}{secrets.token_hex(4)}"
        return f"{stamp}.{self._mac(stamp)}"

    def check(self, nonce: str, now: float | None = None) -> NonceCheck:
        stamp, dot, mac = nonce.partition(".")
        if not dot or len(stamp) < 9 or not hmac.compare_digest(mac, self._mac(stamp)):
            return "bad"
        try:
            issued = int(stamp[:-8], 16)
        except ValueError:
            return "bad"
        age = (now if now is not None else time.time()) - issued
        return "ok" if -5 <= age <= self.ttl_s else "stale"

    def _mac(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]


def challenge(realm: str, nonce: str, *, stale: bool = False, qop: bool = False) -> str:
    parts = [f'realm="{realm}"', f'nonce="{nonce}"', 'algorithm=MD5']
    if qop:
        parts.append('qop="auth"')
    if stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)


def verify(creds: Credentials, method: str, ha1_hex: str) -> bool:
    want = expected(ha1_hex, method, creds.uri, creds.nonce, qop=creds.qop, nc=creds.nc,
                    cnonce=creds.cnonce)
    return hmac.compare_digest(want.encode(), creds.response.lower().encode())


def authorization(creds_user: str, realm: str, password: str, method: str, uri: str,
                  nonce: str, *, qop: bool = False, nc: int = 1) -> str:
    """The client side (the simulated devices, the tests): an Authorization header value."""
    key = ha1(creds_user, realm, password)
    parts = [f'username="{creds_user}"', f'realm="{realm}"', f'nonce="{nonce}"',
             f'uri="{uri}"']
    if qop:
        cnonce, ncs = secrets.token_hex(4), f"{nc:08x}"
        answer = expected(key, method, uri, nonce, qop="auth", nc=ncs, cnonce=cnonce)
        parts += [f'response="{answer}"', "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        parts.append(f'response="{expected(key, method, uri, nonce)}"')
    return "Digest " + ", ".join(parts + ["algorithm=MD5"])


def challenge_params(value: str) -> dict[str, str]:
    """The parameters of a WWW-Authenticate: Digest challenge (client side)."""
    _, _, rest = value.strip().partition(" ")
    return {m.group(1).lower(): m.group(2).strip('"') for m in _PARAM.finditer(rest)}
