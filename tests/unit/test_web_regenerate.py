"""A history sent again ("regenerate") after the web chat refuses to continue its last answer a second time."""

from __future__ import annotations

import logging

from services.prompt import flatten
from tests.unit.test_web_app import HI, chat
from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)


def answered_history(client, web) -> tuple[dict, list[dict]]:
    """A first answer, and the history that continues it with a new user turn (on an account whose web chat
    continues a message only once)."""
    web.account("webtok", parent_once=True)
    first = chat(client, messages=HI).json
    return first, HI + [{"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                        {"role": "user", "content": "tell me more"}]


def test_the_same_history_twice_is_answered_twice(client, web, caplog):
    first, history = answered_history(client, web)
    with caplog.at_level(logging.INFO, logger="freeseek"):
        replies = [chat(client, messages=history) for _ in range(2)]
    assert [r.status_code for r in replies] == [200, 200], replies[1].json
    assert replies[0].json["choices"][0]["message"]["content"] == "echo: tell me more"
    assert replies[1].json["choices"][0]["message"]["content"]
    session = first["id"].split("@")[0]
    # The first continues natively; the second, refused the same parent, starts anew with the whole history.
    assert [(c["session"] == session, c["prompt"]) for c in web.completions[1:]] == [
        (True, "tell me more"), (False, flatten(history))]
    assert replies[1].json["id"].split("@")[0] == web.completions[-1]["session"]
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "answering in a new session" in said and "tell me more" not in said and "webtok" not in said
    assert web.violations == []


def test_a_regenerate_streams_too(client, web):
    _, history = answered_history(client, web)
    assert chat(client, messages=history).status_code == 200
    response = chat(client, messages=history, stream=True)
    assert response.status_code == 200 and b"[DONE]" in response.get_data()
    assert web.completions[-1]["prompt"] == flatten(history) and b"error" not in response.get_data()


def test_a_conversation_id_continued_twice_is_a_400_naming_it(client, web):
    web.account("webtok", parent_once=True)
    first = chat(client, messages=HI).json
    again = [{"role": "user", "content": "and then?"}]
    assert chat(client, messages=again, conversation_id=first["id"]).status_code == 200
    response = chat(client, messages=again, conversation_id=first["id"])
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["param"] == "conversation_id" and first["id"] in error["message"]
    # Not the account's fault: it answers the next request at once.
    assert chat(client, messages=HI).status_code == 200
