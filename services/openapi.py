"""The OpenAPI 3.1 description of the gateway's routes, served at `/openapi.json`."""

from __future__ import annotations

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "param", "code"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}

_CONTENT_PART = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"},
                                                                        "text": {"type": "string"}}}

_MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"type": "string", "enum": ROLES},
    "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": _CONTENT_PART}, {"type": "null"}]},
    "name": {"type": "string"}}}

_NUMBER = {"type": ["number", "null"]}
_POSITIVE = {"type": ["integer", "null"], "minimum": 1}

_CHAT_REQUEST = {"type": "object", "required": ["messages"], "properties": {
    "model": {"type": "string", "minLength": 1, "examples": ["deepseek-chat", "deepseek-r1", "deepseek-search"]},
    "messages": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Message"}},
    "stream": {"type": ["boolean", "null"]},
    "stream_options": {"type": ["object", "null"], "properties": {"include_usage": {"type": "boolean"}}},
    "temperature": _NUMBER, "top_p": _NUMBER, "presence_penalty": _NUMBER, "frequency_penalty": _NUMBER,
    "max_tokens": _POSITIVE, "max_completion_tokens": _POSITIVE,
    "tools": {"type": ["array", "null"], "items": {"type": "object"}},
    "conversation_id": {"type": ["string", "null"],
                        "description": "`<session>@<message_id>` from an earlier answer's id (deepseek-web)"}},
    "additionalProperties": True}


def _errors(*statuses: int) -> dict:
    return {str(status): {"description": "An error in OpenAI's shape",
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for status in statuses}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _chat_operation(operation_id: str) -> dict:
    return {"operationId": operation_id, "summary": "OpenAI Chat Completions, streamed (SSE) or whole",
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
            "responses": {"200": {"description": "A chat.completion, or chat.completion.chunk events",
                                  "content": {"application/json": {"schema": {"type": "object"}},
                                              "text/event-stream": {"schema": {"type": "string"}}}},
                          **_errors(400, 401, 402, 403, 404, 413, 415, 422, 429, 502, 503, 504)}}


def _models_operation(operation_id: str) -> dict:
    return {"operationId": operation_id, "summary": "Every model name the gateway answers to",
            "responses": {"200": _json("A list of models")}}


def describe() -> dict:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "freeseek", "version": "1",
                 "description": "One OpenAI-compatible endpoint for DeepSeek models. The Bearer token is a "
                                "comma-separated list of `[provider:]secret` tokens. Every /v1/X route also "
                                "answers at /X and /v1/v1/X, so a base URL works with or without /v1. Anthropic "
                                "Messages (/v1/messages, /v1/messages/count_tokens) and OpenAI Responses "
                                "(/v1/responses) are served too, in those vendors' own shapes."},
        "paths": {
            "/v1/chat/completions": {"post": _chat_operation("createChatCompletion")},
            "/chat/completions": {"post": _chat_operation("createChatCompletionLegacy")},
            "/v1/models": {"get": _models_operation("listModels")},
            "/models": {"get": _models_operation("listModelsLegacy")},
            "/token/check": {"post": {
                "operationId": "checkToken", "summary": "Ask a token's own upstream whether it is live",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["token"],
                    "properties": {"token": {"type": "string", "minLength": 1}}}}}},
                "responses": {"200": _json("Whether the token is live", {
                    "type": "object", "required": ["live", "provider"],
                    "properties": {"live": {"type": "boolean"}, "provider": {"type": "string"},
                                   "detail": {"type": "string"}}}),
                    **_errors(400, 415, 502, 503, 504)}}},
            "/ping": {"get": {"operationId": "ping", "summary": "The original's health check",
                              "responses": {"200": {"description": "pong",
                                                    "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness for platforms",
                                 "responses": {"200": _json("Status and providers")}}},
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                      "responses": {"200": _json("OpenAPI 3.1")}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "Message": _MESSAGE, "ChatRequest": _CHAT_REQUEST},
        },
    }
