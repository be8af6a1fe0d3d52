"""Media types of inline images and files: only well-formed ones the web chat reads reach an upload's headers."""

from __future__ import annotations

import base64

import pytest

from services.media_types import essence, is_media_type
from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
DATA = base64.b64encode(PNG).decode()
INJECTED = "image/png\r\nX-Injected: yes"


def openai_chat(client, media_type: str):
    part = {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{DATA}"}}
    return client.post("/v1/chat/completions", headers={"Authorization": "Bearer webtok"}, json={
        "model": "deepseek-chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, part]}]})


def anthropic_image(client, media_type: str):
    block = {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": DATA}}
    return client.post("/v1/messages", headers={"x-api-key": "webtok"}, json={
        "model": "claude-haiku-4-5", "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, block]}]})


def anthropic_document(client, media_type: str):
    block = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": DATA}}
    return client.post("/v1/messages", headers={"x-api-key": "webtok"}, json={
        "model": "claude-haiku-4-5", "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, block]}]})


def responses_image(client, media_type: str):
    part = {"type": "input_image", "image_url": f"data:{media_type};base64,{DATA}"}
    return client.post("/v1/responses", headers={"Authorization": "Bearer webtok"}, json={
        "model": "deepseek-chat", "input": [{"role": "user", "content": [{"type": "input_text", "text": "what?"},
                                                                          part]}]})


def responses_file(client, media_type: str):
    part = {"type": "input_file", "filename": "notes", "file_data": f"data:{media_type};base64,{DATA}"}
    return client.post("/v1/responses", headers={"Authorization": "Bearer webtok"}, json={
        "model": "deepseek-chat", "input": [{"role": "user", "content": [part]}]})


SENDERS = [openai_chat, anthropic_image, anthropic_document, responses_image, responses_file]


def error_message(response) -> str:
    """The error's message in whichever dialect answered (OpenAI's and Anthropic's shapes alike)."""
    body = response.get_json()
    return body["error"]["message"]


@pytest.mark.parametrize("send", SENDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("media_type", [INJECTED, "image/png\nX-Injected: yes", "image/png\r\n",
                                        "image/png;x=\"a\r\nb\"", "image/png\"; name=\"evil", "image /png",
                                        "image/pn g", "image"])
def test_a_malformed_media_type_is_a_400_and_never_reaches_the_web_chat(client, web, send, media_type):
    response = send(client, media_type)
    response.get_data()
    assert response.status_code == 400, response.get_data()
    assert "media type" in error_message(response) or "media_type" in error_message(response)
    if send in (anthropic_image, anthropic_document):
        assert response.get_json()["type"] == "error"
        assert response.get_json()["error"]["type"] == "invalid_request_error"
    assert web.uploads == [] and web.completions == [] and web.violations == []


@pytest.mark.parametrize("send", SENDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("media_type", ["video/mp4", "audio/mpeg", "image/svg+xml", "multipart/mixed",
                                        "message/rfc822"])
def test_a_type_the_web_chat_does_not_read_is_a_400_naming_what_it_reads(client, web, send, media_type):
    response = send(client, media_type)
    response.get_data()
    assert response.status_code == 400 and media_type in error_message(response)
    assert "image/png" in error_message(response) and web.uploads == []


@pytest.mark.parametrize("send, media_type, sent", [
    (openai_chat, "IMAGE/PNG", "image/png"),
    (openai_chat, "image/jpeg;name=cat", "image/jpeg"),
    (anthropic_image, "image/webp", "image/webp"),
    (anthropic_document, "text/plain; charset=\"utf-8\"", "text/plain"),
    (responses_file, "application/pdf", "application/pdf"),
    (responses_file, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_a_good_media_type_is_uploaded_as_its_bare_type(client, web, send, media_type, sent):
    response = send(client, media_type)
    response.get_data()
    assert response.status_code == 200, response.get_data()
    upload = web.uploads[-1]
    assert upload["content_type"] == sent and upload["bytes"] == PNG
    assert set(upload["part_headers"]) == {"Content-Disposition", "Content-Type"}
    assert "\r" not in upload["file_name"] and "\n" not in upload["file_name"] and web.violations == []


def test_a_file_name_with_line_breaks_stays_one_header(client, web):
    part = {"type": "file", "file": {"filename": "a\r\nX-Injected: yes.txt",
                                     "file_data": f"data:text/plain;base64,{DATA}"}}
    response = client.post("/v1/chat/completions", headers={"Authorization": "Bearer webtok"}, json={
        "model": "deepseek-chat", "messages": [{"role": "user", "content": [part]}]})
    assert response.status_code == 200
    assert set(web.uploads[-1]["part_headers"]) == {"Content-Disposition", "Content-Type"}
    assert web.uploads[-1]["file_name"] == "aX-Injected: yes.txt" and web.violations == []


@pytest.mark.parametrize("value, kind", [("image/png", "image/png"), ("Text/Plain; Charset=UTF-8", "text/plain"),
                                         ("application/ld+json;a=b;c=\"d e\"", "application/ld+json"),
                                         ("image/jpeg;", "image/jpeg"), ("image/gif ; ;a=b", "image/gif")])
def test_the_essence_of_a_media_type(value, kind):
    assert essence(value) == kind and is_media_type(value)


@pytest.mark.parametrize("value", ["", "image", "image/", "/png", "image/png;a", "image/png;a=b c",
                                   "image/png\r\n", "imäge/png", "image/png;a=\"\r\n\"", None, 5])
def test_what_is_not_a_media_type(value):
    assert not is_media_type(value)
