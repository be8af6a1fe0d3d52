"""Every tool type agents send, through the real openai and anthropic SDKs on the app (whole and streamed):
Codex's function, namespace, custom (apply_patch) and web_search tools; Claude Code's input_schema tools."""

from __future__ import annotations

import json

import anthropic
import httpx
import httpx2
import openai
import pytest

from tests.fakes import drift
from tests.fakes import web_tools as wt

PATCH = "*** Begin Patch\n*** Update File: a.py\n@@\n-x = '1'\n+x = \"2\\n\"\n*** End Patch\n"
CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "description": "Run a command.",
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
    {"type": "namespace", "name": "mcp__files", "description": "Files.", "tools": [
        {"type": "function", "name": "read_file", "parameters": {
            "type": "object", "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}}}}]},
    {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch.",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
    {"type": "web_search"},
]
CODEX_ANSWER = ("I will patch and read.\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"apply_patch\">\n"
                f"<｜DSML｜parameter name=\"input\" string=\"true\"><![CDATA[{PATCH}]]></｜DSML｜parameter>\n"
                "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"read_file\">\n"
                "<｜DSML｜parameter name=\"path\" string=\"true\">a.py</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"limit\" string=\"false\"><![CDATA[30]]></｜DSML｜parameter>\n"
                "</｜DSML｜invoke>\n</｜DSML｜function_calls>")


@pytest.fixture
def wsgi_http(make_app):
    """An httpx client that calls the app in-process (the SDKs' own transport otherwise)."""
    app = make_app()
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://gateway") as http:
        yield http


def openai_sdk(http, key):
    return openai.OpenAI(base_url="http://gateway/v1", api_key=key, http_client=http, max_retries=0)


def codex_items(output) -> list:
    return [(i.type, i.name, getattr(i, "namespace", None), i.input if i.type == "custom_tool_call"
             else json.loads(i.arguments)) for i in output if i.type in ("function_call", "custom_tool_call")]


EXPECTED = [("custom_tool_call", "apply_patch", None, PATCH),
            ("function_call", "read_file", "mcp__files", {"path": "a.py", "limit": 30})]


def test_codex_tools_on_the_web_chat_come_back_as_the_items_codex_expects(wsgi_http, web):
    # The fake's search answer cites its sources right after the first piece.
    web.account("webtok", text=lambda prompt: wt.split_at(CODEX_ANSWER, 22, 100, 101, 250)(prompt))
    client = openai_sdk(wsgi_http, "webtok")
    whole = client.responses.create(model="deepseek-chat", input="fix a.py", tools=CODEX_TOOLS)
    assert codex_items(whole.output) == EXPECTED
    assert whole.output_text == "I will patch and read. [1] and [2]"
    prompt = web.completions[-1]["prompt"]
    assert "## apply_patch" in prompt and "start: begin_patch hunk+ end_patch" in prompt and "## read_file" in prompt
    assert web.completions[-1]["search"] is True   # web_search is the web chat's own search
    events = list(client.responses.create(model="deepseek-chat", input="fix a.py", tools=CODEX_TOOLS, stream=True))
    done = [e for e in events if e.type == "response.custom_tool_call_input.done"]
    assert [e.input for e in done] == [PATCH]
    assert codex_items(events[-1].response.output) == EXPECTED


def test_custom_and_namespaced_calls_in_the_history_go_up_under_the_names_the_model_knows(wsgi_http, web):
    web.account("webtok", text=lambda prompt: ["Done."])
    history = [{"role": "user", "content": "fix a.py"},
               {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": PATCH},
               {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Success."},
               {"type": "function_call", "call_id": "call_r", "name": "read_file", "namespace": "mcp__files",
                "arguments": '{"path": "a.py"}'},
               {"type": "function_call_output", "call_id": "call_r", "output": "x = 2"}]
    reply = openai_sdk(wsgi_http, "webtok").responses.create(model="deepseek-chat", input=history,
                                                             tools=CODEX_TOOLS[:3])
    assert reply.output_text == "Done." and web.completions[-1]["search"] is False
    prompt = web.completions[-1]["prompt"]
    assert '<invoke name="apply_patch">\n<parameter name="input">' + PATCH in prompt
    assert '<tool_result name="apply_patch" id="call_p">\nSuccess.\n</tool_result>' in prompt
    assert '<tool_result name="read_file" id="call_r">' in prompt


def test_web_search_on_an_api_token_is_dropped_with_a_log_line(wsgi_http, fake, caplog):
    key = fake.script("sk-codex", text=["ok"])
    reply = openai_sdk(wsgi_http, key).responses.create(model="deepseek-chat", input="hi", tools=CODEX_TOOLS)
    assert reply.output_text == "ok"
    sent = fake.requests[-1]["json"]
    assert "web_search_options" not in sent
    assert [t["function"]["name"] for t in sent["tools"]] == ["exec_command", "read_file", "apply_patch"]
    assert "web search is not run" in caplog.text


def test_claude_code_tools_and_web_search_through_the_anthropic_sdk(make_app, web):
    web.account("webtok", text=lambda prompt: wt.split_at(wt.call_answer("dsml"), len(wt.SAID_BEFORE))(prompt))
    http = httpx2.Client(transport=httpx2.WSGITransport(app=make_app()), base_url="http://gateway")
    client = anthropic.Anthropic(base_url="http://gateway", api_key="webtok", http_client=http, max_retries=0)
    tools = [{"name": t["function"]["name"], "description": t["function"]["description"],
              "input_schema": t["function"]["parameters"]} for t in wt.TOOLS]
    tools.append({"type": "web_search_20250305", "name": "web_search", "max_uses": 5})
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=1024, tools=tools,
                                     messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert message.stop_reason == "tool_use" and web.completions[-1]["search"] is True
    assert [(b.name, b.input) for b in message.content if b.type == "tool_use"] == wt.ONE_CALL
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=1024, tools=tools,
                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == wt.ONE_CALL
    http.close()



@pytest.mark.parametrize("name", ["inline_code_mid_sentence", "blockquote_one_line", "json_in_a_sentence"])
def test_a_mentioned_block_reaches_the_openai_sdk_as_text_whole_and_streamed(wsgi_http, web, name):
    text = wt.NOT_CALLS[name]
    web.account("webtok", text=lambda prompt: wt.split_at(text, len(text) // 3, len(text) // 2)(prompt))
    client, ask = openai_sdk(wsgi_http, "webtok"), {"model": "deepseek-chat", "tools": wt.TOOLS,
                                                    "messages": [{"role": "user", "content": "hi"}]}
    choice = client.chat.completions.create(**ask).choices[0]
    assert (choice.message.content, choice.finish_reason, choice.message.tool_calls) == (text, "stop", None)
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)


@pytest.mark.parametrize("case", drift.call_cases()[5::97], ids=lambda c: c.name)
def test_drifted_dsml_reaches_the_openai_sdk_as_calls_streamed(wsgi_http, web, case):
    web.account("webtok", text=lambda prompt: wt.split_at(case.text, len(case.text) // 2)(prompt))
    chunks = list(openai_sdk(wsgi_http, "webtok").chat.completions.create(
        model="deepseek-chat", tools=drift.TOOLS, messages=[{"role": "user", "content": "go"}], stream=True))
    pieces = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    names, arguments = [p.function.name for p in pieces if p.id], {}
    for p in pieces:
        arguments[p.index] = arguments.get(p.index, "") + (p.function.arguments or "")
    assert list(zip(names, [json.loads(arguments[i]) for i in sorted(arguments)])) == case.calls
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == case.before


_CHAT = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
_FUNCTION = [{"type": "function", "function": {"name": "f"}}]
_MALFORMED_TOOLS = [
    ("/v1/chat/completions", {**_CHAT, "tools": _FUNCTION, "tool_choice": {"function": 5}}, "tool_choice"),
    ("/v1/chat/completions", {**_CHAT, "tools": _FUNCTION, "tool_choice": {"type": "function", "function": "f"}},
     "tool_choice"),
    ("/v1/chat/completions", {**_CHAT, "functions": [{"name": "f"}], "function_call": {"name": 5}}, "tool_choice"),
    ("/v1/chat/completions", {**_CHAT, "functions": 5}, "functions"),
    ("/v1/chat/completions", {**_CHAT, "tools": [{"type": 5, "function": {"name": "f"}}]}, "tools[0].type"),
    ("/v1/chat/completions", {**_CHAT, "tools": [{"type": None, "function": {"name": "f"}}]}, "tools[0].type"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": "function", "name": "f"}],
                       "tool_choice": {"type": "function"}}, "tool_choice"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": "function", "name": "f"}],
                       "tool_choice": {"type": "function", "name": 5}}, "tool_choice"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": "function", "name": "f"}],
                       "tool_choice": {"function": 5}}, "tool_choice"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": 5}]}, "tools[0].type"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": None}]}, "tools[0].type"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [
        {"type": "namespace", "name": 5, "tools": [{"type": "function", "name": "f"}]}]}, "tools[0].name"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [
        {"type": "namespace", "tools": [{"type": "function", "name": "f"}]}]}, "tools[0].name"),
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi", "tools": [{"type": "namespace", "name": "a", "tools": [
        {"type": "namespace", "name": "b", "tools": [{"type": "function", "name": "f"}]}]}]}, "tools[0].tools[0].type"),
    ("/v1/chat/completions", {**_CHAT, "stop": ["ok", 5]}, "stop"),
    ("/v1/chat/completions", {**_CHAT, "stop": 5}, "stop"),
    ("/v1/chat/completions", {**_CHAT, "stop": {"x": 1}}, "stop"),
]


