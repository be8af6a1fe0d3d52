"""Tool calling emulated on the web chat, through the app, against the fake web chat on loopback."""

from __future__ import annotations

import json
import logging

import pytest

from tests.fakes import web_tools as wt
from tests.unit.test_chat_app import sse_events
from tests.unit.test_native_tools import assembled
from tests.unit.test_web_app import chat

ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def tool_answer(text: str):
    """A fake model that writes `text` when its prompt offers tools, and says so when it does not."""
    return lambda prompt: [text] if wt.has_tool_block(prompt) else ["no tools offered"]


def calls_of(message: dict) -> list:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]


@pytest.mark.parametrize("variant", list(wt.VARIANTS))
def test_each_variant_from_the_web_chat_split_at_every_position_streams_as_tool_calls(client, web, variant):
    text = wt.call_answer(variant, wt.TWO_CALLS)
    for cut in range(1, len(text), 3 if variant != "tool_calls" else 1):
        web.account("webtok", text=lambda prompt, cut=cut: wt.split_at(text, cut)(prompt)
                    if wt.has_tool_block(prompt) else ["no tools offered"])
        calls, content, finish = assembled(chat(client, messages=ASK, stream=True, tools=wt.TOOLS))
        assert (content, finish) == (wt.said_before(variant), "tool_calls"), cut
        assert [(c["name"], json.loads(c["arguments"])) for c in calls] == wt.TWO_CALLS, cut
        assert all(c["id"].startswith("call_") and len(c["id"]) == 29 for c in calls)


