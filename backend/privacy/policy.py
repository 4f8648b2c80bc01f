"""The one masking policy: for each kind of personal field and each role, whether a value is
shown in full, masked by the kind's pattern, withheld, or shown only for a stated purpose the
role may use (backend.privacy.purposes). The table and the widths of the masks are data
(policy.yaml). Pure: no database, no web framework.

Every answer that carries a person's data (cases, the dispatch desk, grid workers, OGC items
and tiles of layers whose YAML marks a field with a `kind`) goes through `present()`; the
Open311 answers carry none (`public` withholds every kind). Rules:

- A caller with several roles gets the most revealing rule of any of them.
- `shown` and `purpose` are only granted to roles holding `personal:read` (a test checks the table
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
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict


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
    PURPOSE = "purpose"  # shown for a stated purpose the role may use (purposes.yaml), else masked


class View(StrEnum):
    RECORD = "record"   # one case, one person, the people near one case
    LIST = "list"       # many records at once: never in full


PUBLIC = "public"  # no role: anonymous callers, Open311 readers, shared tile caches
POLICY_FILE = Path(__file__).with_name("policy.yaml")


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    roles: list[str]
    rules: dict[Kind, list[Rule]]
    masks: dict[str, Any]


def _read_policy(path: Path) -> tuple[dict[Kind, dict[str, Rule]], dict[str, Any]]:
    data = _PolicyFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    if PUBLIC not in data.roles or set(data.rules) != set(Kind):
        raise ValueError(f"{path}: every kind needs a rule and `public` a column")
    table = {kind: dict(zip(data.roles, rules, strict=True)) for kind, rules in data.rules.items()}
    return table, data.masks


# The one table: kind -> role -> rule (policy.yaml, read once: it is part of the code's data),
# and the widths of the masks.
POLICY, MASKS = _read_policy(POLICY_FILE)
_ORDER = {Rule.HIDDEN: 0, Rule.MASKED: 1, Rule.PURPOSE: 2, Rule.SHOWN: 3}


def rule_for(kind: Kind, roles: Iterable[str], view: View = View.RECORD,
             purposeful: bool = False) -> Rule:
    """The most revealing rule any of `roles` has (unknown roles count as `public`), resolved
    to shown, masked or hidden. `purposeful`: the answer is given for a purpose the caller
    stated and may use (backend.privacy.purposes.check_purpose), which turns `purpose` into
    shown; otherwise it is masked."""
    return _rule(kind, frozenset(roles), view, purposeful)


@lru_cache(maxsize=1024)
def _rule(kind: Kind, roles: frozenset[str], view: View, purposeful: bool = False) -> Rule:
    """Cached: a page of 300 cases asks the same question 900 times."""
    table = POLICY[kind]
    rule = max((table.get(r, table[PUBLIC]) for r in roles), key=_ORDER.__getitem__,
               default=table[PUBLIC])
    if rule is Rule.PURPOSE:
        rule = Rule.SHOWN if purposeful else Rule.MASKED
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
    mobile = MASKS["mobile"]
    if len(national) == 11 and national.startswith("1"):
        first, last = mobile["first"], mobile["last"]
        return f"{prefix}{national[:first]}{'*' * (11 - first - last)}{national[-last:]}"
    head = re.match(r"\s*(\+?\d{1,4})[-\s]", phone) if national.startswith("0") else None
    if head:
        area, rest = phone[:head.end()], phone[head.end():]
    elif national.startswith("0") and len(national) >= 10:
        cut = 3 if national[1] in "12" else 4
        area, rest = national[:cut], national[cut:]
    else:
        area, rest = "", phone
    n = len(_DIGITS.findall(rest))
    last = int(MASKS["phone_last"])
    return area + _keep_last_digits(rest, last if n >= 7 else min(last, n // 2))


def mask_name(name: str) -> str:
    """The first character: 张三 -> 张*, 欧阳娜娜 -> 欧***, John Smith -> J***."""
    name = name.strip()
    if not name:
        return name
    first, most = MASKS["name"]["first"], MASKS["name"]["max_stars"]
    stars = max(1, len(name) - first) if _CJK.match(name) else most
    return name[:first] + "*" * min(stars, most)


def mask_email(email: str) -> str:
    name, at, domain = email.partition("@")
    return f"{name[:MASKS['email']['first']]}***@{domain}" if at else "***"


def mask_id_number(number: str) -> str:
    """First 6 (the region) and last 4: 340822********1234 (widths in policy.yaml)."""
    number = number.strip()
    first, last = MASKS["id_number"]["first"], MASKS["id_number"]["last"]
    if len(number) <= first + last:
        return "*" * len(number)
    return number[:first] + "*" * (len(number) - first - last) + number[len(number) - last:]


def mask_address(address: str) -> str:
    """Through the last building marker when a unit or room follows it (汴河大道12号楼****);
    else the first part (at most 6 characters, at most half of it), then ****."""
    address = address.strip()
    rule = MASKS["address"]
    cut = max((address.rfind(m) + len(m) for m in rule["through"] if m in address), default=0)
    if 0 < cut < len(address):
        return address[:cut] + "****"
    return address[:min(int(rule["first_max"]), len(address) // 2)] + "****"


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
            view: View = View.RECORD, purposeful: bool = False) -> list[str]:
    """Apply the policy to `record`'s personal `fields` in place (a withheld value becomes
    None). Returns the fields whose non-empty value went out in full, for the audit.
    `purposeful`: see rule_for."""
    roles = frozenset(roles)
    full = []
    for name, kind in fields.items():
        if name not in record:
            continue
        rule = _rule(kind, roles, view, purposeful)
        value = record[name]
        if rule is Rule.SHOWN and value not in (None, ""):
            full.append(name)
        record[name] = apply(kind, value, rule)
    return full