@pytest.mark.parametrize("path,body,param", _MALFORMED_TOOLS)
def test_malformed_tools_or_tool_choice_are_a_400_naming_the_field(client, web, path, body, param):
    web.account("webtok", text=["Hello."])
    response = client.post(path, json=body, headers={"Authorization": "Bearer webtok"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["param"] == param


@pytest.mark.parametrize("choice", [{"type": "tool", "name": 5}, {"type": "tool"}, "x", 5])
def test_a_malformed_anthropic_tool_choice_is_a_400_in_its_dialect(client, web, choice):
    web.account("webtok", text=["Hello."])
    response = client.post("/v1/messages", json={
        "model": "claude-sonnet-4", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "f", "input_schema": {}}], "tool_choice": choice}, headers={"Authorization": "Bearer webtok"})
    assert response.status_code == 400 and response.json["error"]["type"] == "invalid_request_error"
    assert "tool_choice" in response.json["error"]["message"]


CLASHING = [{"type": "function", "name": "ns__x", "description": "Read only."},
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "x", "description": "Deletes."}]},
            {"type": "namespace", "name": "ot", "tools": [{"type": "function", "name": "x"}]}]


@pytest.mark.parametrize("model_name,expected", [("ns__x", ("ns__x", None)), ("ns__x_2", ("x", "ns")),
                                                 ("ot__x", ("x", "ot"))])
