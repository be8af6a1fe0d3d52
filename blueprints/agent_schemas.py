"""Validation of the agent dialects' bodies (Anthropic Messages, OpenAI Responses); unknown fields accepted."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from blueprints.schemas import StrictBoolean, StrictInteger, StrictNumber


class StringOrList(fields.Field):
    """A string, or an array of objects each with a `type` (content blocks, input items)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
        raise ValidationError("Must be a string or an array of objects.")


class AnthropicMessageSchema(Schema):
    """One Messages turn (a `system` turn is Claude Code's beta: folded into the system prompt)."""

    class Meta:
        unknown = INCLUDE

    role = fields.String(required=True, validate=validate.OneOf(("user", "assistant", "system"),
                                                                 error="Must be one of: {choices}."))
    content = StringOrList(required=True)


class CountTokensSchema(Schema):
    """`POST /v1/messages/count_tokens`: a Messages body without `max_tokens`."""

    class Meta:
        unknown = INCLUDE

    model = fields.String(required=True, validate=validate.Length(min=1, error="Must not be empty."))
    messages = fields.List(fields.Nested(AnthropicMessageSchema), required=True,
                           validate=validate.Length(min=1, error="Must hold at least one message."))
    system = StringOrList(allow_none=True)
    tools = fields.List(fields.Dict(), allow_none=True)
    tool_choice = fields.Dict(allow_none=True)
    thinking = fields.Dict(allow_none=True)


class AnthropicMessagesSchema(CountTokensSchema):
    """`POST /v1/messages`."""

    max_tokens = StrictInteger(required=True)
    stream = StrictBoolean(allow_none=True)
    temperature = StrictNumber(allow_none=True)
    top_p = StrictNumber(allow_none=True)
    stop_sequences = fields.List(fields.String(), allow_none=True)


class StringOrObject(fields.Field):
    """A string or a JSON object (a `tool_choice`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (str, dict)):
            return value
        raise ValidationError("Must be a string or an object.")


class ReasoningSchema(Schema):
    """Responses `reasoning`: its effort and summary are words; we echo the effort back."""

    class Meta:
        unknown = INCLUDE

    effort = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)


class TextFormatSchema(Schema):
    """Responses `text.format`: an object with a `type` (text, json_object, json_schema)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(allow_none=True)


class TextSchema(Schema):
    """Responses `text`: the output format and verbosity."""

    class Meta:
        unknown = INCLUDE

    format = fields.Nested(TextFormatSchema, allow_none=True)


class ResponsesSchema(Schema):
    """`POST /v1/responses`."""

    class Meta:
        unknown = INCLUDE

    model = fields.String(required=True, validate=validate.Length(min=1, error="Must not be empty."))
    input = StringOrList()
    instructions = fields.String(allow_none=True)
    tools = fields.List(fields.Dict(), allow_none=True)
    stream = StrictBoolean(allow_none=True)
    store = StrictBoolean(allow_none=True)
    parallel_tool_calls = StrictBoolean(allow_none=True)
    max_output_tokens = StrictInteger(allow_none=True)
    temperature = StrictNumber(allow_none=True)
    top_p = StrictNumber(allow_none=True)
    previous_response_id = fields.String(allow_none=True)
    tool_choice = StringOrObject(allow_none=True)
    reasoning = fields.Nested(ReasoningSchema, allow_none=True)
    text = fields.Nested(TextSchema, allow_none=True)
    metadata = fields.Dict(allow_none=True)
    include = fields.List(fields.String(), allow_none=True)
