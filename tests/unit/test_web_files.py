"""Images and files on the web chat: inline or linked, uploaded with proof of work, referenced by the answer."""

from __future__ import annotations

import base64
import threading

import pytest
from werkzeug.wrappers import Request, Response

from services.providers.deepseek_web import files, links
from tests.fakes.loopback import LoopbackServer
from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)
from tests.unit.test_web_app import chat as send


def chat(client, **kwargs):
    """A request whose whole body has arrived (a slow upload makes the gateway stream a non-stream answer)."""
    response = send(client, **kwargs)
    response.get_data()
    return response

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4 a small document"


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def data_url(data: bytes, mimetype: str = "image/png") -> str:
    return f"data:{mimetype};base64," + base64.b64encode(data).decode()


def with_parts(*parts, text: str = "What is this?") -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text}, *parts]}]


class ImageHost(LoopbackServer):
    """A web server on a loopback address that serves one image and a redirect, and counts its visitors."""

    def __init__(self, redirect_to: str = "", host: str = "127.0.0.1") -> None:
        self.hits = 0
        self.redirect_to = redirect_to
        super().__init__(host)

    def _wsgi(self, environ, start_response):
        self.hits += 1
        request = Request(environ)
        if request.path == "/redirect":
            return Response("", 302, headers={"Location": self.redirect_to})(environ, start_response)
        return Response(PNG, mimetype="image/png")(environ, start_response)


def test_an_inline_image_and_a_file_are_uploaded_and_referenced(client, web):
    file_part = {"type": "file", "file": {"filename": "notes.pdf", "file_data": data_url(PDF, "application/pdf")}}
    response = chat(client, messages=with_parts(image_part(data_url(PNG)), file_part), model="deepseek-reasoner")
    assert response.status_code == 200, response.json
    uploads = web.uploads[-2:]
    assert sorted((u["bytes"], u["content_type"]) for u in uploads) == sorted([(PNG, "image/png"),
                                                                             (PDF, "application/pdf")])
    assert {u["file_name"] for u in uploads} >= {"notes.pdf"} and {u["thinking"] for u in uploads} == {"1"}
    assert sorted(web.completions[-1]["ref_file_ids"]) == sorted(u["id"] for u in uploads)
    assert web.violations == []  # every upload carried a fresh proof of work for its own path


def test_a_base64_file_without_a_data_prefix_is_accepted(client, web):
    part = {"type": "file", "file": {"filename": "a.txt", "file_data": base64.b64encode(b"plain text").decode()}}
    assert chat(client, messages=with_parts(part)).status_code == 200
    assert web.uploads[-1]["bytes"] == b"plain text" and web.uploads[-1]["file_name"] == "a.txt"


@pytest.mark.parametrize("part, status, words", [
    (image_part("data:image/png;base64,not*base64"), 400, "malformed"),
    (image_part("ftp://example.org/a.png"), 400, "data: URL or an http(s) URL"),
    ({"type": "file", "file": {"file_id": "file-abc"}}, 400, "file_data"),
    (image_part(data_url(b"x" * 2000)), 413, "FREESEEK_WEB_MAX_FILE_BYTES"),
])
def test_bad_attachments_are_the_clients_error(make_app, web, part, status, words):
    client = make_app(FREESEEK_WEB_MAX_FILE_BYTES="1500").test_client()
    response = chat(client, messages=with_parts(part))
    assert response.status_code == status and words in response.json["error"]["message"]
    assert web.completions == []


def test_too_many_files_is_a_400(make_app, web):
    client = make_app(FREESEEK_WEB_MAX_FILES="2").test_client()
    response = chat(client, messages=with_parts(*[image_part(data_url(PNG))] * 3))
    assert response.status_code == 400 and "FREESEEK_WEB_MAX_FILES" in response.json["error"]["message"]


def test_a_file_the_web_chat_cannot_read_is_a_422(client, web):
    web.account("failfile", failed_upload=0)
    assert chat(client, tokens="failfile", messages=with_parts(image_part(data_url(PNG)))).status_code == 422


def test_an_upload_rate_limit_cools_the_account_and_fails_over(client, web):
    web.account("uplimit", upload_limit=0)
    assert chat(client, tokens="uplimit", messages=with_parts(image_part(data_url(PNG)))).status_code == 429
    assert chat(client, tokens="uplimit,okfiles", messages=with_parts(image_part(data_url(PNG)))).status_code == 200


def test_a_link_on_a_loopback_address_is_never_fetched(client, web):
    with ImageHost() as host:
        response = chat(client, messages=with_parts(image_part(host.root + "/cat.png")))
        assert response.status_code == 400 and "not a public address" in response.json["error"]["message"]
        response = chat(client, messages=with_parts(image_part(f"http://localhost:{host.port}/cat.png")))
        assert response.status_code == 400
        assert host.hits == 0 and web.uploads == []


def test_a_public_link_is_fetched_and_uploaded(client, web, monkeypatch):
    # Tests cannot reach a public server, so 127.0.0.1 plays one here; every other address stays private.
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    with ImageHost() as host:
        assert chat(client, messages=with_parts(image_part(host.root + "/cat.png"))).status_code == 200
    assert (web.uploads[-1]["bytes"], web.uploads[-1]["content_type"], web.uploads[-1]["file_name"]) == (
        PNG, "image/png", "cat.png")


