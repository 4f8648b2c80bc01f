"""The one masking policy: for each kind of personal field and each role, whether a value is
shown in full, masked by the kind's pattern, or withheld. Pure: no database, no web framework.

Every answer that carries a person's data (cases, the dispatch desk, grid workers, OGC items
and tiles of layers whose YAML marks a field with a `kind`) goes through `present()`; the
Open311 answers carry none (`public` withholds every kind). Rules:

- A caller with several roles gets the most revealing rule of any of them.
- `shown` is only ever granted to roles holding `personal:read` (a test checks the table
  against backend.auth.permissions), and every answer that shows a value in full is audited
  by the caller (backend.privacy.looks), one row per answer.
- A list (the queue, the grid workers' list) never shows a person in full: `shown` becomes
  `masked` there. Open the one case to see the contact, so every full view is one audited look
  at one record, and a console polling its queue does not fill the audit log.
- Shared caches (vector tiles, cached for every caller) are rendered for `public`: they never
  carry a personal field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Kind(StrEnum):
    PHONE = "phone"            # a person's phone: 138****1234, 0557-***4567
    NAME = "name"              # a citizen's name: 张*, J***
    EMAIL = "email"            # a***@x.cn
    ID_NUMBER = "id_number"    # 居民身份证号: first 6 + last 4
    ADDRESS = "address"        # a person's home address: the first part, then ****


class Rule(StrEnum):
    SHOWN = "shown"
    MASKED = "masked"
    HIDDEN = "hidden"


class View(StrEnum):
    RECORD = "record"   # one case, one person, the people near one case
    LIST = "list"       # many records at once: never in full


PUBLIC = "public"  # no role: anonymous callers, Open311 readers, shared tile caches
S, M, H = Rule.SHOWN, Rule.MASKED, Rule.HIDDEN
_ROLES = ("admin", "commander", "supervisor", "dispatcher", "grid_worker",
          "department_handler", "traffic_police", "data_steward", "viewer", "data_bureau",
          PUBLIC)


def _row(*rules: Rule) -> dict[str, Rule]:
    return dict(zip(_ROLES, rules, strict=True))


# The one table: kind -> role -> rule. Columns in the order of _ROLES. The data bureau judges
# other departments' data quality: it sees personal values masked (an ID's 6 + 4 digits are
# enough to tell a provider which record conflicts), never in full.
#            admin commander supervisor dispatcher grid handler police steward viewer bureau public
POLICY: dict[Kind, dict[str, Rule]] = {
    Kind.PHONE:     _row(S, S, S, S, M, M, M, M, M, M, H),
    Kind.NAME:      _row(S, S, S, S, M, M, M, M, M, M, H),
    Kind.EMAIL:     _row(S, S, S, S, M, M, M, M, M, M, H),
    Kind.ID_NUMBER: _row(S, M, M, M, H, H, M, H, H, M, H),
    Kind.ADDRESS:   _row(S, S, S, S, M, M, M, M, H, M, H),
}
_ORDER = {Rule.HIDDEN: 0, Rule.MASKED: 1, Rule.SHOWN: 2}


def rule_for(kind: Kind, roles: Iterable[str], view: View = View.RECORD) -> Rule:
    """The most revealing rule any of `roles` has (unknown roles count as `public`)."""
    return _rule(kind, frozenset(roles), view)


@lru_cache(maxsize=1024)
def _rule(kind: Kind, roles: frozenset[str], view: View) -> Rule:
    """Cached: a page of 300 cases asks the same question 900 times."""
    table = POLICY[kind]
    rule = max((table.get(r, table[PUBLIC]) for r in roles), key=_ORDER.__getitem__,
               default=table[PUBLIC])
    if view is View.LIST and rule is Rule.SHOWN:
        return Rule.MASKED
    return rule


# Patterns ------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DIGITS = re.compile(r"\d")


def _keep_last_digits(text: str, keep: int) -> str:
    """Every digit of `text` but the last `keep` becomes '*'; separators stay."""
    total = len(_DIGITS.findall(text))
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_phone(phone: str) -> str:
    """A mobile keeps its first 3 and last 4 digits (138****1234, after a +86 prefix); any other
    number keeps its area code (0557-, or the 3/4 leading digits of a 0-number) and at most its
    last 4 digits (0557-***4567); a short number keeps half its digits at most."""
    digits = "".join(_DIGITS.findall(phone))
    prefix = ""
    national = digits
    if phone.lstrip().startswith("+86") or (len(digits) == 13 and digits.startswith("86")):
        prefix, national = "+86 ", digits[2:]
    if len(national) == 11 and national.startswith("1"):
        return f"{prefix}{national[:3]}****{national[-4:]}"
    head = re.match(r"\s*(\+?\d{1,4})[-\s]", phone) if national.startswith("0") else None
    if head:
        area, rest = phone[:head.end()], phone[head.end():]
    elif national.startswith("0") and len(national) >= 10:
        cut = 3 if national[1] in "12" else 4
        area, rest = national[:cut], national[cut:]
    else:
        area, rest = "", phone
    n = len(_DIGITS.findall(rest))
    return area + _keep_last_digits(rest, 4 if n >= 7 else n // 2)


def mask_name(name: str) -> str:
    """The first character: 张三 -> 张*, 欧阳娜娜 -> 欧***, John Smith -> J***."""
    name = name.strip()
    if not name:
        return name
    stars = max(1, len(name) - 1) if _CJK.match(name) else 3
    return name[0] + "*" * min(stars, 3)


def mask_email(email: str) -> str:
    name, at, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if at else "***"


def mask_id_number(number: str) -> str:
    """First 6 (the region) and last 4: 340822********1234."""
    number = number.strip()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_address(address: str) -> str:
    """The first part (at most 6 characters, at most half of it), then ****."""
    address = address.strip()
    return address[:min(6, len(address) // 2)] + "****"


PATTERNS: dict[Kind, Callable[[str], str]] = {
    Kind.PHONE: mask_phone, Kind.NAME: mask_name, Kind.EMAIL: mask_email,
    Kind.ID_NUMBER: mask_id_number, Kind.ADDRESS: mask_address,
}


def mask(kind: Kind, value: Any) -> Any:
    """The masked form of one value (None and '' stay as they are)."""
    if value is None or value == "":
        return value
    return PATTERNS[kind](str(value))


def apply(kind: Kind, value: Any, rule: Rule) -> Any:
    if rule is Rule.SHOWN:
        return value
    if rule is Rule.HIDDEN:
        return None
    return mask(kind, value)


def present(record: dict[str, Any], fields: Mapping[str, Kind], roles: Iterable[str],
            view: View = View.RECORD) -> list[str]:
    """Apply the policy to `record`'s personal `fields` in place (a withheld value becomes
    None). Returns the fields whose non-empty value went out in full, for the audit."""
    roles = frozenset(roles)
    full = []
    for name, kind in fields.items():
        if name not in record:
            continue
        rule = _rule(kind, roles, view)
        value = record[name]
        if rule is Rule.SHOWN and value not in (None, ""):
            full.append(name)
        record[name] = apply(kind, value, rule)
    return full
