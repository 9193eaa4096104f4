"""Check a response against the official GeoReport v2 JSON Schemas (../shared/specs/open311/, from the
open311/schema-validation repository), in both formats.

JSON is validated as it is. XML is parsed (declaration with encoding="utf-8", no namespace), turned into the
same structure by the Spark convention (a list element such as ``services`` holds one child per item; a leaf is
its text, typed by what the schema says the field is: a boolean, an integer or a number) and validated with the
same schema; it must also carry exactly the JSON's content (XML leaves out what JSON has as null).

The bodies the official folder has no schema for (discovery, errors, FixMyStreet's request updates and the answer
to a posted update) are checked
with the small schemas below, written from ../shared/docs/open311.md.
"""

import json
import os
import re
from urllib.parse import urlparse
from xml.etree import ElementTree as ET

import pytest
from django.conf import settings
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
LIST_TAGS = {
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
}
# W3C datetime with the timezone required (the spec's subset of ISO 8601).
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")

formats = FormatChecker(())


@formats.checks("date-time")
def _w3c(value):
    return not isinstance(value, str) or bool(W3C.match(value))


@formats.checks("uri")
def _uri(value):
    if not isinstance(value, str):
        return True
    parts = urlparse(value)
    return bool(parts.scheme and parts.netloc)


NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
DATETIME = {"type": "string", "format": "date-time"}
LOCAL = {
    "discovery.json": {
        "type": "object",
        "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": {"anyOf": [DATETIME, {"type": "null"}]},
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["specification", "url", "type", "formats"],
                    "properties": {
                        "specification": {"type": "string", "format": "uri"},
                        "url": {"type": "string", "format": "uri"},
                        "changeset": {"anyOf": [DATETIME, {"type": "null"}]},
                        "type": {"enum": ["production", "test"]},
                        "formats": {"type": "array", "items": {"enum": ["text/xml", "application/json"]}},
                    },
                },
            },
        },
    },
    "errors.json": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}},
        },
    },
    "updates.json": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["update_id", "service_request_id", "status", "updated_datetime", "description"],
            "properties": {
                "update_id": {"type": "string"},
                "service_request_id": {"type": "string"},
                "status": {
                    "enum": [
                        *("OPEN", "CLOSED", "FIXED", "IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING"),
                        *("DUPLICATE", "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL"),
                        *("FOR_TRIAGE", "CANCELLED", "REOPEN"),
                    ]
                },
                "updated_datetime": DATETIME,
                "description": {"type": "string"},
                "media_url": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]},
                "external_status_code": NULLABLE_STRING,
            },
        },
    },
    "update-posted.json": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1,
        "items": {
            "type": "object",
            "required": ["update_id"],
            "additionalProperties": False,
            "properties": {"update_id": {"type": "string", "minLength": 1}},
        },
    },
    "token.json": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1,
        "items": {
            "type": "object",
            "required": ["service_request_id", "token"],
            "additionalProperties": False,
            "properties": {
                "service_request_id": {"type": "string"},
                "token": {"type": "string"},
                "service_notice": NULLABLE_STRING,
                "account_id": NULLABLE_STRING,
            },
        },
    },
}


def spec_folder():
    return settings.SHARED_DATA_DIR.parent / "specs" / "open311"


class Schemas:
    def __init__(self, folder):
        self.documents = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
        self.documents.update(LOCAL)
        self.registry = Registry().with_resources(
            (name, Resource.from_contents(doc, default_specification=DRAFT7)) for name, doc in self.documents.items()
        )

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.documents[schema["$ref"]]
        return schema

    def validate(self, name, value):
        validator = Draft7Validator(self.documents[name], registry=self.registry, format_checker=formats)
        problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        assert not problems, [f"{list(e.absolute_path)}: {e.message}" for e in problems]

    def coerce(self, value, schema):
        """Type the text leaves of an XML-converted value as `schema` says (boolean, integer, number)."""
        schema = self.resolve(schema or {})
        if isinstance(value, list):
            return [self.coerce(v, schema.get("items", {})) for v in value]
        if isinstance(value, dict):
            props = schema.get("properties", {})
            return {k: self.coerce(v, props.get(k, {})) for k, v in value.items()}
        types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
        if "boolean" in types:
            return {"true": True, "false": False}.get(value, value)
        for kind, cast in (("integer", int), ("number", float)):
            if kind in types:
                try:
                    return cast(value)
                except ValueError:
                    return value
        return value


@pytest.fixture
def schemas():
    folder = spec_folder()
    if not folder.is_dir():
        if os.environ.get("FENGQIAO_REQUIRE_SHARED_DATA"):
            pytest.fail(f"Open311 schemas folder {folder} is absent but FENGQIAO_REQUIRE_SHARED_DATA is set")
        pytest.skip(f"Open311 schemas folder {folder} is absent")
    return Schemas(folder)


def xml_tree(text):
    assert text.startswith(XML_DECLARATION), text[:80]
    root = ET.fromstring(text.encode("utf-8"))
    for element in root.iter():
        assert not element.tag.startswith("{"), f"namespaced element {element.tag}"
    return root


def spark(element):
    """An XML element as JSON by the Spark convention."""
    if element.tag in LIST_TAGS:
        item = LIST_TAGS[element.tag]
        assert all(child.tag == item for child in element), f"<{element.tag}> holds only <{item}>"
        return [spark(child) for child in element]
    children = list(element)
    if not children:
        return element.text or ""
    keys = [child.tag for child in children]
    assert len(keys) == len(set(keys)), f"repeated elements in <{element.tag}>: {keys}"
    return {child.tag: spark(child) for child in children}


def without_nulls(value):
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


ROOTS = {
    "services.json": "services",
    "requests.json": "service_requests",
    "service-definition.json": "service_definition",
    "discovery.json": "discovery",
    "errors.json": "errors",
    "updates.json": "service_request_updates",
    "token.json": "service_requests",
    "update-posted.json": "service_request_updates",
}


def check_json(response, schemas, name):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(response.content.decode("utf-8"))
    schemas.validate(name, body)
    return body


def check_xml(response, schemas, name):
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = xml_tree(response.content.decode("utf-8"))
    assert root.tag == ROOTS[name], root.tag
    body = schemas.coerce(spark(root), schemas.documents[name])
    schemas.validate(name, body)
    return body


def both(client, schemas, url, name, params=None, status=200, **headers):
    """GET `url` + .json and .xml; both valid and with the same content; returns the JSON body."""
    answer_json = client.get(f"{url}.json", params or {}, **headers)
    answer_xml = client.get(f"{url}.xml", params or {}, **headers)
    assert answer_json.status_code == status, answer_json.content[:500]
    assert answer_xml.status_code == status, answer_xml.content[:500]
    body = check_json(answer_json, schemas, name)
    assert check_xml(answer_xml, schemas, name) == without_nulls(body)
    return body
