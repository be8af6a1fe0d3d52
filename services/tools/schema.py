"""Coerce a parsed call's arguments to the types its tool's JSON Schema declares."""

from __future__ import annotations

import ast
import json
import re

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_NOTHING = object()   # "cannot be this type", distinct from a JSON null


class ArgumentsError(ValueError):
    """The arguments cannot be repaired into what the schema declares; the message says why."""


def coerce_arguments(values: dict, schema: dict) -> dict:
    """Return the arguments with each value of the declared type; raw markup values are strings."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    out = {}
    for name, value in values.items():
        try:
            out[name] = coerce(value, properties.get(name) or {}, raw=isinstance(value, RawText))
        except ArgumentsError as exc:
            raise ArgumentsError(f"parameter '{name}': {exc}") from None
    return out


class RawText(str):
    """A parameter value as the markup wrote it: JSON when it parses as JSON, else a string."""


class Verbatim(RawText):
    """A value the markup wrapped in CDATA: for a string parameter, its text exactly as written."""


def coerce(value, schema: dict, raw: bool = False):
    """Coerce one value (raw markup text, or an already parsed JSON value) to the schema's type."""
    types = _types(schema)
    if raw:
        if types == ["string"]:
            return str(value) if isinstance(value, Verbatim) else _unquoted(str(value))
        parsed = _json(str(value), types)
        if parsed is _NOTHING:
            if not types or "string" in types:
                return str(value)
            raise ArgumentsError(f"expected {' or '.join(types)}, got text that is not JSON")
        value = parsed
    if not types:
        return value
    for kind in types:
        converted = _as(kind, value, schema)
        if converted is not _NOTHING:
            return converted
    # The log line names types only: arguments are the user's data, like prompts.
    raise ArgumentsError(f"expected {' or '.join(types)}, got {_json_type(value)}")



def _types(schema: dict) -> list[str]:
    """The JSON types a schema allows, in order (a `type` list, or the branches of anyOf/oneOf)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    kinds = [k for branch in branches if isinstance(branch, dict) for k in _types(branch)]
    if "enum" in schema and not kinds:
        kinds = [_json_type(v) for v in schema["enum"]]
    return list(dict.fromkeys(kinds))


def _json_type(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), "string")


def _as(kind: str, value, schema: dict):
    """The value as a JSON value of `kind`, or _NOTHING when it cannot be one."""
    if kind == "string":
        if isinstance(value, str):
            return value
        # A number or boolean where text is declared: its JSON spelling is what the model meant.
        return json.dumps(value) if isinstance(value, (int, float, bool)) else _NOTHING
    if kind == "integer":
        if isinstance(value, bool):
            return _NOTHING
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            parsed = _json(value, ["integer"])
            return _as("integer", parsed, schema) if parsed is not _NOTHING and not isinstance(parsed, str) else _NOTHING
        return value if isinstance(value, int) else _NOTHING
    if kind == "number":
        if isinstance(value, str):
            parsed = _json(value, ["number"])
            return parsed if isinstance(parsed, (int, float)) and not isinstance(parsed, bool) else _NOTHING
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else _NOTHING
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value if isinstance(value, bool) else _NOTHING
    if kind == "null":
        return None if value is None or (isinstance(value, str) and value.strip() == "null") else _NOTHING
    if kind == "array":
        if isinstance(value, str):
            value = _json(value, ["array"])
        if not isinstance(value, list):
            return _NOTHING
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [coerce(item, items) for item in value]
    if kind == "object":
        if isinstance(value, str):
            value = _json(value, ["object"])
        if not isinstance(value, dict):
            return _NOTHING
        return coerce_arguments(value, schema) if isinstance(schema.get("properties"), dict) else value
    return value  # a type this coercion does not know: leave the value as the model wrote it


def _json(text: str, types: list[str]):
    """Parse JSON, repairing what models commonly get wrong in arrays and objects; _NOTHING if it fails."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    if not text or text[0] not in "[{" or not ({"array", "object"} & set(types) or not types):
        return _NOTHING
    repaired = _TRAILING_COMMA.sub(r"\1", text)
    try:
        return json.loads(repaired)
    except ValueError:
        pass
    try:  # Python literals: single quotes, True/False/None
        value = ast.literal_eval(repaired)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _NOTHING
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return _NOTHING


def _unquoted(text: str) -> str:
    """A string parameter as written, unless the model wrapped it in JSON quotes."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(value, str):
            return value
    return text
