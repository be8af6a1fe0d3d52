"""The tools of a Responses request as the model sees them, and the way back to the items the client expects.

Codex sends `function` tools, `namespace` tools (functions grouped under a name), `custom` (freeform) tools
such as apply_patch, and built-in ones such as `web_search`. The model sees functions only: a namespaced
function keeps its own name (or `namespace__name`, numbered if even that is taken, when another tool has
it: model-facing names are unique, so a call routes back to exactly one tool), a custom tool is a function
of one string parameter `input`; web search becomes the chat call's `web_search_options`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.errors import BadRequest

log = logging.getLogger("freeseek")

_EMPTY = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class OfferedTool:
    """One tool as the client named it: its name, its namespace if any, and whether it is freeform."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass
class ResponsesTools:
    """The request's tools: chat-form functions, what each model-facing name stands for, and web search."""

    functions: list
    offered: dict          # model-facing name -> OfferedTool
    web_search: bool = False

    def model_name(self, name: str, namespace: str | None = None) -> str:
        """The model-facing name of a client's tool (a call echoed back in `input` names it so)."""
        for model_name, tool in self.offered.items():
            if tool.name == name and tool.namespace == (namespace or None):
                return model_name
        return name


def read_tools(tools: list) -> ResponsesTools:
    """Read `tools`: functions, namespaces and custom tools offered as functions; built-ins noted or dropped."""
    found: list[tuple[OfferedTool, dict]] = []
    web_search = False
    for i, tool in enumerate(tools):
        web_search |= _read(tool, f"tools[{i}]", None, found)
    names = _model_names([tool for tool, _ in found])
    functions = [{"type": "function", "function": {**function, "name": name}}
                 for name, (_, function) in zip(names, found)]
    return ResponsesTools(functions, dict(zip(names, (tool for tool, _ in found))), web_search)


def _model_names(tools: list[OfferedTool]) -> list[str]:
    """One model-facing name per tool, unique by construction (a call must route back to exactly one tool):
    top-level tools keep theirs; a namespaced one keeps its own unless another tool has it, then becomes
    `namespace__name`, with a number after it should even that be taken."""
    seen, counts = set(), {}
    for tool in tools:
        if (tool.name, tool.namespace) in seen:
            where = f"namespace '{tool.namespace}'" if tool.namespace else "the request"
            raise BadRequest(f"Invalid 'tools': two tools named '{tool.name}' in {where}.", param="tools")
        seen.add((tool.name, tool.namespace))
        counts[tool.name] = counts.get(tool.name, 0) + 1
    taken = {tool.name for tool in tools if not tool.namespace}
    names = []
    for tool in tools:
        name = tool.name
        if tool.namespace and (counts[name] > 1 or name in taken):
            name = base = f"{tool.namespace}__{tool.name}"
            number = 1
            while name in taken:
                number += 1
                name = f"{base}_{number}"
        if tool.namespace:
            taken.add(name)
        names.append(name)
    return names


def _read(tool, at: str, namespace: str | None, found: list) -> bool:
    """Add one tool (a namespace's inner tools too) to `found`; True for a web search tool."""
    if not isinstance(tool, dict):
        raise BadRequest(f"Invalid '{at}': a tool must be an object.", param=at)
    kind = tool.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadRequest(f"Invalid '{at}.type': a tool needs a 'type'.", param=f"{at}.type")
    if kind == "namespace":
        inner = tool.get("tools")
        if inner is not None and not isinstance(inner, list):
            raise BadRequest(f"Invalid '{at}.tools': must be an array of tools.", param=f"{at}.tools")
        if namespace is not None:
            raise BadRequest(f"Invalid '{at}.type': a namespace cannot hold another namespace.", param=f"{at}.type")
        space = tool.get("name")
        if not isinstance(space, str) or not space:
            raise BadRequest(f"Invalid '{at}.name': a namespace needs a 'name' (a string).", param=f"{at}.name")
        return any([_read(t, f"{at}.tools[{j}]", space, found) for j, t in enumerate(inner or [])])
    if kind in ("function", "custom"):
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise BadRequest(f"Invalid '{at}': a {kind} tool needs a 'name'.", param=at)
        description = tool.get("description") or ""
        if kind == "custom":
            found.append((OfferedTool(tool["name"], namespace, True),
                          {"description": description, "parameters": _freeform(tool.get("format"))}))
            return False
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise BadRequest(f"Invalid '{at}.parameters': must be a JSON Schema object.", param=f"{at}.parameters")
        found.append((OfferedTool(tool["name"], namespace), {"description": description,
                                                             "parameters": parameters or dict(_EMPTY)}))
        return False
    if isinstance(kind, str) and kind.startswith("web_search"):
        return True
    log.info("a built-in tool of type %s is not run by this gateway: dropped", str(kind)[:40])
    return False


def _freeform(fmt) -> dict:
    """A freeform tool's one string parameter, described by its grammar when it has one."""
    description = "The tool's whole input, as free text."
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        description += f" It follows this {fmt.get('syntax') or ''} grammar:\n{fmt['definition']}"
    return {"type": "object", "properties": {"input": {"type": "string", "description": description}},
            "required": ["input"]}
