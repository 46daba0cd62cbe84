"""The OpenLineage RunEvent, as a JSON Schema (draft 2020-12), and the check against it.

Written to the OpenLineage 2-0-x specification's RunEvent: the `openlineage-python` client
generates its classes from that specification but does not ship the JSON file, so the shape is
stated here (required fields, event types, facet envelopes). Facets stay open, as the
specification allows custom facets; the facets Gatehouse reads are checked where they are read.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")

_FACET = {
    "type": "object",
    "properties": {
        "_producer": {"type": "string", "minLength": 1},
        "_schemaURL": {"type": "string", "minLength": 1},
    },
    "required": ["_producer", "_schemaURL"],
    "additionalProperties": True,
}
_FACETS = {"type": "object", "additionalProperties": {"$ref": "#/$defs/Facet"}}
_DATASET_PROPS = {
    "namespace": {"type": "string", "minLength": 1},
    "name": {"type": "string", "minLength": 1},
    "facets": _FACETS,
}

RUN_EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "Facet": _FACET,
        "InputDataset": {
            "type": "object",
            "properties": {**_DATASET_PROPS, "inputFacets": _FACETS},
            "required": ["namespace", "name"],
        },
        "OutputDataset": {
            "type": "object",
            "properties": {**_DATASET_PROPS, "outputFacets": _FACETS},
            "required": ["namespace", "name"],
        },
    },
    "type": "object",
    "properties": {
        "eventType": {"enum": list(EVENT_TYPES)},
        "eventTime": {"type": "string", "minLength": 1},
        "producer": {"type": "string", "minLength": 1},
        "schemaURL": {"type": "string", "minLength": 1},
        "run": {
            "type": "object",
            "properties": {"runId": {"type": "string"}, "facets": _FACETS},
            "required": ["runId"],
        },
        "job": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string", "minLength": 1},
                "name": {"type": "string", "minLength": 1},
                "facets": _FACETS,
            },
            "required": ["namespace", "name"],
        },
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
        "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
    },
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
}


@functools.cache
def _validator():
    """Built on the first event, not at import: jsonschema (with referencing, attrs and rpds, ~5 MB
    a process) is loaded only by the processes that receive OpenLineage events."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(RUN_EVENT_SCHEMA)


def _path(parts) -> str:
    return "/" + "/".join(str(p) for p in parts) if parts else "/"


def problems(event: Any) -> dict[str, list[str]]:
    """Every way `event` departs from the RunEvent schema, keyed by JSON pointer of the
    offending value ("/run/runId"), each with the schema path that refused it."""
    found: dict[str, list[str]] = {}
    for error in sorted(_validator().iter_errors(event), key=lambda e: list(e.absolute_path)):
        schema_path = "/".join(str(p) for p in error.absolute_schema_path)
        found.setdefault(_path(error.absolute_path), []).append(
            f"{error.message} (schema: #/{schema_path})"
        )
    if found or not isinstance(event, dict):
        return found
    # Formats JSON Schema leaves to the reader: the run id is a UUID, the time is RFC 3339.
    try:
        uuid.UUID(str(event["run"]["runId"]))
    except ValueError:
        found["/run/runId"] = [f"{event['run']['runId']!r} is not a UUID (schema: #/properties/run/properties/runId)"]
    if parse_time(event["eventTime"]) is None:
        found["/eventTime"] = [
            f"{event['eventTime']!r} is not an RFC 3339 date-time with a time zone"
            " (schema: #/properties/eventTime)"
        ]
    return found


def parse_time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
