"""The two wire formats of GeoReport v2: XML (mandatory) and JSON, its mechanical mapping.

Bodies are built once as Python values (dicts, lists, strings, numbers, booleans, None) and written either way:
JSON as they are (collections as bare arrays), XML with the list's root element and one child per item
(``services/service``, ``service_requests/request``, …), booleans as ``true``/``false``, None left out, and
characters XML 1.0 cannot carry dropped. XML starts with ``<?xml version="1.0" encoding="utf-8"?>`` and has no
namespace.
"""

import json
import re
from xml.etree import ElementTree as ET

from django.http import HttpResponse

CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# The element of one item of each list, by the list's element name.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "notes": "note",
    "photos": "photo",
    "keywords": "keyword",
}

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _append(parent, tag, value):
    if value is None:
        return
    element = ET.SubElement(parent, tag)
    _fill(element, tag, value)


def _fill(element, tag, value):
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list | tuple):
        child = ITEM_TAGS.get(tag, "item")
        for item in value:
            _append(element, child, item)
    else:
        element.text = _text(value)


def to_xml(root, value) -> str:
    element = ET.Element(root)
    _fill(element, root, value)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode")


def render(fmt, root, value, status=200):
    """A response of `value` in `fmt`: JSON as is, XML under the element `root`."""
    body = json.dumps(value, ensure_ascii=False) if fmt == "json" else to_xml(root, value)
    return HttpResponse(body.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])


def errors(fmt, status, *descriptions, code=None):
    """The standard error body: ``errors/error{code, description}`` or ``[{"code", "description"}]``."""
    items = [{"code": code or status, "description": str(text)} for text in descriptions]
    return render(fmt, "errors", items, status=status)
