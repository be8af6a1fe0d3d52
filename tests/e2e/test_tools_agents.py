"""Tools end to end under gunicorn + gevent: the openai SDKs (Python, Node), LangChain and a LangGraph agent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import openai
import pytest

from tests.fakes import web_tools as wt

TASK = [{"role": "user", "content": "What is the weather in Paris, in Fahrenheit?"}]
NODE_DIR = Path(__file__).with_name("node")


def sdk(gateway, key):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=60)


def run_tool(name: str, arguments: dict) -> str:
    """The two tools of the task: Paris is at 21 °C."""
    return "21" if name == "get_weather" else str(arguments["celsius"] * 9 / 5 + 32)


def test_web_token_stream_and_non_stream_give_openai_shaped_calls(gateway, web):
    web.account("e2e-tools-1", text=lambda prompt: wt.split_at(wt.call_answer("dsml", wt.TWO_CALLS), 40, 41)(prompt))
    client = sdk(gateway, "e2e-tools-1")
    whole = client.chat.completions.create(model="deepseek-chat", messages=TASK, tools=wt.TOOLS)
    choice = whole.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == wt.SAID_BEFORE
    assert [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == wt.TWO_CALLS
    chunks = list(client.chat.completions.create(model="deepseek-chat", messages=TASK, tools=wt.TOOLS, stream=True))
    pieces = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert [(p.index, p.function.name) for p in pieces if p.id] == [(0, "get_weather"), (1, "to_fahrenheit")]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == wt.SAID_BEFORE


def test_api_token_passes_tools_through(gateway, fake):
    fake.script("sk-e2e-tools", text=[], tool_calls=[
        {"id": "call_n", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}], finish="stop")
    reply = sdk(gateway, "sk-e2e-tools").chat.completions.create(model="deepseek-chat", messages=TASK,
                                                                 tools=wt.TOOLS)
    assert reply.choices[0].finish_reason == "tool_calls"
    assert reply.choices[0].message.tool_calls[0].function.arguments == '{"city": "Paris"}'
    assert fake.requests[-1]["json"]["tools"] == wt.TOOLS


def test_an_openai_sdk_agent_loop_completes_the_two_tool_task_on_one_web_session(gateway, web):
    web.account("e2e-tools-loop", text=wt.weather_agent)
    client, messages = sdk(gateway, "e2e-tools-loop"), list(TASK)
    for _ in range(4):
        message = client.chat.completions.create(model="deepseek-chat", messages=messages, tools=wt.TOOLS).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            break
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": run_tool(call.function.name, json.loads(call.function.arguments))})
    assert message.content == "It is 69.8 °F in Paris."
    rounds = [c for c in web.completions if c["token"] == "e2e-tools-loop"]
    assert len(rounds) == 3 and len({c["session"] for c in rounds}) == 1   # continued, never re-flattened


@pytest.fixture
def langchain_model(gateway):
    """ChatOpenAI on the gateway, with its own HTTP client, closed after the test (LangChain's default one is
    cached for the process and would hold a connection that delays gunicorn's shutdown)."""
    chat_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is not installed").ChatOpenAI
    http = openai.DefaultHttpxClient()
    yield lambda key: chat_openai(base_url=gateway.url + "/v1", api_key=key, model="deepseek-chat", max_retries=0,
                                  http_client=http)
    http.close()


def test_langchain_bind_tools_returns_tool_calls(langchain_model, web):
    web.account("e2e-tools-lc", text=wt.weather_agent)
    model = langchain_model("e2e-tools-lc")
    reply = model.bind_tools(wt.TOOLS).invoke("What is the weather in Paris, in Fahrenheit?")
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert reply.tool_calls[0]["id"].startswith("call_")


# create_react_agent moved to langchain.agents (a package we do not install): its warning is expected.
@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
def test_a_langgraph_react_agent_completes_the_two_tool_task(langchain_model, web):
    prebuilt = pytest.importorskip("langgraph.prebuilt", reason="langgraph is not installed")
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather of a city, in degrees Celsius."""
        return run_tool("get_weather", {"city": city})

    @tool
    def to_fahrenheit(celsius: float) -> str:
        """Convert degrees Celsius to Fahrenheit."""
        return run_tool("to_fahrenheit", {"celsius": celsius})

    web.account("e2e-tools-graph", text=wt.weather_agent)
    agent = prebuilt.create_react_agent(langchain_model("e2e-tools-graph"), [get_weather, to_fahrenheit])
    result = agent.invoke({"messages": [("user", "What is the weather in Paris, in Fahrenheit?")]})
    assert result["messages"][-1].content == "It is 69.8 °F in Paris."
    called = [c["name"] for m in result["messages"] for c in getattr(m, "tool_calls", None) or []]
    assert called == ["get_weather", "to_fahrenheit"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(not (NODE_DIR / "node_modules" / "openai").exists(),
                    reason="the openai npm package is not installed (npm ci --prefix tests/e2e/node)")
def test_the_node_openai_sdk_streams_the_two_tool_task(gateway, web):
    web.account("e2e-tools-node", text=wt.weather_agent)
    env = {**os.environ, "GATEWAY_URL": gateway.url + "/v1", "GATEWAY_KEY": "e2e-tools-node",
           "TOOLS": json.dumps(wt.TOOLS)}
    done = subprocess.run(["node", str(NODE_DIR / "tools.mjs")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "It is 69.8 °F in Paris."
    assert result["rounds"] == [{"finish": "tool_calls", "calls": ["get_weather"]},
                                {"finish": "tool_calls", "calls": ["to_fahrenheit"]},
                                {"finish": "stop", "calls": []}]
