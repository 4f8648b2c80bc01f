"""The phone page finds a category by its pinyin initials from a table generated from the
categories YAML (frontend/scripts/gen_pinyin_initials.py). A category added with a character
the table lacks would be findable only by its Chinese text: this says to regenerate it."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import ROOT

TABLE = ROOT / "frontend" / "src" / "report" / "pinyinInitials.ts"


def hanzi_in(node: object) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(hanzi_in(k) | hanzi_in(v) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*(hanzi_in(v) for v in node)) if node else set()
    if isinstance(node, str):
        return {c for c in node if "\u4e00" <= c <= "\u9fff"}
    return set()


def test_every_category_character_has_its_pinyin_initial() -> None:
    found = re.search(r"PINYIN_INITIALS: string = (\".*\");", TABLE.read_text(encoding="utf-8"))
    assert found, "pinyinInitials.ts has no PINYIN_INITIALS string"
    pairs = json.loads(found.group(1))
    table = dict(zip(pairs[::2], pairs[1::2], strict=True))
    assert all(re.fullmatch(r"[a-z]", v) for v in table.values())
    used: set[str] = set()
    for path in ROOT.glob("scenarios/*/case_categories.yaml"):
        categories = yaml.safe_load(path.read_text(encoding="utf-8"))
        used |= hanzi_in({k: v for k, v in categories.items() if k != "departments"})
    missing = sorted(used - set(table))
    assert not missing, f"run frontend/scripts/gen_pinyin_initials.py: {''.join(missing)} missing"
    # A few readings a worker would type.
    assert [table[c] for c in "路灯"] == ["l", "d"]
    assert [table[c] for c in "垃圾房"] == ["l", "j", "f"]
    assert [table[c] for c in "井盖"] == ["j", "g"]
