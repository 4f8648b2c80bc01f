"""Valid 20-digit GB/T 28181 camera ids for tests (cameras.code must be one): a readable tag
maps to its own id, the same one for the whole session."""

from __future__ import annotations

COUNTY_CENTRE = "34132400"  # Sixian (341324) + base unit 00
_SERIALS: dict[str, str] = {}


def code_for(tag: str, industry: str = "00", type_code: str = "132") -> str:
    """The id standing for `tag`: centre, industry, type, network 0, a serial per tag (from
    900000 up, apart from the demo county's 1..2000)."""
    if tag not in _SERIALS:
        _SERIALS[tag] = f"{900000 + len(_SERIALS):06d}"
    return f"{COUNTY_CENTRE}{industry}{type_code}0{_SERIALS[tag]}"
