"""The page's "web chat drift" panel in a real headless Chromium, against gunicorn and a changed fake web chat."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.e2e.conftest import openai_client
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, _missing

if _missing():
    pytest.skip(_missing(), allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def executable() -> str | None:
    """The chromium binary to launch."""
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


def test_the_drift_panel_shows_what_the_web_chat_sent_that_is_unknown(start_gateway, web):
    gateway = start_gateway()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(gateway.url + "/")
        expect(page.locator("#drift-status")).to_contain_text("Nothing unknown")

        web.account("drift-page-token", drift={"rename": {"update_session": "session_updated"},
                                               "events": ['data: {"p": "response/fragments/2/likes", "v": 3}\n\n']})
        answer = openai_client(gateway, "drift-page-token").chat.completions.create(
            model="deepseek-chat", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "echo: hi"  # the answer is unharmed

        page.click("#drift-button")
        rows = page.locator("#drift-table tbody tr")
        expect(rows.filter(has_text="session_updated")).to_contain_text("event")
        expect(rows.filter(has_text="session_updated").locator("td").nth(2)).to_have_text("2")
        expect(rows.filter(has_text="response/fragments/*/likes")).to_contain_text("path")
        expect(page.locator("#drift-status")).to_contain_text("may have changed")
        browser.close()
    assert errors == []
