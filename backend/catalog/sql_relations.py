"""What a domain view's SQL reads, found without a database: a small tokenizer that knows
string literals, quoted identifiers, comments and parentheses well enough to find the
relations after FROM and JOIN (and every comma-joined item), the names a WITH defines, and
whether the text holds more than one statement.

It is the first of two checks: at start the engine also EXPLAINs every query and refuses a
plan that scans any table but the version store and the two base relations
(backend.domains.engine), so a relation this reader misses cannot be read either."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>(?:[EeBbXxNn])?'(?:[^']|'')*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<param>\$\d+|%\(|%s\b)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<cast>::)
  | (?P<op>[(),;.\[\]])
  | (?P<other>[^\sA-Za-z0-9_'"(),;.\[\]]+)
""", re.VERBOSE | re.DOTALL)

# Keywords that end a FROM item's alias (what may follow `FROM x [AS] alias`).
_CLAUSE = {"where", "group", "order", "having", "limit", "offset", "window", "union",
           "intersect", "except", "join", "inner", "left", "right", "full", "cross", "natural",
           "on", "using", "fetch", "for", "lateral", "tablesample", "returning"}
# Keywords after which a comma no longer separates FROM items.
_FROM_ENDS = {"where", "group", "order", "having", "limit", "offset", "window", "union",
              "intersect", "except", "select", "returning"}


@dataclass
class SqlReading:
    relations: list[str] = field(default_factory=list)   # after FROM / JOIN, lower case
    qualified: list[str] = field(default_factory=list)    # schema.table: never allowed
    defined: set[str] = field(default_factory=set)        # WITH names
    identifiers: set[str] = field(default_factory=set)    # every bare word, lower case
    statements: int = 0
    first_word: str | None = None
    problems: list[str] = field(default_factory=list)


def _tokens(sql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:  # an unclosed quote or comment
            out.append(("error", sql[pos:pos + 20]))
            break
        kind = m.lastgroup or "other"
        if kind == "tag":
            kind = "dollar"
        if kind not in ("space", "comment"):
            text = m.group(0)
            out.append((kind, text.lower() if kind == "ident" else text))
        pos = m.end()
    return out


def read_sql(sql: str) -> SqlReading:
    """The relations `sql` reads and how many statements it holds."""
    reading = SqlReading()
    toks = _tokens(sql)
    if any(kind == "error" for kind, _ in toks):
        reading.problems.append("unclosed quote or comment")
        toks = [t for t in toks if t[0] != "error"]
    if any(kind == "param" for kind, _ in toks):
        reading.problems.append("parameters ($1, %s) are not allowed: the engine binds the area")
    body = list(toks)
    while body and body[-1] == ("op", ";"):
        body.pop()
    reading.statements = 1 + sum(1 for t in body if t == ("op", ";")) if body else 0
    reading.first_word = body[0][1] if body and body[0][0] == "ident" else None
    reading.identifiers = {text for kind, text in body if kind == "ident"}
    # One entry per open parenthesis: [opens a query (a FROM in it names relations; not a
    # call such as `extract(hour FROM t)`), inside that query's FROM list (a comma there
    # starts another relation)].
    stack: list[list[bool]] = [[True, False]]
    i = 0
    n = len(body)
    while i < n:
        kind, text = body[i]
        top = stack[-1]
        if text == "(":
            nxt = body[i + 1][1] if i + 1 < n else ""
            stack.append([nxt in ("select", "with", "values"), False])
        elif text == ")":
            if len(stack) > 1:
                stack.pop()
        elif kind == "ident" and text == "with" and top[0]:
            i = _read_with(body, i + 1, reading)
            continue
        elif kind == "ident" and text in ("from", "join") and top[0]:
            top[1] = True
            i = _read_from_items(body, i + 1, reading, single=text == "join")
            continue
        elif text == "," and top[0] and top[1]:
            i = _read_from_items(body, i + 1, reading, single=False)
            continue
        elif kind == "ident" and text in _FROM_ENDS:
            top[1] = False
        i += 1
    return reading


def _read_with(body: list[tuple[str, str]], i: int, reading: SqlReading) -> int:
    """`WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (...)`, comma separated: the
    names only; the bodies are read by the main loop."""
    if i < len(body) and body[i][1] == "recursive":
        i += 1
    if i < len(body) and body[i][0] == "ident":
        reading.defined.add(body[i][1])
    # Further names follow `), name AS (` at this level: found by scanning ahead.
    depth = 0
    j = i
    while j < len(body):
        text = body[j][1]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif text == "," and depth == 0 and j + 1 < len(body) and body[j + 1][0] == "ident":
            reading.defined.add(body[j + 1][1])
        elif depth == 0 and body[j][0] == "ident" and text in ("select", "values"):
            break
        j += 1
    return i + 1


def _skip_parens(body: list[tuple[str, str]], i: int) -> int:
    depth = 0
    while i < len(body):
        if body[i][1] == "(":
            depth += 1
        elif body[i][1] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _read_from_items(body: list[tuple[str, str]], i: int, reading: SqlReading,
                     single: bool) -> int:
    n = len(body)
    while i < n:
        if body[i][1] in ("lateral", "only"):
            i += 1
            continue
        kind, text = body[i]
        if text == "(":
            return i  # a subquery or a parenthesised join: the main loop reads inside it
        if kind in ("ident", "qident"):
            name = text if kind == "ident" else text[1:-1].replace('""', '"').lower()
            if i + 1 < n and body[i + 1][1] == "(":
                i = _skip_parens(body, i + 1)  # a set-returning function (generate_series)
            elif i + 2 < n and body[i + 1][1] == ".":
                reading.qualified.append(f"{name}.{body[i + 2][1]}")
                i += 3
            else:
                reading.relations.append(name)
                i += 1
        else:
            return i
        # [AS] alias [(columns)]
        if i < n and body[i][1] == "as":
            i += 1
        if i < n and body[i][0] in ("ident", "qident") and body[i][1] not in _CLAUSE:
            i += 1
            if i < n and body[i][1] == "(":
                i = _skip_parens(body, i)
        if single or i >= n or body[i][1] != ",":
            return i
        i += 1
    return i
