"""GeoReport v2 on the wire: the same records as JSON or XML (UTF-8, the spec's root and item
elements), and errors as [{code, description}] / <errors><error>…</error></errors>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Response

from backend.api.responses import JSONBytes
from backend.open311.rules import Open311Error

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Lists inside an item: the element that holds each entry.
ITEM_OF = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute",
           "values": "value"}


def split_format(raw: str) -> tuple[str, str]:
    """'E0101.xml' -> ('E0101', 'xml'); without a known suffix, JSON."""
    stem, dot, suffix = raw.rpartition(".")
    if dot and suffix.lower() in FORMATS:
        return stem, suffix.lower()
    return raw, "json"


def check_format(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise Open311Error(400, f"Format {fmt[:20]!r} is not offered: use .json or .xml")
    return fmt


def format_of_path(path: str) -> str:
    return "xml" if path.lower().endswith(".xml") else "json"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, record: Mapping[str, Any]) -> None:
    for key, value in record.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list):
            for entry in value:
                item = ET.SubElement(child, ITEM_OF.get(key, "item"))
                if isinstance(entry, Mapping):
                    _fill(item, entry)
                else:
                    item.text = _text(entry)
        else:
            child.text = _text(value)


def xml_bytes(root_name: str, item_name: str | None, body: Any) -> bytes:
    """A list of records under <root><item>…</item></root>, or one record as <root>…</root>
    (item_name None)."""
    root = ET.Element(root_name)
    if item_name is None:
        _fill(root, body)
    else:
        for record in body:
            _fill(ET.SubElement(root, item_name), record)
    return XML_DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")


def render(fmt: str, root_name: str, item_name: str | None,
           body: Sequence[Mapping[str, Any]] | Mapping[str, Any], status: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(xml_bytes(root_name, item_name, body), status_code=status,
                        media_type=XML_TYPE, headers=dict(headers or {}))
    return JSONBytes(body, status_code=status, media_type=JSON_TYPE, headers=dict(headers or {}))


def errors(fmt: str, status: int, description: str,
           headers: Mapping[str, str] | None = None) -> Response:
    return render(fmt, "errors", "error", [{"code": status, "description": description}],
                  status, headers)
