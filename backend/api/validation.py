"""Control characters refused at the edge, for every text input: query strings, path
parameters, JSON bodies and form fields. NUL in a string reaching PostgreSQL was a 500 on many
routes (it cannot be stored in text), and other control characters only hide things in logs.

Identifiers, query strings and paths allow none (C0, DEL, C1); free text in bodies may keep
tab, newline and carriage return."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from fastapi.exceptions import RequestValidationError

STRICT = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A JSON body can only carry one as an escape (\u0000) or as a raw C1 character (UTF-8 \xc2\x80-
# \xc2\x9f); raw C0 bytes are invalid JSON anyway. Lone surrogates (\ud800) cannot be stored
# as UTF-8, and NaN/Infinity are not JSON although Python's parser takes them. Only a body with
# one of these hints is parsed here and walked.
JSON_HINT = re.compile(rb"\\u00[0-9a-fA-F]{2}|\\u[dD][89a-fA-F]|\xc2[\x80-\x9f]|NaN|Infinity")
SURROGATE = re.compile(r"[\ud800-\udfff]")
SURROGATE_MESSAGE = "contains a lone UTF-16 surrogate (e.g. \\ud800), which is not text; remove it"
NOT_JSON_NUMBER = ("NaN and Infinity are not JSON numbers: send a finite number, or leave "
                   "the field out")
MESSAGE = ("contains a control character (such as NUL, U+0000); remove it: only tab, newline "
           "and carriage return are allowed, and only in free text")
STRICT_MESSAGE = "contains a control character (such as NUL, U+0000 or a tab); remove it"
TYPE = "string_control_characters"


def issue(loc: tuple[str | int, ...], message: str = MESSAGE, kind: str = TYPE
          ) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": f"Value {message}"}


def strict_issues(where: str, pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Query or path parameters (names too) with any control character."""
    found = []
    for name, value in pairs:
        if STRICT.search(name) or STRICT.search(value):
            shown = STRICT.sub("?", name)[:40]
            found.append(issue((where, shown), STRICT_MESSAGE))
    return found


def _walk(value: Any, loc: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
        if FREE_TEXT.search(value):
            yield issue(loc)
        elif SURROGATE.search(value):
            yield issue(loc, SURROGATE_MESSAGE, "string_surrogate")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            yield {"type": "finite_number", "loc": loc, "msg": NOT_JSON_NUMBER}
    elif isinstance(value, dict):
        for key, item in value.items():
            if STRICT.search(key) or SURROGATE.search(key):
                yield issue((*loc, SURROGATE.sub("?", STRICT.sub("?", key))[:40]),
                            STRICT_MESSAGE)
            else:
                yield from _walk(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i))


def json_issues(body: bytes) -> list[dict[str, Any]]:
    """The fields of a JSON body holding a control character, a lone surrogate or a NaN;
    cheap (one regular expression) when there is none."""
    if not JSON_HINT.search(body):
        return []
    try:
        data = json.loads(body)  # the parser FastAPI uses: it takes what the route would take
        return list(islice(_walk(data, ("body",)), 20))
    except ValueError:
        return []  # not JSON: the route's own parsing answers that
    except RecursionError:
        return [{"type": "json_too_deep", "loc": ("body",),
                 "msg": "The JSON body is nested too deeply: send a flatter document"}]


def form_issues(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    found = []
    for name, value in pairs:
        if STRICT.search(name) or FREE_TEXT.search(value) or SURROGATE.search(value):
            found.append(issue(("body", STRICT.sub("?", name)[:40])))
    return found[:20]


def refuse(issues: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(issues)