def test_non_stream_gives_message_tool_calls_with_json_string_arguments(client, web):
    web.account("webtok", text=tool_answer(wt.tag_block(wt.ONE_CALL)))
    choice = chat(client, messages=ASK, tools=wt.TOOLS).json["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and isinstance(call["function"]["arguments"], str)
    assert calls_of(choice["message"]) == wt.ONE_CALL


def test_the_prompt_lists_the_tools_and_the_format_and_is_stable(client, web):
    web.account("webtok", text=tool_answer("ok"))
    chat(client, messages=ASK, tools=wt.TOOLS)
    chat(client, messages=ASK, tools=wt.TOOLS)
    first, second = (c["prompt"] for c in web.completions)
    assert first == second and first.startswith("# Tools")
    assert "## get_weather" in first and '"celsius":{"type":"number"}' in first and "<tool_calls>" in first
    assert first.endswith("<｜User｜>What is the weather in Paris?")


@pytest.mark.parametrize("choice, says", [
    ("required", "you must call at least one of the tools"),
    ({"type": "function", "function": {"name": "to_fahrenheit"}}, "you must call the tool to_fahrenheit"),
])
def test_required_and_named_choices_are_stated_in_the_prompt(client, web, choice, says):
    chat(client, messages=ASK, tools=wt.TOOLS, tool_choice=choice)
    assert says in web.completions[-1]["prompt"]


def test_tool_choice_none_sends_no_tool_block_and_parses_nothing(client, web):
    markup = wt.tag_block(wt.ONE_CALL)
    web.account("webtok", text=[markup])
    message = chat(client, messages=ASK, tools=wt.TOOLS, tool_choice="none").json["choices"][0]["message"]
    assert "# Tools" not in web.completions[-1]["prompt"]
    assert message["content"] == markup and "tool_calls" not in message


def test_parallel_tool_calls_false_is_stated_and_keeps_the_first_call(client, web):
    web.account("webtok", text=tool_answer(wt.tag_block(wt.TWO_CALLS)))
    message = chat(client, messages=ASK, tools=wt.TOOLS, parallel_tool_calls=False).json["choices"][0]["message"]
    assert "Call at most one tool per answer." in web.completions[-1]["prompt"]
    assert calls_of(message) == wt.TWO_CALLS[:1]


def test_markup_in_a_user_requested_code_block_is_text(client, web):
    text = wt.NOT_CALLS["code_fence_with_other_code"]
    web.account("webtok", text=tool_answer(text))
    for stream in (False, True):
        response = chat(client, messages=ASK, tools=wt.TOOLS, stream=stream)
        content = assembled(response)[1] if stream else response.json["choices"][0]["message"]["content"]
        assert content == text


def test_reasoning_is_never_parsed_for_calls(client, web):
    web.account("webtok", thinking=["I could write ", wt.tag_block(wt.ONE_CALL)], text=tool_answer("Sunny."))
    message = chat(client, model="deepseek-r1", messages=ASK, tools=wt.TOOLS).json["choices"][0]["message"]
    assert message["reasoning_content"] == "I could write " + wt.tag_block(wt.ONE_CALL)
    assert message["content"] == "Sunny." and "tool_calls" not in message


def test_a_reasoning_model_calls_tools_from_its_answer(client, web):
    web.account("webtok", text=tool_answer(wt.call_answer("dsml")))
    calls, content, finish = assembled(chat(client, model="deepseek-r1", messages=ASK, tools=wt.TOOLS, stream=True))
    assert (content, finish) == (wt.SAID_BEFORE, "tool_calls") and calls[0]["name"] == "get_weather"


def test_unusable_arguments_answer_as_text_and_the_log_says_why(client, web, caplog):
    text = wt.NOT_CALLS["bad_argument_type"]
    web.account("webtok", text=tool_answer(text))
    with caplog.at_level(logging.INFO, logger="freeseek"):
        choice = chat(client, messages=ASK, tools=wt.TOOLS).json["choices"][0]
    assert choice["message"]["content"] == text and choice["finish_reason"] == "stop"
    assert "tool-call markup answered as text: parameter 'days'" in caplog.text


def test_history_goes_up_as_markup_and_tool_result_blocks(client, web):
    history = ASK + [
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_x1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_x1", "content": "21 C"},
        {"role": "user", "content": [{"type": "text", "text": "And in Fahrenheit?"}]}]
    chat(client, messages=history, tools=wt.TOOLS)
    prompt = web.completions[-1]["prompt"]
    assert ('<｜Assistant｜>Checking.\n\n<tool_calls>\n<invoke name="get_weather">\n<parameter name="city">Paris'
            '</parameter>\n</invoke>\n</tool_calls><｜end▁of▁sentence｜>') in prompt
    assert prompt.endswith('<｜User｜><tool_result name="get_weather" id="call_x1">\n21 C\n</tool_result>\n'
                           'And in Fahrenheit?')


def test_tool_rounds_continue_the_same_session_sending_only_the_results(client, web):
    web.account("webtok", text=wt.weather_agent)
    messages = list(ASK)
    for _ in range(3):
        message = chat(client, messages=messages, tools=wt.TOOLS).json["choices"][0]["message"]
        messages.append({"role": "assistant", "content": message["content"], "tool_calls": message.get("tool_calls")})
        for call in message.get("tool_calls") or []:
            arguments = json.loads(call["function"]["arguments"])
            result = "21" if call["function"]["name"] == "get_weather" else str(arguments["celsius"] * 9 / 5 + 32)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    assert message["content"] == "It is 69.8 °F in Paris."
    first, second, third = web.completions
    assert second["session"] == third["session"] == first["session"]
    assert (second["parent"], third["parent"]) == (first["message_id"], second["message_id"])
    assert second["prompt"].startswith('<tool_result name="get_weather"') and "# Tools" not in second["prompt"]


def test_conversation_id_sends_the_tool_block_only_to_a_session_that_has_not_seen_it(client, web):
    first = chat(client, messages=ASK).json
    chat(client, messages=[{"role": "user", "content": "now with tools"}], tools=wt.TOOLS,
         conversation_id=first["id"])
    assert web.completions[-1]["prompt"].startswith("# Tools") and web.completions[-1]["prompt"].endswith(
        "now with tools")
    again = f"{web.completions[-1]['session']}@{web.completions[-1]['message_id']}"
    chat(client, messages=[{"role": "user", "content": "again"}], tools=wt.TOOLS, conversation_id=again)
    assert web.completions[-1]["prompt"] == "again"


def test_legacy_functions_work_on_the_web_chat(client, web):
    web.account("webtok", text=tool_answer(wt.tag_block(wt.ONE_CALL)))
    history = ASK + [{"role": "assistant", "content": None,
                      "function_call": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
                     {"role": "function", "name": "get_weather", "content": "18 C"}]
    choice = chat(client, messages=history, functions=[wt.WEATHER["function"]]).json["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert json.loads(choice["message"]["function_call"]["arguments"]) == wt.ONE_CALL[0][1]
    assert '<tool_result name="get_weather" id="call_' in web.completions[-1]["prompt"]


def test_a_slowly_arriving_block_keeps_deadlines_and_keep_alives_going(make_app, web):
    client = make_app(FREESEEK_IDLE_TIMEOUT="2", FREESEEK_FIRST_HEARTBEAT_SECONDS="0.5",
                      FREESEEK_HEARTBEAT_SECONDS="0.5").test_client()
    block = wt.tag_block(wt.ONE_CALL)
    pieces = ["Checking.\n"] + [block[i:i + 10] for i in range(0, len(block), 10)]
    web.account("webtok", text=lambda prompt: pieces, pace=0.2)   # the block takes about 2.5 s, idle limit 2 s
    response = chat(client, messages=ASK, tools=wt.TOOLS, stream=True)
    events = sse_events(response)
    first_call = next(i for i, e in enumerate(events) if isinstance(e, dict) and e.get("choices")
                      and e["choices"][0]["delta"].get("tool_calls"))
    assert ":" in events[:first_call]   # keep-alive comments while the block was held
    calls, content, finish = assembled(response)
    assert (content, finish, calls[0]["name"]) == ("Checking.", "tool_calls", "get_weather")


@pytest.mark.parametrize("name", ["inline_code_mid_sentence", "quoted_in_prose", "blockquote_one_line",
                                  "json_in_a_sentence",
                                  "json_example_then_text", *wt.FENCES,
                                  "indented_code_block", "html_pre"])
def test_markup_mentioned_in_the_answer_stays_text_whole_and_streamed(client, web, name):
    text = wt.NOT_CALLS[name]
    web.account("webtok", text=lambda prompt: wt.split_at(text, len(text) // 2)(prompt))
    whole = chat(client, messages=ASK, tools=wt.TOOLS).json["choices"][0]
    assert (whole["message"]["content"], whole["finish_reason"]) == (text, "stop")
    assert "tool_calls" not in whole["message"]
    assert assembled(chat(client, messages=ASK, tools=wt.TOOLS, stream=True)) == ([], text, "stop")
