"""A HAR 1.2 file recorded by Chromium while a page talks to the fake web chat replays to the same answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Response

from services.credentials import Token
from services.providers.deepseek_web import capture
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.calls import WebCalls
from services.providers.deepseek_web.capture import placeholder
from services.providers.deepseek_web.replay import replay
from services.providers.registry import Registry
from services.settings import Settings
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, _missing
from tests.fakes.deepseek_web import FakeWebChat

if _missing():
    pytest.skip(_missing(), allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "har-page-token"
# A session's page, as small as the web client's is large: it asks for an answer, and continues it while cut.
PAGE = """<!doctype html><meta charset="utf-8"><title>chat</title><script>
async function call(path, body, extra) {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body), headers: {
    "Authorization": "Bearer %(token)s", "X-Client-Platform": "web", "X-Client-Version": "2.5.0",
    "Content-Type": "application/json", ...extra}});
  return await response.text();
}
async function chat(session, pow, prompt) {
  let text = await call("/api/v0/chat/completion", {chat_session_id: session, parent_message_id: null,
    model_type: "default", prompt, ref_file_ids: [], thinking_enabled: true, search_enabled: false, action: null,
    preempt: false, source: "input"}, {"X-Ds-Pow-Response": pow});
  const id = Number(/"response_message_id": (\\d+)/.exec(text)[1]);
  let streams = 1;
  while (/"v": "INCOMPLETE"/.test(text) && streams < 4) {
    text = await call("/api/v0/chat/continue", {chat_session_id: session, message_id: id, fallback_to_resume: true}, {});
    streams += 1;
  }
  return streams;
}
</script><p>chat</p>"""


class PageWebChat(FakeWebChat):
    """The fake web chat, also serving a session's page (so the page's calls are same-origin, as on the site)."""

    def _route(self, request, token, body):
        if request.method == "GET" and request.path.startswith(p.SESSION_PAGE):
            return Response(PAGE % {"token": TOKEN}, mimetype="text/html")
        return super()._route(request, token, body)


def test_a_har_recorded_by_chromium_replays_to_the_answer_the_page_received(tmp_path):
    har = tmp_path / "chat.har"
    with PageWebChat() as web:
        web.account(TOKEN, cuts=2, text=["The answer ", "the page ", "was given."])
        registry = Registry.load("", {"deepseek-web": {"base_url": web.url}})
        calls = WebCalls(registry.get("deepseek-web"), requests.Session(), Settings())
        token = Token("deepseek-web", TOKEN)
        session = calls.call(token, "POST", p.CREATE_SESSION, {})["id"]
        pow_header = calls.pow_header(token, p.COMPLETION)
        with sync_playwright() as playwright:
            executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            context = browser.new_context(record_har_path=str(har))
            page = context.new_page()
            page.goto(web.url + p.SESSION_PAGE + session)
            streams = page.evaluate("([s, h]) => chat(s, h, 'hello')", [session, pow_header])
            context.close()  # writes the HAR
            browser.close()
        assert streams == 3 and len(web.continues) == 2

    log = json.loads(har.read_text())["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "Playwright"
    [kept] = replay(capture.load(har, keep_text=True))
    assert (kept.answer, kept.reasoning, kept.finish, kept.streams) == (
        "The answer the page was given.", "Let me think.", "stop", 3)
    assert kept.unknown == []
    [redacted] = replay(capture.load(har))
    assert redacted.answer == placeholder(kept.answer) and redacted.finish == "stop"

    saved = tmp_path / "from-har.json"
    result = subprocess.run([sys.executable, "bin/replay-web", str(har), "--save", str(saved)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finish:     stop" in result.stdout and "unknown shapes: none" in result.stdout
    assert "The answer" not in result.stdout and TOKEN not in saved.read_text() and session not in saved.read_text()
    assert "The answer" not in saved.read_text()
    [again] = replay(capture.load(saved))
    assert again.answer == redacted.answer
