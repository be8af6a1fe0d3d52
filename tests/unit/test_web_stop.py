"""`stop` sequences on the web chat, which has none: the text is cut before the first one, the upstream is
stopped, and the finish says so (OpenAI "stop", Anthropic "stop_sequence" with the sequence met)."""

from __future__ import annotations

import json

import anthropic
import httpx
import httpx2
import openai
import pytest

from services.providers.deepseek_web import answer as web_answer
from services.tools.stops import StopCutter
from tests.fakes import web_tools as wt

PIECES = ["The answer is 4", "2.\n\nUs", "er: and now", " more"] + ["tick "] * 200


@pytest.fixture
def app(make_app):
    return make_app()


def test_the_openai_sdk_gets_the_text_cut_before_the_stop_sequence_whole_and_streamed(app, web):
    web.account("webtok", text=PIECES, pace=0.01)
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="webtok", http_client=http, max_retries=0)
    ask = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "6 x 7?"}], "stop": ["\n\nUser:", "zz"]}
    choice = client.chat.completions.create(**ask).choices[0]
    assert (choice.message.content, choice.finish_reason) == ("The answer is 42.", "stop")
    assert web.stopped.wait(5)   # the web chat was told to stop generating
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The answer is 42."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    http.close()


def test_the_next_answer_on_the_account_waits_until_the_stopped_one_has_ended(app, web, monkeypatch):
    # The live service goes on generating until stop_stream; an answer started before that is refused
    # ("a reply is already being generated"). The fake's stop_stream takes 3 s unless a completion comes first.
    monkeypatch.setattr(web_answer, "STOP_WAIT_SECONDS", 60)
    web.account("webtok", text=PIECES, pace=0.01, keeps_generating=True, stop_hold=3)
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="webtok", http_client=http, max_retries=0)
    ask = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "6 x 7?"}], "stop": ["\n\nUser:"]}
    answers = [client.chat.completions.create(**ask).choices[0].message.content for _ in range(2)]
    assert answers == ["The answer is 42."] * 2
    assert "second concurrent answer on one account" not in web.violations
    assert len(web.stops) == 2
    http.close()


def test_the_anthropic_sdk_gets_stop_reason_stop_sequence_and_the_sequence(app, web):
    web.account("webtok", text=PIECES, pace=0.01)
    http = httpx2.Client(transport=httpx2.WSGITransport(app=app))
    client = anthropic.Anthropic(base_url="http://gateway", api_key="webtok", http_client=http, max_retries=0)
    ask = {"model": "claude-sonnet-4-6", "max_tokens": 256, "stop_sequences": ["\n\nUser:"],
           "messages": [{"role": "user", "content": "6 x 7?"}]}
    message = client.messages.create(**ask)
    assert (message.content[0].text, message.stop_reason, message.stop_sequence) == (
        "The answer is 42.", "stop_sequence", "\n\nUser:")
    with client.messages.stream(**ask) as stream:
        final = stream.get_final_message()
    assert (final.content[0].text, final.stop_reason, final.stop_sequence) == (
        "The answer is 42.", "stop_sequence", "\n\nUser:")
    http.close()


def test_without_a_sequence_met_the_answer_is_whole_and_ends_as_usual(app, web):
    web.account("webtok", text=["Hello ", "wor", "ld"])
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="webtok", http_client=http, max_retries=0)
    choice = client.chat.completions.create(model="deepseek-chat", messages=[{"role": "user", "content": "hi"}],
                                            stop="world!").choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Hello world", "stop")
    http.close()


WRITE = [{"type": "function", "function": {"name": "write", "parameters": {
    "type": "object", "properties": {"content": {"type": "string"}}}}}]
NOTE = "# Title\n\nBody END here"


@pytest.mark.parametrize("stop", ["\n\n", "END", "</parameter>"])
def test_a_stop_sequence_inside_a_tool_call_block_leaves_the_call_whole(app, web, stop):
    # Stop sequences apply to the answer's text: an argument holding one is no reason to lose the call.
    text = ('Writing the file.\n<tool_calls>\n<invoke name="write">\n<parameter name="content"><![CDATA['
            + NOTE + "]]></parameter>\n</invoke>\n</tool_calls>")
    web.account("webtok", text=[text[i:i + 7] for i in range(0, len(text), 7)])
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="webtok", http_client=http, max_retries=0)
    ask = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}], "tools": WRITE, "stop": [stop]}
    choice = client.chat.completions.create(**ask).choices[0]
    assert (choice.finish_reason, choice.message.content) == ("tool_calls", "Writing the file.")
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"content": NOTE}
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Writing the file."
    assert "".join(c.choices[0].delta.tool_calls[0].function.arguments or "" for c in chunks
                   if c.choices and c.choices[0].delta.tool_calls) == json.dumps({"content": NOTE})
    http.close()


def test_a_stop_sequence_in_the_text_before_a_block_ends_the_answer_there(app, web):
    text = wt.call_answer("tool_calls")
    web.account("webtok", text=wt.split_at(text, 5))
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="webtok", http_client=http, max_retries=0)
    choice = client.chat.completions.create(model="deepseek-chat", messages=[{"role": "user", "content": "hi"}],
                                            tools=wt.TOOLS, stop=["look"]).choices[0]
    assert (choice.finish_reason, choice.message.content, choice.message.tool_calls) == ("stop", "Let me ", None)
    assert web.stopped.wait(5)
    http.close()


@pytest.mark.parametrize("pieces", [["abcSTOPdef"], ["abcST", "OPdef"], ["abcS", "T", "O", "Pdef"], ["abc", "STOP"]])
def test_a_sequence_split_across_pieces_is_met(pieces):
    cutter = StopCutter(["STOP", "xyz"])
    sent = "".join(cutter.feed(p) for p in pieces if cutter.met is None)
    assert (sent, cutter.met) == ("abc", "STOP")


def test_text_that_only_starts_like_a_sequence_goes_on():
    cutter = StopCutter(["STOP"])
    assert cutter.feed("a ST") == "a " and cutter.feed("ep") == "STep" and cutter.flush() == ""
