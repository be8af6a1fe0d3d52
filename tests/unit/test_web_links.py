"""Linked images are fetched side by side, within one deadline, before any web account is leased."""

from __future__ import annotations

import threading

import pytest

from werkzeug.wrappers import Response

from services.providers.deepseek_web import links
from tests.fakes.loopback import LoopbackServer
from tests.unit.test_web_app import chat
from tests.unit.test_web_files import PNG, image_part, with_parts
from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)


class HeldImages(LoopbackServer):
    """An image host that holds every response until `release` is set; `all_waiting` is set once `expected`
    requests are held at the same time."""

    def __init__(self, expected: int) -> None:
        self.expected, self.waiting = expected, 0
        self.release, self.all_waiting = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        super().__init__()

    def _wsgi(self, environ, start_response):
        with self._lock:
            self.waiting += 1
            if self.waiting >= self.expected:
                self.all_waiting.set()
        self.release.wait(60)
        return Response(PNG, mimetype="image/png")(environ, start_response)


def three_links(host: HeldImages) -> list[dict]:
    return with_parts(*(image_part(f"{host.root}/slow-{i}.png") for i in range(3)))


def test_slow_links_load_together_while_the_account_answers_others(make_app, web, monkeypatch):
    # Tests cannot reach a public server, so 127.0.0.1 plays one here; every other address stays private.
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    client = make_app(FREESEEK_WEB_FETCH_TIMEOUT="60").test_client()
    done: list = []
    with HeldImages(expected=3) as host:
        try:
            first = threading.Thread(target=lambda: done.append(chat(client, tokens="webtok",
                                                                     messages=three_links(host))))
            first.start()
            # All three links are asked for at once (one after another, the second would wait for the first).
            assert host.all_waiting.wait(10), f"only {host.waiting} of 3 links were being fetched at once"
            # The request's only account is not leased while its links load: another request is answered now.
            other = chat(client, tokens="webtok")
            assert other.status_code == 200, other.json
            assert [c["prompt"] for c in web.completions] == ["hi there"] and web.uploads == []
        finally:
            host.release.set()
        first.join(30)
    assert done[0].status_code == 200, done[0].json
    assert [u["bytes"] for u in web.uploads] == [PNG] * 3
    assert sorted(u["file_name"] for u in web.uploads) == ["slow-0.png", "slow-1.png", "slow-2.png"]
    assert web.violations == []


def test_links_slower_than_the_deadline_are_a_400_before_the_account_is_touched(make_app, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    client = make_app(FREESEEK_WEB_FETCH_TIMEOUT="1").test_client()
    with HeldImages(expected=3) as host:
        try:
            response = chat(client, tokens="webtok", messages=three_links(host))
            waiting = host.waiting
        finally:
            host.release.set()
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "FREESEEK_WEB_FETCH_TIMEOUT" in message and "one deadline for all the links" in message
    assert waiting == 3  # the three were fetched side by side under the one deadline
    assert web.requests == []  # no session, no challenge, no upload: the account was never used


def test_a_slow_link_in_an_anthropic_request_is_anthropics_400(make_app, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    client = make_app(FREESEEK_WEB_FETCH_TIMEOUT="1").test_client()
    with HeldImages(expected=1) as host:
        try:
            block = {"type": "image", "source": {"type": "url", "url": host.root + "/slow.png"}}
            response = client.post("/v1/messages", headers={"x-api-key": "webtok"}, json={
                "model": "claude-haiku-4-5", "max_tokens": 50,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, block]}]})
        finally:
            host.release.set()
    assert response.status_code == 400
    assert response.json["type"] == "error" and response.json["error"]["type"] == "invalid_request_error"
    assert "FREESEEK_WEB_FETCH_TIMEOUT" in response.json["error"]["message"] and web.requests == []


class TypedImage(LoopbackServer):
    """Serves PNG bytes under whatever Content-Type it is given."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        super().__init__()

    def _wsgi(self, environ, start_response):
        return Response(PNG, headers={"Content-Type": self.content_type})(environ, start_response)


@pytest.mark.parametrize("content_type, status, sent", [
    ("image/png; charset=binary", 200, "image/png"), ("IMAGE/JPEG", 200, "image/jpeg"),
    ("video/mp4", 400, None), ("image/png, text/html", 400, None)])
def test_a_linked_files_content_type_is_checked_like_an_inline_one(client, web, monkeypatch, content_type, status,
                                                                   sent):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    with TypedImage(content_type) as host:
        response = chat(client, messages=with_parts(image_part(host.root + "/picture")))
    assert response.status_code == status, response.json
    if sent:
        assert web.uploads[-1]["content_type"] == sent and web.uploads[-1]["file_name"].startswith("picture.")
    else:
        assert "Content-Type" in response.json["error"]["message"] and web.uploads == []