def test_clashing_namespaced_names_get_unique_model_names_and_each_call_routes_back_to_its_tool(
        wsgi_http, web, model_name, expected):
    answer = f'<tool_calls>\n<invoke name="{model_name}">\n</invoke>\n</tool_calls>'
    web.account("webtok", text=[answer])
    output = openai_sdk(wsgi_http, "webtok").responses.create(model="deepseek-chat", input="go", tools=CLASHING).output
    assert [(i.name, getattr(i, "namespace", None)) for i in output if i.type == "function_call"] == [expected]
    prompt = web.completions[-1]["prompt"]
    assert all(f"## {name}\n" in prompt for name in ("ns__x", "ns__x_2", "ot__x"))


@pytest.mark.parametrize("path,body", [
    ("/v1/responses", {"model": "deepseek-chat", "input": "hi",
                       "tools": [{"type": "function", "name": "x"}, {"type": "function", "name": "x"}]}),
    ("/v1/chat/completions", {**_CHAT, "tools": _FUNCTION * 2})])
def test_two_tools_of_the_same_name_are_a_400(client, web, path, body):
    web.account("webtok", text=["Hello."])
    response = client.post(path, json=body, headers={"Authorization": "Bearer webtok"})
    assert response.status_code == 400 and "tools" in response.json["error"]["param"]