def test_a_redirect_to_a_private_address_is_refused_at_the_connection(client, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    with ImageHost(host="127.0.0.2") as private:
        # The same machine under another loopback address stands for a private server.
        with ImageHost(redirect_to=private.root + "/secret.png") as public:
            response = chat(client, messages=with_parts(image_part(public.root + "/redirect")))
            assert response.status_code == 400 and public.hits == 1 and private.hits == 0
        monkeypatch.setattr(links, "is_public", lambda address: True)
        with ImageHost(redirect_to=private.root + "/secret.png") as public:  # the check is what refused it
            assert chat(client, messages=with_parts(image_part(public.root + "/redirect"))).status_code == 200
        assert private.hits == 1


def test_automatic_continuation_works_for_messages_with_images(client, web):
    messages = with_parts(image_part(data_url(PNG)), text="Describe it")
    first = chat(client, messages=messages).json
    uploads = len(web.uploads)
    history = messages + [{"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                          {"role": "user", "content": "Shorter, please"}]
    assert chat(client, messages=history).status_code == 200
    assert web.completions[-1]["prompt"] == "Shorter, please"
    assert web.completions[-1]["session"] == first["id"].split("@")[0]
    assert len(web.uploads) == uploads and web.completions[-1]["ref_file_ids"] == []


def test_failover_does_not_fetch_a_link_twice(client, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    web.account("deadfirst", state="dead")
    with ImageHost() as host:
        response = chat(client, tokens="deadfirst,secondok", messages=with_parts(image_part(host.root + "/a.png")))
        assert response.status_code == 200 and host.hits == 1


def test_uploads_of_one_request_run_at_the_same_time(make_app, web, monkeypatch):
    seen, both = [], threading.Barrier(2, timeout=5)
    real_call = files.WebCalls.call

    def call(self, token, method, path, *args, **kwargs):
        if path.endswith("upload_file"):
            seen.append(path)
            both.wait()  # would time out if the second upload only started after the first ended
        return real_call(self, token, method, path, *args, **kwargs)
    monkeypatch.setattr(files.WebCalls, "call", call)
    client = make_app().test_client()
    assert chat(client, messages=with_parts(image_part(data_url(PNG)), image_part(data_url(PDF)))).status_code == 200
    assert len(seen) == 2


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False), ("0.0.0.0", False),
    ("169.254.169.254", False), ("::1", False), ("::ffff:127.0.0.1", False), ("::127.0.0.1", False),
    ("64:ff9b::a9fe:a9fe", False), ("2002:a9fe:a9fe::1", False), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ("fec0::1", False), ("fe80::1%eth0", False), ("224.0.0.1", False), ("not an address", False)])
def test_only_public_addresses_count_as_public(address, public):
    assert links.is_public(address) is public


@pytest.mark.parametrize("url", ["http://[::1", "http://\u2100.com/a.png", "http://2130706433/a.png",
                                 "http://0x7f.1/a.png", "http://user@127.0.0.1:1@example.org/"])
def test_unparsable_or_disguised_local_links_are_a_400(client, web, url):
    response = chat(client, messages=with_parts(image_part(url)))
    assert response.status_code == 400 and web.uploads == []


def test_a_dripping_link_meets_its_deadline(make_app, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")

    class Drip(ImageHost):
        def _wsgi(self, environ, start_response):
            def body():
                for _ in range(100):
                    yield b"x"
                    release.wait(0.2)
            return Response(body(), mimetype="image/png", direct_passthrough=True)(environ, start_response)
    release = threading.Event()
    client = make_app(FREESEEK_WEB_FETCH_TIMEOUT="1").test_client()
    with Drip() as host:
        response = chat(client, messages=with_parts(image_part(host.root + "/slow.png")))
        release.set()
    assert response.status_code == 400 and "FREESEEK_WEB_FETCH_TIMEOUT" in response.json["error"]["message"]


@pytest.mark.parametrize("url", ["data:image/png;BASE64," + base64.b64encode(PNG).decode(),
                                 "data:image/png;base64," + base64.encodebytes(PNG).decode()])
def test_data_urls_in_any_case_and_with_line_breaks(client, web, url):
    assert chat(client, messages=with_parts(image_part(url))).status_code == 200
    assert web.uploads[-1]["bytes"] == PNG


def test_uploads_stop_polling_once_the_attempt_has_failed():
    cancel, polls = threading.Event(), []

    class Calls:
        def with_pow(self, token, path, send):
            return {"id": "file-1"}

        def call(self, token, method, path, **kwargs):
            polls.append(path)
            cancel.set()  # the attempt fails elsewhere while this upload waits for the file
            return {"files": [{"id": "file-1", "status": "PENDING"}]}
    files.upload_all(Calls(), None, [files.Attachment("a.png", "image/png", PNG)], False, 60, cancel)
    assert polls == ["/api/v0/file/fetch_files"]
