"""What a request asks of tools: the offered functions, `tool_choice`, `parallel_tool_calls`, legacy forms."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from services.errors import BadRequest

_ID_ALPHABET = string.ascii_letters + string.digits
LEGACY_FIELDS = ("functions", "function_call")


def new_call_id() -> str:
    """A fresh call id as OpenAI shapes them: `call_` and 24 random alphanumerics."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


@dataclass(frozen=True)
class ToolRequest:
    """The tools a request offers and how it wants them used."""

    tools: dict = field(default_factory=dict)     # name -> {"description", "parameters"}
    choice: str = "auto"                          # "auto", "none", "required" or "named"
    named: str | None = None                      # the function a named choice forces
    parallel: bool = True

    @classmethod
    def from_body(cls, body: dict) -> "ToolRequest":
        """Read and check `tools`, `tool_choice` and `parallel_tool_calls` (legacy fields already modernised)."""
        tools = {}
        raw = body.get("tools")
        if raw is not None and not isinstance(raw, list):
            raise BadRequest("Invalid 'tools': must be an array.", param="tools")
        for i, tool in enumerate(raw or []):
            if isinstance(tool, dict) and tool.get("type", "function") != "function":
                raise BadRequest(f"Invalid 'tools[{i}].type': must be \"function\".", param=f"tools[{i}].type")
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
                raise BadRequest(f"Invalid 'tools[{i}]': expected {{\"type\": \"function\", \"function\": "
                                 "{\"name\": ...}}.", param=f"tools[{i}]")
            parameters = function.get("parameters")
            if parameters is not None and not isinstance(parameters, dict):
                raise BadRequest(f"Invalid 'tools[{i}].function.parameters': must be a JSON Schema object.",
                                 param=f"tools[{i}].function.parameters")
            if function["name"] in tools:
                raise BadRequest(f"Invalid 'tools[{i}]': a second function named '{function['name']}'.",
                                 param=f"tools[{i}]")
            tools[function["name"]] = {"description": function.get("description") or "",
                                       "parameters": parameters or {}}
        choice, named = _choice(body.get("tool_choice"), tools)
        parallel = body.get("parallel_tool_calls")
        return cls(tools, choice if tools else "none", named, parallel is not False)

    @property
    def active(self) -> bool:
        """Tell whether the model may call tools in this answer."""
        return bool(self.tools) and self.choice != "none"

    @property
    def callable_names(self) -> set[str]:
        """The names a parsed call may carry: the forced one under a named choice, else every offered one."""
        return {self.named} if self.choice == "named" else set(self.tools)


def _choice(value, tools: dict) -> tuple[str, str | None]:
    if value is None:
        return "auto", None
    if value in ("auto", "none", "required"):
        return value, None
    function = value.get("function") if isinstance(value, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise BadRequest("Invalid 'tool_choice': use \"auto\", \"none\", \"required\" or "
                         "{\"type\": \"function\", \"function\": {\"name\": ...}}.", param="tool_choice")
    if name not in tools:
        raise BadRequest(f"Invalid 'tool_choice': function '{name}' is not among the tools.", param="tool_choice")
    return "named", name


def is_legacy(body: dict) -> bool:
    """Tell whether a request speaks the legacy `functions` dialect (its reply then uses `function_call`)."""
    return "functions" in body and "tools" not in body


def modernise(body: dict) -> dict:
    """Rewrite legacy `functions`/`function_call` and role `function` as tools, so one path serves both."""
    messages = body.get("messages") or []
    if not any(key in body for key in LEGACY_FIELDS) and not any(
            isinstance(m, dict) and (m.get("role") == "function" or m.get("function_call")) for m in messages):
        return body
    if "functions" in body and not isinstance(body["functions"], list):
        raise BadRequest("Invalid 'functions': must be an array of functions.", param="functions")
    modern = {k: v for k, v in body.items() if k not in LEGACY_FIELDS}
    if "tools" not in modern and isinstance(body.get("functions"), list):
        modern["tools"] = [{"type": "function", "function": f} for f in body["functions"]]
    choice = body.get("function_call")
    if "tool_choice" not in modern and choice is not None:
        modern["tool_choice"] = ({"type": "function", "function": {"name": choice.get("name")}}
                                 if isinstance(choice, dict) else choice)
    modern["messages"], open_calls = [], {}
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("function_call"), dict):
            call = message["function_call"]
            call_id = open_calls[call.get("name")] = new_call_id()
            message = {k: v for k, v in message.items() if k != "function_call"}
            message["tool_calls"] = [{"id": call_id, "type": "function",
                                      "function": {"name": call.get("name"), "arguments": call.get("arguments")}}]
        elif isinstance(message, dict) and message.get("role") == "function":
            # A function result answers the latest call of that name.
            message = {"role": "tool", "tool_call_id": open_calls.pop(message.get("name"), None) or new_call_id(),
                       "name": message.get("name"), "content": message.get("content")}
        modern["messages"].append(message)
    return modern
