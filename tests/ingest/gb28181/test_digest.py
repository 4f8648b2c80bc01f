"""Digest authentication: RFC 2617 §3.5's worked example, without qop, and the server nonces."""

from __future__ import annotations

import pytest

from backend.ingest.gb28181 import digest

RFC_2617 = ('Digest username="Mufasa", realm="testrealm@host.com", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
            'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
            'opaque="5ccc069c403ebaf9f0171e9517f40e41"')


def test_rfc_2617_worked_example() -> None:
    creds = digest.parse_authorization(RFC_2617)
    key = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert digest.verify(creds, "GET", key)
    assert not digest.verify(creds, "GET", digest.ha1("Mufasa", "testrealm@host.com", "x"))
    assert not digest.verify(creds, "POST", key)


def test_client_and_server_agree_with_and_without_qop() -> None:
    nonces = digest.Nonces(ttl_s=60)
    nonce = nonces.issue()
    for qop in (False, True):
        header = digest.authorization("34132400001320000001", "3413240000", "secret",
                                      "REGISTER", "sip:34132400002000000001@3413240000", nonce,
                                      qop=qop)
        creds = digest.parse_authorization(header)
        assert nonces.check(creds.nonce) == "ok"
        assert digest.verify(creds, "REGISTER",
                             digest.ha1("34132400001320000001", "3413240000", "secret"))


def test_nonces_expire_and_cannot_be_forged() -> None:
    nonces = digest.Nonces(ttl_s=30)
    nonce = nonces.issue(now=1_000_000)
    assert nonces.check(nonce, now=1_000_010) == "ok"
    assert nonces.check(nonce, now=1_000_031) == "stale"
    assert digest.Nonces(ttl_s=30).check(nonce, now=1_000_010) == "bad"  # another key
    assert nonces.check("dcd98b7102dd2f0e8b11d0f600bfb0c093", now=1_000_010) == "bad"
    stamp, _, mac = nonce.partition(".")
    assert nonces.check(f"{int(stamp[:-8], 16) + 5:x}{stamp[-8:]}.{mac}") == "bad"


@pytest.mark.parametrize(("value", "reason"), [
    ("Basic dXNlcjpwYXNz", "not_digest"),
    ('Digest username="a", realm="r"', "missing_nonce"),
    ('Digest username="a" realm="r"', "bad_authorization"),
    ('Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-256',
     "unsupported_algorithm"),
    ('Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth', "bad_qop"),
    ("Digest " + ", ".join(f"p{i}=1" for i in range(40)), "bad_authorization"),
])
def test_bad_authorization(value: str, reason: str) -> None:
    with pytest.raises(digest.DigestError) as caught:
        digest.parse_authorization(value)
    assert caught.value.reason == reason
