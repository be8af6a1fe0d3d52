"""Cut answers (INCOMPLETE) continued with chat/continue into one answer, and the stream parser split anywhere."""

from __future__ import annotations

import pytest

from services.events import Text
from services.providers.deepseek_web.stream import WebStreamParser
from services.sse import read_events
from tests.fakes.web_account import Account
from tests.fakes.web_streams import stream_bytes
from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)
from tests.unit.test_web_app import chat, stream_text

STORY = ["Once upon a time ", "there was a gateway ", "that never repeated ", "itself and never ", "lost a word."]
WHOLE = "".join(STORY)


def answer(client, tokens: str, stream: bool, model: str = "deepseek-chat") -> tuple[str, str, str]:
    """(reasoning, content, finish_reason) of one request."""
    response = chat(client, tokens=tokens, stream=stream, model=model)
    assert response.status_code == 200, response.data
    if stream:
        reasoning, content, events = stream_text(response)
        return reasoning, content, events[-2]["choices"][0]["finish_reason"]
    choice = response.json["choices"][0]
    return choice["message"].get("reasoning_content", ""), choice["message"]["content"], choice["finish_reason"]


@pytest.mark.parametrize("fmt", ["patch", "fragments", "current"])
@pytest.mark.parametrize("cuts", [1, 2, 3])
@pytest.mark.parametrize("stream", [False, True])
def test_a_cut_answer_is_continued_into_one_answer_with_no_repeat_and_no_gap(make_app, web, fmt, cuts, stream):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    web.account("cuttok", format=fmt, text=STORY, cuts=cuts)
    reasoning, content, finish = answer(client, "cuttok", stream, model="deepseek-reasoner")
    assert (reasoning, content, finish) == ("Let me think.", WHOLE, "stop")
    assert len(web.continues) == cuts and web.violations == []


def test_cuts_inside_words_and_at_piece_edges(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    for cut_at in ([1], [17], [18, 19], [5, 40, 41], [len(WHOLE) - 1]):
        web.account("edgetok", format="current", text=STORY, cut_at=cut_at)
        assert answer(client, "edgetok", True)[1:] == (WHOLE, "stop"), cut_at


def test_an_answer_still_cut_after_the_last_round_ends_with_length(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01", FREESEEK_WEB_CONTINUE_ROUNDS="1").test_client()
    web.account("longcut", format="current", text=STORY, cut_at=[10, 30])
    assert answer(client, "longcut", False)[1:] == (WHOLE[:30], "length")
    assert len(web.continues) == 1


def test_continuation_can_be_turned_off(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_ROUNDS="0").test_client()
    web.account("offcut", format="current", text=STORY, cut_at=[10])
    assert answer(client, "offcut", True)[1:] == (WHOLE[:10], "length") and web.continues == []


def test_a_continue_that_ends_without_a_status_is_tried_again(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    web.account("flaky", format="current", text=STORY, cut_at=[20], continue_fails=1)
    assert answer(client, "flaky", True)[1:] == (WHOLE, "stop") and len(web.continues) == 2


def test_a_continue_that_asks_for_proof_of_work_gets_one(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    web.account("powcut", format="current", text=STORY, cut_at=[20], continue_pow=True)
    assert answer(client, "powcut", False)[1:] == (WHOLE, "stop") and web.violations == []


def test_a_continue_about_a_new_message_repeats_rather_than_leaves_a_gap(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    web.account("newmsg", format="current", text=STORY, cut_at=[20], continue_new_message=True)
    content = answer(client, "newmsg", False)[1]
    assert content.startswith(WHOLE[:20]) and content.endswith(WHOLE[20:]) and len(content) >= len(WHOLE)


def test_a_continued_answer_is_remembered_for_automatic_continuation(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="0.01").test_client()
    web.account("memtok", format="current", text=STORY, cut_at=[20])
    first = chat(client, tokens="memtok").json
    web.account("memtok", format="current")
    history = [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": WHOLE},
               {"role": "user", "content": "and then?"}]
    chat(client, tokens="memtok", messages=history)
    assert web.completions[-1]["prompt"] == "and then?"
    assert web.completions[-1]["session"] == first["id"].split("@")[0]


def parse_whole(data: bytes, split: int, resume: WebStreamParser | None = None) -> tuple[WebStreamParser, str, str]:
    parser = WebStreamParser(resume=resume)
    chunks = [data[i:i + split] for i in range(0, len(data), split)] if split else [data]
    texts = [e for sse in read_events(chunks) for e in parser.feed(sse) if isinstance(e, Text)]
    return parser, "".join(t.reasoning for t in texts), "".join(t.content for t in texts)


FORMATS = [Account(format="patch"), Account(format="fragments"), Account(format="legacy"),
           Account(format="current"), Account(format="current", think_type="REASONING", value_shape="text"),
           Account(format="current", batches=True, set_fragments=True),
           Account(format="current", search_key="references", citation="reference")]


@pytest.mark.parametrize("account", FORMATS, ids=lambda a: f"{a.format}-{a.think_type}-{a.value_shape}")
def test_the_parser_gives_the_same_answer_whatever_the_byte_split(account):
    data = stream_bytes(account, "Hé, 你好 there", 2, True, True)
    expected = parse_whole(data, 0)
    assert expected[1:] != ("", "") and expected[0].finish == "stop"
    for split in range(1, len(data) + 1, 1 if len(data) < 3000 else 3):
        parser, reasoning, content = parse_whole(data, split)
        assert (reasoning, content, parser.finish, parser.search_results) == (
            expected[1], expected[2], "stop", expected[0].search_results), split


def test_cut_and_continue_streams_split_at_every_byte_splice_exactly():
    account = Account(format="current", text=STORY, cut_at=[23])
    cut_bytes = stream_bytes(account, "x", 2, True, False, round=0)
    resumed_bytes = stream_bytes(account, "x", 2, True, False, round=1)
    for split in range(1, max(len(cut_bytes), len(resumed_bytes)) + 1, 2):
        cut, reasoning, first = parse_whole(cut_bytes, split)
        assert cut.finish == "length"
        resumed, more_reasoning, rest = parse_whole(resumed_bytes, split, resume=cut)
        assert (reasoning + more_reasoning, first + rest, resumed.finish) == ("Let me think.", WHOLE, "stop"), split


def test_a_client_leaving_during_a_pause_before_continuing_stops_at_once(make_app, web):
    client = make_app(FREESEEK_WEB_CONTINUE_PAUSE="30").test_client()
    web.account("leaver", format="current", text=STORY, cut_at=[10])
    response = chat(client, tokens="leaver", stream=True)
    chunks = iter(response.response)
    text = b""
    while b"Once upon" not in text:
        text += next(chunks)
    response.close()  # the client leaves while the gateway waits to continue
    web.account("leaver", format="current")
    # The account is free again at once (one answer at a time; the queue gives up after 3 s), not in 30 s.
    assert chat(client, tokens="leaver").status_code == 200
    assert web.continues == []
