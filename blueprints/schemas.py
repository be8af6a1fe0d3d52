"""Validation of request bodies: clear messages for wrong input, unknown fields kept for the upstream."""

from __future__ import annotations

import json

from flask import request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from services.errors import BadRequest, UnsupportedMediaType

ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class StrictBoolean(fields.Field):
    """A JSON boolean and nothing else ("yes", 1 and "true" are refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be a boolean (true or false).")
        return value


class StrictNumber(fields.Field):
    """A JSON number (not a string, not a boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Must be a number.")
        return value


class StrictInteger(fields.Field):
    """A positive JSON integer."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError("Must be a positive integer.")
        return value


class MessageContent(fields.Field):
    """A message's content: a string, an array of parts each with a `type`, or null."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in value):
            for part in value:
                if part["type"] == "text" and not isinstance(part.get("text"), str):
                    raise ValidationError("A text part needs a string 'text'.")
            return value
        raise ValidationError("Must be a string, an array of content parts with a 'type', or null.")


class StopSequences(fields.Field):
    """`stop`: a string, an array of strings, or null."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return value
        raise ValidationError("Must be a string, an array of strings, or null.")


class MessageSchema(Schema):
    """One chat message."""

    class Meta:
        unknown = INCLUDE

    role = fields.String(required=True, validate=validate.OneOf(ROLES, error="Must be one of: {choices}."))
    content = MessageContent(allow_none=True)
    name = fields.String()


class StreamOptionsSchema(Schema):
    """`stream_options`."""

    class Meta:
        unknown = INCLUDE

    include_usage = StrictBoolean()


class ChatRequestSchema(Schema):
    """The fields of a chat completion request the gateway checks; everything else goes through as sent."""

    class Meta:
        unknown = INCLUDE

    model = fields.String(validate=validate.Length(min=1, error="Must not be empty."))
    messages = fields.List(fields.Nested(MessageSchema), required=True,
                           validate=validate.Length(min=1, error="Must hold at least one message."))
    stream = StrictBoolean(allow_none=True)
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    temperature = StrictNumber(allow_none=True)
    top_p = StrictNumber(allow_none=True)
    presence_penalty = StrictNumber(allow_none=True)
    frequency_penalty = StrictNumber(allow_none=True)
    max_tokens = StrictInteger(allow_none=True)
    max_completion_tokens = StrictInteger(allow_none=True)
    tools = fields.List(fields.Dict(), allow_none=True)
    stop = StopSequences(allow_none=True)
    conversation_id = fields.String(allow_none=True)


class TokenCheckSchema(Schema):
    """`POST /token/check` body."""

    token = fields.String(required=True, validate=validate.Length(min=1, error="Must not be empty."))


def first_problem(messages, prefix: str = "") -> tuple[str, str]:
    """Flatten marshmallow's nested messages into (param path, message) of the first problem."""
    if isinstance(messages, dict):
        key = next(iter(messages))
        path = f"{prefix}.{key}" if prefix else str(key)
        if key == "_schema":
            path = prefix
        return first_problem(messages[key], path)
    if isinstance(messages, list) and messages:
        return first_problem(messages[0], prefix)
    return prefix, str(messages)


class _NotJSONConstant(ValueError):
    """NaN or Infinity: Python reads them, JSON (and every upstream) does not."""


def _refuse_constant(name: str):
    """Refuse the constant `json.loads` met."""
    raise _NotJSONConstant(name)


def parse_json(data: bytes):
    """Parse a request body as strict JSON, or raise a 400 that says what is wrong with it."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except _NotJSONConstant as exc:
        raise BadRequest(f"The request body contains {exc}, which is not valid JSON; send numbers only.",
                         code="invalid_json") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.", code="invalid_json") from None
    except ValueError:  # also UnicodeDecodeError
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None


def load_body(schema: Schema) -> dict:
    """Parse the request's JSON object and validate it; return the body as the client sent it."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    # Not cached: the request object would hold a second copy of the prompt for as long as the answer streams.
    body = parse_json(request.get_data(cache=False))
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        schema.load(body)
    except ValidationError as exc:
        param, message = first_problem(exc.messages)
        raise BadRequest(f"Invalid '{param}': {message}", param=param) from None
    return body
