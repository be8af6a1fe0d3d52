"""A newcomer's edges under gunicorn + gevent: an oversized header, a base URL ending in /v1, UTF-8 in a token."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import anthropic

from tests.e2e.conftest import closed_later

# 10,000 web-token-sized entries: about 640 KB in one Authorization header, five times gunicorn's field limit.
TEN_THOUSAND = ",".join(f"tok{i:060d}" for i in range(10000))


def test_a_header_far_over_the_limit_with_a_big_body_gets_a_readable_431(gateway):
    # urllib sends the whole request before it reads: when gunicorn closed with the body unread, the kernel
    # reset the connection and urllib saw "Connection reset by peer" instead of the answer.
    body = json.dumps({"model": "deepseek-chat", "messages": [{"role": "user", "content": "a" * 4_000_000}]})
    request = urllib.request.Request(gateway.url + "/v1/chat/completions", data=body.encode(), headers={
        "Authorization": "Bearer " + TEN_THOUSAND, "Content-Type": "application/json"})
    for _ in range(3):
        try:
            urllib.request.urlopen(request, timeout=60)
            raise AssertionError("an oversized header was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 431
            assert b"Request Header Fields Too Large" in error.read()


def raw_request(gateway, head: bytes, timeout: float = 30) -> bytes:
    """Send bytes as they are on one connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as sock:
        sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_the_close_after_a_431_is_bounded_when_the_client_sends_nothing_more(gateway):
    # The client announces a body it never sends: the lingering read ends on its own and the connection closes.
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEN_THOUSAND}\r\n"
            "Content-Length: 1000000\r\n\r\n").encode()
    assert raw_request(gateway, head, timeout=60).startswith(b"HTTP/1.1 431 ")


def test_a_utf8_character_in_a_token_is_named_as_the_client_typed_it(gateway, web):
    body = json.dumps({"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer abc\xc3\xb6def\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    answer = raw_request(gateway, head)
    assert answer.startswith(b"HTTP/1.1 400 ")
    message = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"]
    assert "'\u00f6' (U+00F6)" in message and "abc" not in message


def test_the_anthropic_sdk_with_a_base_url_ending_in_v1_is_answered(gateway, fake):
    client = closed_later(anthropic.Anthropic(base_url=gateway.url + "/v1", api_key="sk-base-v1", max_retries=0,
                                              timeout=60))
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                                     messages=[{"role": "user", "content": "hello"}])
    assert message.content[0].text == "echo: hello"
    assert client.messages.count_tokens(model="claude-sonnet-4-6",
                                        messages=[{"role": "user", "content": "hello"}]).input_tokens > 0
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100,
                                messages=[{"role": "user", "content": "again"}]) as stream:
        assert stream.get_final_text() == "echo: again"
