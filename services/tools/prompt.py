"""The tool block that opens an emulated prompt: the tools, the one output format, and the rules."""

from __future__ import annotations

import json

from services.tools.request import ToolRequest

FORMAT = """<tool_calls>
<invoke name="TOOL_NAME">
<parameter name="PARAMETER_NAME">VALUE</parameter>
</invoke>
</tool_calls>"""

EXAMPLE = """For example, to call a tool get_weather with {"city": "Paris", "days": 3}, an answer ends with:
<tool_calls>
<invoke name="get_weather">
<parameter name="city">Paris</parameter>
<parameter name="days">3</parameter>
</invoke>
</tool_calls>"""


def tool_block(request: ToolRequest) -> str:
    """The block for a request that may call tools; stable text (no dates, no ids), so that history
    fingerprints of automatic continuation stay the same from one round to the next."""
    lines = ["# Tools", "", "You can call the following tools. Each is listed with its name, what it does, and "
             "the JSON Schema of its parameters.", ""]
    for name, tool in request.tools.items():
        lines.append(f"## {name}")
        if tool["description"]:
            lines.append(tool["description"].strip())
        schema = json.dumps(tool["parameters"] or {"type": "object", "properties": {}}, ensure_ascii=False,
                            separators=(",", ":"), sort_keys=True)
        lines += [f"Parameters: {schema}", ""]
    lines += ["To call tools, end your answer with one block in exactly this format:", "", FORMAT, "", EXAMPLE, "",
              "Rules:",
              "- Call only the tools listed above, by their exact names.",
              "- The parameters of a call together form a JSON object that matches the tool's schema: write "
              "numbers, true/false, arrays and objects as JSON, and strings as plain text without quotes.",
              "- Write the block as plain text, not inside a code block, and write nothing after </tool_calls>: "
              "stop there. The results come back in <tool_result> blocks in the next message.",
              "- Never write a <tool_result> yourself, and never use this format just to show it."]
    if request.parallel:
        lines.append("- To call several tools at once, put one <invoke> per call in the same block.")
    else:
        lines.append("- Call at most one tool per answer.")
    if request.choice == "required":
        lines.append("- In this answer you must call at least one of the tools.")
    elif request.choice == "named":
        lines.append(f"- In this answer you must call the tool {request.named}.")
    else:
        lines.append("- When no tool is needed, answer normally, without the block.")
    return "\n".join(lines)
