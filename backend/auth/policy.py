"""The password policy: long enough, not a common password, not the user name.

The common list (`common_passwords.txt`, provenance in its header) holds the 8+ character
entries of zxcvbn's 30,000 most common passwords. Regenerate it from the zxcvbn wheel with
`FREQUENCY_LISTS["passwords"]`, keeping entries of 8+ characters, lower-cased. A password
whose stem (without trailing digits and punctuation, e.g. "password2026!") is on the list is
refused too: appending a year is the first thing a guesser tries.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from backend.errors import InvalidInput

MIN_PASSWORD = 10
COMMON_LIST = Path(__file__).with_name("common_passwords.txt")
_TAIL = string.digits + string.punctuation + " "


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(s for s in lines if s and not s.startswith("#"))


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why the password is refused (a sentence a person can act on), None when it is fine."""
    if len(password) < MIN_PASSWORD:
        return f"A password needs at least {MIN_PASSWORD} characters"
    folded = password.casefold()
    stem = folded.rstrip(_TAIL)
    common = common_passwords()
    if folded in common or (len(stem) >= 8 and stem in common):
        return ("This password is on the list of common passwords that guessers try first: "
                "choose another (e.g. several unrelated words)")
    if username and username.casefold() in folded:
        return "A password must not contain the user name: choose another"
    return None


def check_password(password: str, username: str | None = None) -> None:
    if (problem := password_problem(password, username)) is not None:
        raise InvalidInput(problem)
